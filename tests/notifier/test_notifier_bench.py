"""The notifier benchmark runs end to end on the real database and a local SMTP sink, and
its correctness counters hold (F-32: a morning batch of emails)."""

from bench.notifier_bench import run_notifier_bench


async def test_f32_notifier_bench_measures_emails_per_second_against_bare_smtp(stack):
    result = (await run_notifier_bench(stack.database_url, emails=40)).as_dict()
    assert result["correctness"] == {
        "expected": 40, "sink_accepted": 40, "sent_trace_rows": 40, "sent_events": 40,
    }
    assert result["subject"]["count"] == result["baseline"]["count"] == 40
    assert result["subject"]["rate"] > 0 and result["baseline"]["rate"] > 0
    assert result["ratio"] > 0
