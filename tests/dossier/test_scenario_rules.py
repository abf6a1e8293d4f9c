"""Pure rules of the dossier service on specific actions and scenario edits (F-9, F-14,
F-17)."""

import pytest

from relance.scenarios import ActionType, ScenarioStep


def test_f17_an_automatic_action_needs_a_sending_channel_and_a_template() -> None:
    from relance_dossier.domain.accounts import DomainError
    from relance_dossier.domain.actions import check_action

    check_action("email", "automatic", "relance-email-1", "next")
    check_action("call", "manual", None, "next")
    with pytest.raises(DomainError) as call:
        check_action("call", "automatic_to_confirm", None, "next")
    assert call.value.field == "next.mode"
    with pytest.raises(DomainError) as letter:
        check_action("letter", "manual", None, "next")
    assert letter.value.field == "next.template_code"
    # Written from scratch: its own body stands in for the template; a blank one does not.
    check_action("email", "automatic", None, "next", body="Merci de régler #items_amount_selected")
    with pytest.raises(DomainError):
        check_action("email", "automatic", None, "next", body="   ")


def test_f14_actions_sort_by_priority_collector_or_date_with_a_stable_tie_break() -> None:
    from relance_dossier.domain.actions import sort_clause

    assert sort_clause("priority", True) == "priority DESC NULLS LAST, due_at ASC, id ASC"
    assert sort_clause("collector", False).startswith("collector_code ASC")
    with pytest.raises(KeyError):
        sort_clause("1; DROP TABLE items", False)


def test_f9_scenario_steps_name_existing_templates_of_their_channel() -> None:
    from relance_dossier.domain.accounts import DomainError
    from relance_dossier.domain.scenarios import check_steps

    templates = {"mail-1": "email", "letter-1": "letter"}
    ok = [ScenarioStep(action_type=ActionType.EMAIL, delay_days=0, template_code="mail-1"),
          ScenarioStep(action_type=ActionType.CALL, delay_days=3)]
    check_steps(ok, templates)
    with pytest.raises(DomainError) as wrong:
        check_steps([ScenarioStep(action_type=ActionType.EMAIL, delay_days=0,
                                  template_code="letter-1")], templates)
    assert (wrong.value.field, wrong.value.reason) == (
        "steps.0.template_code", "template 'letter-1' is for letter, not email")
    with pytest.raises(DomainError) as missing:
        check_steps([ok[1], ScenarioStep(action_type=ActionType.SMS, delay_days=1)], templates)
    assert missing.value.field == "steps.1.template_code"


def test_f9_scenario_explicit_then_first_matching_rule_then_default() -> None:
    from relance_dossier.domain.assignment import ClientAttributes, RuleCriteria
    from relance_dossier.domain.scenarios import scenario_for

    client = ClientAttributes(country="FR", segment="PME", category=None, risk="high", tags=["btp"])
    rules = [
        (2, RuleCriteria(segment="pme"), "pme"),
        (1, RuleCriteria(risk="high", tags=["BTP"]), "risky"),
        (3, RuleCriteria(country="BE"), "belgium"),
    ]
    assert scenario_for("vip", client, rules) == "vip"
    assert scenario_for(None, client, rules) == "risky"  # position 1 wins over position 2
    assert scenario_for(None, client, rules[0:1] + rules[2:]) == "pme"
    assert scenario_for(None, client, rules[2:]) is None  # the default scenario
