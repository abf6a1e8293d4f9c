"""The Prometheus metrics the Relance code defines, read from the source (no import, so
the package layout does not matter), and the metric names PromQL expressions read."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("services", "shared", "devstack", "src")
METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}

# Metrics that come from outside the Relance code: Prometheus itself, prometheus_client's
# default process collector, the Kafka exporter.
EXTERNAL_METRICS = {
    "up",
    "process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "kafka_consumergroup_lag",
}
# The HTTP request metrics of every API (labels service, method, route, status).
HTTP_METRICS = {"http_requests_total": "counter", "http_request_duration_seconds": "histogram"}
# Temporal SDK metrics of the worker's runtime (PrometheusConfig with counters_total_suffix,
# unit_suffix and durations_as_seconds, so the names follow Prometheus conventions).
TEMPORAL_METRICS = {
    "temporal_workflow_completed_total",
    "temporal_workflow_failed_total",
    "temporal_workflow_task_execution_failed_total",
    "temporal_activity_execution_failed_total",
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
    "temporal_activity_schedule_to_start_latency_seconds_bucket",
    "temporal_activity_execution_latency_seconds_bucket",
    "temporal_worker_task_slots_available",
    "temporal_request_failure_total",
}

METRIC_TOKEN = re.compile(
    r"(?<![\w$.])(?:(?:relance_|kafka_|http_|temporal_|process_)[a-z0-9_]+\b|up(?=\{))"
)
UNIT_SUFFIXES = ("_seconds", "_bytes", "_ratio", "_meters", "_celsius")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter, gauge, histogram, summary, info, enum
    path: Path
    line: int

    def series(self) -> set[str]:
        """The names this metric exposes to Prometheus."""
        if self.kind == "counter":
            base = self.name.removesuffix("_total")
            return {f"{base}_total"}
        if self.kind == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"}
        if self.kind == "summary":
            return {self.name, f"{self.name}_sum", f"{self.name}_count"}
        if self.kind == "info":
            return {f"{self.name}_info"}
        return {self.name}


def _source_files() -> list[Path]:
    files: list[Path] = []
    for folder in SOURCE_DIRS:
        if (ROOT / folder).is_dir():
            files += sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)
    return files


def code_metrics() -> list[Metric]:
    """Every `Counter("name", ...)`, `Gauge(...)`, ... of prometheus_client in the code."""
    found = []
    for path in _source_files():
        text = path.read_text()
        if "prometheus_client" not in text:
            continue
        for node in ast.walk(ast.parse(text, str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in METRIC_CLASSES:
                continue
            first = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "name"), None
            )
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Metric(first.value, name.lower(), path.relative_to(ROOT), node.lineno))
    return found


def metrics_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_labels = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_strings)
    return set(METRIC_TOKEN.findall(without_labels))


def known_series(metrics: list[Metric]) -> set[str]:
    names = set(EXTERNAL_METRICS) | TEMPORAL_METRICS
    for metric in metrics:
        names |= metric.series()
    for name, kind in HTTP_METRICS.items():
        names |= Metric(name, kind, Path(), 0).series()
    return names
