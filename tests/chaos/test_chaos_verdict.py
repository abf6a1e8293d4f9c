"""The chaos run's reading of a cancel whose answer was lost under faults: the transfer's
own row says what it turned out to be, and while its window is still open nothing is
decided (the run's settling decides it later, from the row)."""

from bench.chaos import _decided_as


def test_a_cancel_with_no_answer_is_undecided_while_the_window_is_open() -> None:
    assert _decided_as("in_window", None) is None


def test_a_cancel_with_no_answer_reads_as_what_the_workflow_decided() -> None:
    assert _decided_as("closed", "immediate") == "cancel"  # F-28: within the window
    assert _decided_as("cancellation_pending", None) == "request"  # F-29: after it
    assert _decided_as("closed", "request") == "request"  # the agency validated it
    assert _decided_as("placed", None) == "place"  # the cancel never reached the workflow
