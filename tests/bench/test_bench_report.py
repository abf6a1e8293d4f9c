"""The benchmark's pure side: rates, ratios, medians, the summary and the results files.
No server is started here; `make bench` runs the measurements themselves."""

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.cli import (
    DEFAULT_EVENTS,
    DEFAULT_ROUNDS,
    DEFAULT_WORKFLOWS,
    QUICK_EVENTS,
    QUICK_ROUNDS,
    QUICK_WORKFLOWS,
    parse_args,
)
from bench.report import (
    LATEST,
    Comparison,
    Throughput,
    correctness_note,
    exactly_once,
    format_rate,
    format_ratio,
    format_summary,
    import_floor_note,
    median_throughput,
    ratio,
    results_document,
    summary_lines,
    timestamp_name,
    workflow_task_note,
    write_results,
)

MOMENT = datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)


def outbox() -> Comparison:
    return Comparison(
        name="outbox",
        subject=Throughput("outbox pipeline", 20_000, 1.6201, "events"),  # 12,345/s
        baseline=Throughput("raw aiokafka", 20_000, 0.5, "events"),  # 40,000/s
        extra={"correctness": {"expected": 20_000, "distinct": 20_000, "duplicates": 0}},
    )


def workflows() -> Comparison:
    return Comparison(
        name="workflows",
        subject=Throughput("dossier starts", 300, 1.2, "starts"),  # 250/s
        baseline=Throughput("empty workflow", 300, 300 / 290, "starts"),  # 290/s
    )


def test_rate_is_count_over_seconds() -> None:
    assert Throughput("x", 300, 1.5, "starts").rate == 200


def test_rate_of_an_instant_run_is_infinite_and_of_nothing_is_zero() -> None:
    assert Throughput("x", 10, 0.0, "events").rate == math.inf
    assert Throughput("x", 0, 0.0, "events").rate == 0.0


def test_ratio_is_subject_rate_over_baseline_rate() -> None:
    comparison = outbox()
    assert comparison.ratio == pytest.approx(12_345 / 40_000, rel=1e-3)
    assert ratio(comparison.subject, comparison.baseline) == comparison.ratio


def test_ratio_above_one_means_faster_than_the_baseline() -> None:
    fast = Throughput("a", 100, 1.0, "starts")
    slow = Throughput("b", 100, 2.0, "starts")
    assert ratio(fast, slow) == 2.0
    assert ratio(slow, fast) == 0.5


def test_ratio_against_a_baseline_that_measured_nothing_is_undefined() -> None:
    subject = Throughput("a", 100, 1.0, "events")
    assert ratio(subject, Throughput("b", 0, 1.0, "events")) is None
    assert ratio(subject, Throughput("b", 100, 0.0, "events")) is None
    assert format_ratio(None) == "n/a"


def test_median_throughput_takes_the_median_duration() -> None:
    runs = [Throughput("s", 300, seconds, "starts") for seconds in (3.0, 1.0, 2.0)]
    assert median_throughput(runs).seconds == 2.0
    assert median_throughput(runs).rate == 150
    even = [Throughput("s", 300, seconds, "starts") for seconds in (1.0, 2.0, 4.0, 10.0)]
    assert median_throughput(even).seconds == 3.0


def test_median_throughput_refuses_mixed_or_no_runs() -> None:
    with pytest.raises(ValueError):
        median_throughput([])
    with pytest.raises(ValueError):
        median_throughput([Throughput("s", 300, 1.0, "starts"), Throughput("s", 50, 1.0, "starts")])


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (12_345.4, "12,345"),
        (12_345.6, "12,346"),
        (250.0, "250"),
        (0.4, "0"),
        (1_234_567.0, "1,234,567"),
        (math.inf, "inf"),
        (math.nan, "n/a"),
    ],
)
def test_rates_are_whole_numbers_with_thousands_separators(rate: float, expected: str) -> None:
    assert format_rate(rate) == expected


def test_summary_has_one_aligned_line_per_comparison_with_its_ratio() -> None:
    lines = summary_lines([outbox(), workflows()])
    assert len(lines) == 2
    first, second = lines
    assert first.startswith("outbox pipeline")
    assert "12,345 events/s" in first and "raw aiokafka" in first and "40,000 events/s" in first
    assert first.endswith("ratio 0.31")
    assert second.startswith("dossier starts")
    assert "250 starts/s" in second and "empty workflow" in second and "290 starts/s" in second
    assert second.endswith("ratio 0.86")
    # Columns line up: the baselines and the ratios start at the same place on both lines.
    assert first.index("raw aiokafka") == second.index("empty workflow")
    assert first.index("ratio") == second.index("ratio")
    # Rates are right-aligned, so their units line up too.
    assert first.index("events/s") == second.index("starts/s")


def test_summary_appends_indented_notes() -> None:
    text = format_summary([outbox()], ["delivery check ok", "first interventions 20 dossiers/s"])
    lines = text.splitlines()
    assert lines[1:] == ["  delivery check ok", "  first interventions 20 dossiers/s"]
    assert format_summary([]) == ""


def test_exactly_once_needs_every_event_and_no_duplicate() -> None:
    assert exactly_once(20_000, 20_000, 0)
    assert not exactly_once(20_000, 19_999, 0)
    assert not exactly_once(20_000, 20_000, 3)


