"""Every metric the code defines follows the Prometheus naming conventions and is read by
a dashboard or an alert; every metric a dashboard or an alert reads exists."""

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.metric_names import (
    HTTP_METRICS,
    UNIT_SUFFIXES,
    code_metrics,
    known_series,
    metrics_in,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
METRICS = code_metrics()


def _rule_exprs() -> dict[str, str]:
    rules = yaml.safe_load(RULES.read_text())
    return {
        rule.get("alert") or rule["record"]: rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
    }


def _dashboard_exprs() -> dict[str, str]:
    exprs = {}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                exprs[f"{path.name}: {panel['title']} {target['refId']}"] = target["expr"]
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                exprs[f"{path.name}: ${variable['name']}"] = variable["definition"]
    return exprs


def _every_expr() -> dict[str, str]:
    return {**_rule_exprs(), **_dashboard_exprs()}


def test_the_code_defines_the_metrics_we_know_of():
    names = {metric.name for metric in METRICS}
    assert {"relance_outbox_pending", "relance_outbox_lag_seconds",
            "relance_notifier_communications_total", "relance_transfers_open",
            "relance_gateway_dead_letters_total", "relance_scenario_steps_due_total"} <= names


def test_metric_names_are_unique():
    seen: dict[str, str] = {}
    for metric in METRICS:
        where = f"{metric.path}:{metric.line}"
        assert metric.name not in seen, f"{metric.name} defined at {seen.get(metric.name)} and {where}"
        seen[metric.name] = where


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_metric_name_follows_prometheus_conventions(metric):
    where = f"{metric.name} ({metric.path}:{metric.line})"
    assert re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+", metric.name), f"{where}: snake_case"
    assert metric.name.startswith("relance_") or metric.name in HTTP_METRICS, (
        f"{where}: application metrics start with relance_"
    )
    assert not re.search(r"_(?:bucket|sum|count|created|info)$", metric.name), (
        f"{where}: ends in a suffix Prometheus adds itself"
    )
    assert not re.search(r"_(?:milliseconds|ms|millis|minutes|hours|kilobytes|megabytes)(?:_|$)", metric.name), (
        f"{where}: use base units (seconds, bytes)"
    )
    if metric.kind == "counter":
        assert metric.name.endswith("_total"), f"{where}: a counter's name ends in _total"
    else:
        assert not metric.name.endswith("_total"), f"{where}: only counters end in _total"
    if metric.kind in ("histogram", "summary"):
        assert metric.name.endswith(UNIT_SUFFIXES), f"{where}: a distribution names its unit"


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_code_metric_is_on_a_dashboard_or_in_a_rule(metric):
    used = set().union(*(metrics_in(expr) for expr in _every_expr().values()))
    assert metric.series() & used, (
        f"{metric.name} ({metric.path}:{metric.line}) is on no dashboard and in no alert rule: "
        "add a panel (deploy/grafana/build.py) or a rule, or remove the metric"
    )


def test_every_metric_read_by_a_dashboard_or_a_rule_exists():
    known = known_series(METRICS)
    for where, expr in _every_expr().items():
        metrics = metrics_in(expr)
        assert metrics, f"{where}: reads no metric: {expr!r}"
        assert metrics <= known, f"{where}: unknown {sorted(metrics - known)} in {expr!r}"


def test_every_dashboard_and_the_rules_are_checked():
    assert len(DASHBOARDS) == 6
    assert len(_rule_exprs()) >= 13
