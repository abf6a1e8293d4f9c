"""Pure result handling: rates, ratios, the human summary and the JSON document.

Nothing here touches a server; `tests/bench/test_bench_report.py` covers it."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = "latest.json"


@dataclass(frozen=True)
class Throughput:
    """`count` things done in `seconds` of wall-clock time."""

    label: str
    count: int
    seconds: float
    unit: str

    @property
    def rate(self) -> float:
        if self.seconds <= 0:
            return math.inf if self.count else 0.0
        return self.count / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "count": self.count,
            "seconds": round(self.seconds, 4),
            "unit": self.unit,
            "rate": _json_number(self.rate),
        }


def median_throughput(runs: list[Throughput]) -> Throughput:
    """The median of repeated runs of the same measure (by their durations)."""
    if not runs:
        raise ValueError("median_throughput needs at least one run")
    first = runs[0]
    if any((r.label, r.count, r.unit) != (first.label, first.count, first.unit) for r in runs):
        raise ValueError("median_throughput needs runs of one measure with one size")
    return Throughput(first.label, first.count, statistics.median(r.seconds for r in runs), first.unit)


def ratio(subject: Throughput, baseline: Throughput) -> float | None:
    """subject rate ÷ baseline rate; None when the baseline did nothing measurable."""
    base = baseline.rate
    if base == 0 or math.isinf(base):
        return None
    return subject.rate / base


@dataclass(frozen=True)
class Comparison:
    """One measured path against its bare baseline, from the same run on the same servers."""

    name: str
    subject: Throughput
    baseline: Throughput
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return ratio(self.subject, self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.as_dict(),
            "baseline": self.baseline.as_dict(),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            **self.extra,
        }


def format_rate(rate: float) -> str:
    """A rate as a whole number with thousands separators: 12345.6 → '12,346'."""
    if math.isinf(rate):
        return "inf"
    if math.isnan(rate):
        return "n/a"
    return f"{rate:,.0f}"


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summary_lines(comparisons: list[Comparison]) -> list[str]:
    """One aligned line per comparison:

    outbox pipeline   12,345 events/s   raw aiokafka 40,000 events/s   ratio 0.31
    """
    rows = [
        (
            c.subject.label,
            format_rate(c.subject.rate),
            f"{c.subject.unit}/s",
            c.baseline.label,
            format_rate(c.baseline.rate),
            f"{c.baseline.unit}/s",
            format_ratio(c.ratio),
        )
        for c in comparisons
    ]
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for s_label, s_rate, s_unit, b_label, b_rate, b_unit, r in rows:
        lines.append(
            f"{s_label:<{widths[0]}}  {s_rate:>{widths[1]}} {s_unit:<{widths[2]}}"
            f"   {b_label:<{widths[3]}} {b_rate:>{widths[4]}} {b_unit:<{widths[5]}}"
            f"   ratio {r}"
        )
    return lines


def format_summary(comparisons: list[Comparison], notes: list[str] | None = None) -> str:
    """The human summary: the ratio lines, then indented notes (correctness, extras)."""
    lines = summary_lines(comparisons)
    lines += [f"  {note}" for note in notes or []]
    return "\n".join(lines)


def exactly_once(expected: int, distinct: int, duplicates: int) -> bool:
    return distinct == expected and duplicates == 0


def correctness_note(expected: int, distinct: int, duplicates: int) -> str:
    verdict = "ok" if exactly_once(expected, distinct, duplicates) else "FAILED"
    return (
        f"delivery check {verdict}: {distinct:,}/{expected:,} distinct events,"
        f" {duplicates:,} duplicate(s)"
    )


def workflow_task_note(first: Comparison, goal_seconds: float = 1.0) -> str:
    """The longest workflow task of the dossiers' run (issue 11: none over 1 s), beside
    the bare workflow's."""
    longest = first.extra["longest_workflow_task_seconds"]
    bare = first.extra["baseline_longest_workflow_task_seconds"]
    verdict = "ok" if longest <= goal_seconds else "OVER"
    return (f"longest workflow task {longest:.2f} s ({verdict}, goal under {goal_seconds:g} s;"
            f" bare workflow {bare:.2f} s)")


def import_floor_note(imported: Comparison) -> str:
    """What bounds the import's ratio: the same rows written straight into `items`."""
    floor = imported.extra["floor"]
    return (f"import floor: {floor['label']} {format_rate(floor['rate'])} rows/s"
            f" ({imported.extra['floor_ratio']:.2f} of raw COPY); the import at"
            f" {imported.extra['ratio_to_floor']:.2f} of it")


def timestamp_name(moment: datetime) -> str:
    """A file-name-safe UTC timestamp: 2026-11-23 10:15:00+00:00 → '20261123T101500Z'."""
    if moment.tzinfo is None:
        raise ValueError("timestamp_name needs an aware datetime")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def results_document(
    *,
    moment: datetime,
    parameters: dict[str, Any],
    machine: dict[str, Any],
    comparisons: dict[str, Comparison],
    total_seconds: float,
) -> dict[str, Any]:
    return {
        "timestamp": moment.astimezone(UTC).isoformat(),
        "parameters": parameters,
        "machine": machine,
        **{key: comparison.as_dict() for key, comparison in comparisons.items()},
        "total_seconds": round(total_seconds, 2),
    }


def write_results(document: dict[str, Any], results_dir: Path, moment: datetime) -> Path:
    """Write `<timestamp>.json` and `latest.json` under `results_dir`; returns the first."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    path = results_dir / f"{timestamp_name(moment)}.json"
    suffix = 1
    while path.exists():  # two runs within one second keep both files
        path = results_dir / f"{timestamp_name(moment)}-{suffix}.json"
        suffix += 1
    path.write_text(text, encoding="utf-8")
    (results_dir / LATEST).write_text(text, encoding="utf-8")
    return path


def _json_number(value: float) -> float | None:
    """JSON has no infinity: such a rate is written as null."""
    if math.isinf(value) or math.isnan(value):
        return None
    return round(value, 2)