def test_correctness_note_says_ok_or_failed_with_the_counts() -> None:
    assert correctness_note(20_000, 20_000, 0) == (
        "delivery check ok: 20,000/20,000 distinct events, 0 duplicate(s)"
    )
    assert correctness_note(2_000, 1_998, 2).startswith("delivery check FAILED: 1,998/2,000")


def test_workflow_task_note_says_whether_the_longest_task_meets_the_goal() -> None:
    first = Comparison("first_interventions", Throughput("first interventions", 300, 10, "dossiers"),
                       Throughput("bare", 300, 5, "dossiers"),
                       extra={"longest_workflow_task_seconds": 0.72,
                              "baseline_longest_workflow_task_seconds": 0.17})
    assert workflow_task_note(first) == (
        "longest workflow task 0.72 s (ok, goal under 1 s; bare workflow 0.17 s)")
    slow = Comparison(first.name, first.subject, first.baseline,
                      extra={**first.extra, "longest_workflow_task_seconds": 3.4})
    assert "(OVER," in workflow_task_note(slow)


def test_import_floor_note_says_how_close_the_import_is_to_writing_its_rows_straight_into_items() -> None:
    floor = Throughput("COPY of the resolved rows into items", 200_000, 2.0, "rows")
    imported = Comparison("import", Throughput("ERP import", 200_000, 2.5, "rows"),
                          Throughput("raw COPY", 200_000, 0.16, "rows"),
                          extra={"floor": floor.as_dict(), "floor_ratio": 0.08, "ratio_to_floor": 0.8})
    assert import_floor_note(imported) == (
        "import floor: COPY of the resolved rows into items 100,000 rows/s (0.08 of raw COPY);"
        " the import at 0.80 of it")


def test_timestamp_names_are_utc_and_file_name_safe() -> None:
    assert timestamp_name(MOMENT) == "20261123T101500Z"
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert timestamp_name(paris) == "20261123T101500Z"
    with pytest.raises(ValueError):
        timestamp_name(datetime(2026, 11, 23, 10, 15))


def test_results_document_holds_parameters_rates_and_ratios() -> None:
    document = results_document(
        moment=MOMENT,
        parameters={"events": 20_000, "workflows": 300},
        machine={"cpu_count": 2},
        comparisons={"outbox": outbox(), "workflows": workflows()},
        total_seconds=95.123,
    )
    assert document["timestamp"] == "2026-11-23T10:15:00+00:00"
    assert document["parameters"] == {"events": 20_000, "workflows": 300}
    assert document["outbox"]["subject"]["rate"] == pytest.approx(12_345, abs=1)
    assert document["outbox"]["baseline"]["rate"] == 40_000
    assert document["outbox"]["ratio"] == pytest.approx(0.3086, abs=1e-4)
    assert document["outbox"]["correctness"]["duplicates"] == 0
    assert document["workflows"]["ratio"] == pytest.approx(250 / 290, abs=1e-4)
    assert document["total_seconds"] == 95.12
    json.dumps(document)  # plain JSON, nothing exotic


def test_an_infinite_rate_is_written_as_null() -> None:
    assert Throughput("x", 10, 0.0, "events").as_dict()["rate"] is None


def test_results_are_written_under_their_timestamp_and_as_latest(tmp_path: Path) -> None:
    document = {"timestamp": MOMENT.isoformat(), "outbox": {"ratio": 0.31}}
    path = write_results(document, tmp_path / "results", MOMENT)
    assert path == tmp_path / "results" / "20261123T101500Z.json"
    assert json.loads(path.read_text()) == document
    assert json.loads((tmp_path / "results" / LATEST).read_text()) == document


def test_a_second_run_in_the_same_second_keeps_both_files(tmp_path: Path) -> None:
    first = write_results({"run": 1}, tmp_path, MOMENT)
    second = write_results({"run": 2}, tmp_path, MOMENT)
    assert first != second
    assert json.loads(first.read_text()) == {"run": 1}
    assert json.loads(second.read_text()) == {"run": 2}
    assert json.loads((tmp_path / LATEST).read_text()) == {"run": 2}


def test_cli_defaults_and_quick_sizes() -> None:
    default = parse_args([])
    assert (default.events, default.workflows, default.rounds) == (
        DEFAULT_EVENTS, DEFAULT_WORKFLOWS, DEFAULT_ROUNDS,
    )
    assert (DEFAULT_EVENTS, DEFAULT_WORKFLOWS) == (20_000, 300)
    quick = parse_args(["--quick"])
    assert (quick.events, quick.workflows, quick.rounds) == (
        QUICK_EVENTS, QUICK_WORKFLOWS, QUICK_ROUNDS,
    )
    assert (QUICK_EVENTS, QUICK_WORKFLOWS) == (2_000, 50)


def test_cli_explicit_sizes_win_over_quick() -> None:
    options = parse_args(["--quick", "--events", "5000", "--workflows", "80", "--rounds", "2"])
    assert (options.events, options.workflows, options.rounds) == (5_000, 80, 2)


def test_cli_refuses_non_positive_sizes() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--events", "0"])
