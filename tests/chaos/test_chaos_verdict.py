"""The chaos run's reading of a cancel whose answer was lost under faults: the transfer's
own row says what it turned out to be, but only once its workflow is done with it (the
run's settling decides, from the row)."""

from bench.chaos import _decided_as


def test_a_cancel_with_no_answer_is_undecided_while_the_window_is_open() -> None:
    assert _decided_as("in_window", None, workflow_busy=False) is None


def test_a_placed_transfer_whose_workflow_is_still_at_work_is_undecided() -> None:
    # F-29: a cancel that reached the workflow after the window end places first, then
    # requests; between the two the row reads "placed" with no cancellation yet.
    assert _decided_as("placed", None, workflow_busy=True) is None
    assert _decided_as("placed_acknowledged", None, workflow_busy=True) is None


def test_a_cancel_with_no_answer_reads_as_what_the_workflow_decided() -> None:
    assert _decided_as("closed", "immediate", workflow_busy=False) == "cancel"  # F-28
    assert _decided_as("cancellation_pending", None, workflow_busy=True) == "request"  # F-29
    assert _decided_as("closed", "request", workflow_busy=False) == "request"  # validated
    assert _decided_as("placed", None, workflow_busy=False) == "place"  # never reached it
