"""Pure rules of the transfer workflow: the exact 24-hour boundary (F-28, F-29, F-30) and
when a cancel is refused."""

from datetime import UTC, datetime, timedelta

import pytest

from relance.contracts import Refusal
from relance.contracts.transfer import CancellationMode, TransferState
from relance_workflow.domain.transfers import cancellation_mode, cancellation_refusal, window_ends_at

CREATED = datetime(2026, 11, 23, 9, 30, 12, 345678, tzinfo=UTC)
WINDOW_END = window_ends_at(CREATED, timedelta(hours=24))


def test_f28_window_ends_24_hours_after_creation_to_the_microsecond():
    assert WINDOW_END == datetime(2026, 11, 24, 9, 30, 12, 345678, tzinfo=UTC)


def test_f28_cancel_one_second_before_window_end_is_immediate():
    assert cancellation_mode(WINDOW_END - timedelta(seconds=1), WINDOW_END) is CancellationMode.IMMEDIATE
    assert cancellation_mode(WINDOW_END - timedelta(microseconds=1), WINDOW_END) is CancellationMode.IMMEDIATE


def test_f29_f30_cancel_at_window_end_exactly_is_a_request():
    assert cancellation_mode(WINDOW_END, WINDOW_END) is CancellationMode.REQUEST
    assert cancellation_mode(WINDOW_END + timedelta(seconds=1), WINDOW_END) is CancellationMode.REQUEST
    assert cancellation_mode(WINDOW_END + timedelta(days=30), WINDOW_END) is CancellationMode.REQUEST


@pytest.mark.parametrize("comment", [None, "", "   \n"])
def test_f28_f29_cancel_without_comment_is_refused_naming_the_comment(comment):
    assert cancellation_refusal(TransferState.IN_WINDOW, comment).kind is Refusal.COMMENT_REQUIRED


def test_f29_cancel_refused_when_closed_or_already_pending():
    assert cancellation_refusal(TransferState.CLOSED, "stop").kind is Refusal.TRANSFER_CLOSED
    pending = cancellation_refusal(TransferState.CANCELLATION_PENDING, "stop")
    assert pending.kind is Refusal.CANCELLATION_PENDING and "already waits" in pending.reason
    for state in (TransferState.IN_WINDOW, TransferState.PLACED, TransferState.PLACED_ACKNOWLEDGED):
        assert cancellation_refusal(state, "client paid directly") is None
