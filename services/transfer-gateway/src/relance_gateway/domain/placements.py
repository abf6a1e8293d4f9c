"""What an agency may say about a placement, given where it stands (F-29, F-31).

Statuses: `placed` (sent to the agency), `cancellation_requested` (F-29: waiting for the
agency), `cancelled` (the agency validated the cancellation, or the transfer closed).
Acknowledgement is tracked apart from the status: an agency may acknowledge a placement
after a cancellation request reached it."""

from dataclasses import dataclass
from typing import Any

PLACED = "placed"
CANCELLATION_REQUESTED = "cancellation_requested"
CANCELLED = "cancelled"


class TransitionRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PlacementState:
    status: str
    acknowledged: bool


def acknowledge(state: PlacementState) -> str:
    if state.status == CANCELLED:
        raise TransitionRefused("the transfer is cancelled")
    if state.acknowledged:
        raise TransitionRefused("the placement is already acknowledged")
    return state.status


def validate_cancellation(state: PlacementState) -> str:
    if state.status != CANCELLATION_REQUESTED:
        raise TransitionRefused("no cancellation request is pending for this transfer")
    return CANCELLED


def refuse_cancellation(state: PlacementState) -> str:
    if state.status != CANCELLATION_REQUESTED:
        raise TransitionRefused("no cancellation request is pending for this transfer")
    return PLACED


def record_payment(state: PlacementState) -> str:
    if state.status == CANCELLED:
        raise TransitionRefused("the transfer is cancelled: payments go to the active dossier")
    return state.status


def update_status(state: PlacementState) -> str:
    if state.status == CANCELLED:
        raise TransitionRefused("the transfer is cancelled")
    return state.status


def send_message(state: PlacementState) -> str:
    """F-41: an agency writes on a placement it holds; a cancelled one is Relance's again."""
    if state.status == CANCELLED:
        raise TransitionRefused("the transfer is cancelled: write to Relance through other means")
    return state.status


def payment_problem(items: list[dict[str, Any]], item_number: str, currency: str) -> tuple[str, str] | None:
    """(field, reason) if a payment cannot be on `item_number` of these placed items: not
    one of them, or another currency than the item's (a payment is never converted)."""
    matching = [item for item in items if item.get("number") == item_number]
    if not matching:
        return "item_number", "not an item of this placement"
    currencies = sorted({item["currency"] for item in matching if item.get("currency")})
    if currencies and currency not in currencies:
        return "currency", (f"the item {item_number} is in {' or '.join(currencies)}, not {currency};"
                            " report the payment in the item's currency")
    return None
