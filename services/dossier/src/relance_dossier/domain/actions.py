"""Pure rules on specific actions (F-15 .. F-17) and on the actions list (F-14)."""

from relance.scenarios import SENDING_ACTIONS, ActionType, StepMode
from relance_dossier.domain.accounts import DomainError

SENDING = {a.value for a in SENDING_ACTIONS}
# Item statuses a collector may set in step 1 of the flow (F-2, F-15).
ITEM_STATUSES = ("dispute", "promise", "litigation", "claim", "on_hold")
# How the actions list may be sorted (F-14): column per key.
SORT_KEYS = {"priority": "priority", "collector": "collector_code", "date": "due_at",
             "client": "client_code"}


def check_action(
    action_type: str, mode: str, template_code: str | None, field: str, body: str | None = None
) -> None:
    """F-17: an automatic action sends something, so it needs a sending channel and a text:
    a template, or its own body written from scratch; calls and internal tasks are done
    by a person."""
    ActionType(action_type)
    StepMode(mode)
    if mode != StepMode.MANUAL and action_type not in SENDING:
        raise DomainError(f"{field}.mode",
                          f"a {action_type} is done by a person: only manual mode is possible")
    if action_type in SENDING and not template_code and not (body and body.strip()):
        raise DomainError(f"{field}.template_code",
                          f"a {action_type} action needs a template or its own body")


def sort_clause(sort: str, descending: bool) -> str:
    """ORDER BY for the actions list; unknown keys were refused by the API's Literal."""
    column = SORT_KEYS[sort]
    direction = "DESC" if descending else "ASC"
    # Ties are broken by date, then id, so pages are stable.
    return f"{column} {direction} NULLS LAST, due_at ASC, id ASC"
