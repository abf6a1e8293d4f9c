"""Pure rules on dunning scenarios and templates (F-9, F-17, F-18)."""

from collections.abc import Mapping, Sequence

from relance.scenarios import SENDING_ACTIONS, ScenarioStep
from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.assignment import ClientAttributes, RuleCriteria, rule_matches

# Template channels a step's action type may use.
TEMPLATE_CHANNEL_FOR = {"email": "email", "letter": "letter", "sms": "sms"}


def check_steps(steps: list[ScenarioStep], template_channels: Mapping[str, str],
                field: str = "steps") -> None:
    """F-9: every sending step names an existing template of its own channel; a
    template on a call or an internal task must exist too."""
    for index, step in enumerate(steps):
        where = f"{field}.{index}.template_code"
        code = step.template_code
        if step.action_type in SENDING_ACTIONS and not code:
            raise DomainError(where, f"a {step.action_type.value} step needs a template")
        if code is None:
            continue
        channel = template_channels.get(code)
        if channel is None:
            raise DomainError(where, f"no template with code {code!r}")
        expected = TEMPLATE_CHANNEL_FOR.get(step.action_type.value)
        if expected is not None and channel != expected:
            raise DomainError(
                where, f"template {code!r} is for {channel}, not {step.action_type.value}"
            )


def scenario_for(
    explicit_code: str | None,
    client: ClientAttributes,
    rules: Sequence[tuple[int, RuleCriteria, str]],
) -> str | None:
    """F-9: a client's scenario is the one given to it explicitly, else the first rule
    (by position) whose criteria match it, else None: the default scenario."""
    if explicit_code:
        return explicit_code
    for _, criteria, scenario_code in sorted(rules, key=lambda rule: rule[0]):
        if rule_matches(criteria, client):
            return scenario_code
    return None
