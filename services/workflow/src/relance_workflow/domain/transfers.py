"""Pure rules of the transfer workflow (F-28 … F-30): no I/O, no clock of their own.

The 24-hour boundary is decided here and only here, from the workflow's own clock
(`workflow.now()`) in the same history as the window timer, so a cancellation and the
placement can never both happen (F-30)."""

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class TransferState(StrEnum):
    IN_WINDOW = "in_window"  # created, the agency knows nothing yet
    PLACED = "placed"  # the window ended: the placement went to the agency
    PLACED_ACKNOWLEDGED = "placed_acknowledged"
    CANCELLATION_PENDING = "cancellation_pending"  # F-29: waiting for the agency's answer
    CLOSED = "closed"  # cancelled (immediately or validated by the agency)


class CancellationMode(StrEnum):
    IMMEDIATE = "immediate"  # F-28
    REQUEST = "request"  # F-29


def window_ends_at(created_at: datetime, window: timedelta) -> datetime:
    return created_at + window


def cancellation_mode(now: datetime, window_end: datetime) -> CancellationMode:
    """F-28/F-30: strictly before the window end a cancellation is immediate; from the
    window end on (window end included) it is a request to the agency."""
    return CancellationMode.IMMEDIATE if now < window_end else CancellationMode.REQUEST


def cancellation_refusal(state: TransferState, comment: str | None) -> str | None:
    """Why a cancel command must be refused in this state, or None if it may go ahead."""
    if comment is None or not comment.strip():
        return "comment: a comment is required to cancel a transfer"
    if state is TransferState.CLOSED:
        return "state: the transfer is already closed"
    if state is TransferState.CANCELLATION_PENDING:
        return "state: a cancellation request already waits for the agency's answer"
    return None


def payment_applied(open_amount: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """An agency payment lowers the item's open amount, never below zero: returns
    (amount applied, new open amount)."""
    applied = max(Decimal(0), min(open_amount, amount))
    return applied, open_amount - applied
