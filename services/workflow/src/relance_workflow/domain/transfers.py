"""Pure rules of the transfer workflow (F-28 … F-30): no I/O, no clock of their own.

The 24-hour boundary is decided here and only here, from the workflow's own clock
(`workflow.now()`) in the same history as the window timer, so a cancellation and the
placement can never both happen (F-30)."""

from datetime import datetime, timedelta
from typing import NamedTuple

from relance.contracts import Refusal
from relance.contracts.transfer import CancellationMode, TransferState


def window_ends_at(created_at: datetime, window: timedelta) -> datetime:
    return created_at + window


def cancellation_mode(now: datetime, window_end: datetime) -> CancellationMode:
    """F-28/F-30: strictly before the window end a cancellation is immediate; from the
    window end on (window end included) it is a request to the agency."""
    return CancellationMode.IMMEDIATE if now < window_end else CancellationMode.REQUEST


class CancelRefusal(NamedTuple):
    kind: Refusal  # the ApplicationError type the caller maps to its answer
    reason: str


def cancellation_refusal(state: TransferState, comment: str | None) -> CancelRefusal | None:
    """Why a cancel command must be refused in this state, or None if it may go ahead."""
    if comment is None or not comment.strip():
        return CancelRefusal(Refusal.COMMENT_REQUIRED, "a comment is required to cancel a transfer")
    if state is TransferState.CLOSED:
        return CancelRefusal(Refusal.TRANSFER_CLOSED, "the transfer is already closed")
    if state is TransferState.CANCELLATION_PENDING:
        return CancelRefusal(Refusal.CANCELLATION_PENDING,
                             "a cancellation request already waits for the agency's answer")
    return None
