"""Issue 11: the outbox bench runs the deployed relay process between the outbox and a
consumer, round after round, and its delivery check is exact: every event of every round
seen once, none left unpublished, none claimed twice."""

from bench import outbox_pipeline


async def test_every_round_delivers_each_event_once_through_the_relay_process(stack) -> None:
    comparison = await outbox_pipeline.run(stack, events=400, clients=20, rounds=2)
    delivered = comparison.extra["correctness"]
    assert delivered["expected"] == 800
    assert delivered["distinct"] == 800 and delivered["duplicates"] == 0
    assert delivered["claim_refusals"] == 0 and delivered["unpublished_after"] == 0
    assert delivered["baseline_distinct"] == 800 and delivered["baseline_duplicates"] == 0
    assert len(comparison.extra["rounds_seconds"]["pipeline"]) == 2
    assert comparison.subject.seconds > 0 and comparison.baseline.seconds > 0
    assert comparison.extra["pipeline_details"]["relay"].startswith("its own process")
