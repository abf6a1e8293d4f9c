"""The Grafana dashboards (deploy/grafana/dashboards/, written by deploy/grafana/build.py):
one per service plus the business one, well-formed JSON that Grafana provisions, with
template variables, every panel on the `datasource` variable and laid out on the grid."""

import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SERVICE_JOBS = {
    "relance-dossier": "relance-dossier",
    "relance-workflow": "relance-workflow",
    "relance-notifier": "relance-notifier",
    "relance-transfer-gateway": "relance-transfer-gateway",
    "relance-relay": "relance-relay",
}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _by_uid() -> dict[str, dict]:
    return {d["uid"]: d for d in map(_load, DASHBOARDS)}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_one_dashboard_per_service_and_the_business_one():
    assert set(_by_uid()) == {*SERVICE_JOBS, "relance-business"}
    for path in DASHBOARDS:
        assert path.stem == _load(path)["uid"]


def test_the_files_are_what_the_builder_writes():
    builder = runpy.run_path(str(GRAFANA / "build.py"))
    rendered = builder["render"]()
    assert set(rendered) == {p.name for p in DASHBOARDS}
    for path in DASHBOARDS:
        assert path.read_text() == rendered[path.name], (
            f"{path.name} differs from deploy/grafana/build.py: run python deploy/grafana/build.py"
        )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path):
    dashboard = _load(path)
    for key in ("uid", "title", "panels", "templating", "schemaVersion", "time", "refresh"):
        assert key in dashboard, key
    assert len(dashboard["uid"]) <= 40 and re.fullmatch(r"[a-z0-9-]+", dashboard["uid"])
    assert "relance" in dashboard["tags"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        panel_cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                       for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not panel_cells & cells, f"{panel['title']} overlaps another panel"
        cells |= panel_cells
        assert panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in ("timeseries", "stat")
        assert panel["description"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["expr"].count("{") == target["expr"].count("}"), target["expr"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_template_variables_are_defined_and_used(path):
    dashboard = _load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert len(variables) >= 2, "a dashboard has template variables beyond the data source"
    exprs = "\n".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for name, variable in variables.items():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}"
            assert variable["definition"].startswith("label_values(")
            assert variable["query"]["query"] == variable["definition"]
            assert f"${name}" in exprs, f"${name} is defined but no panel uses it"
    used = set(re.findall(r"\$\{?(\w+)", exprs))
    assert used - BUILTIN_VARIABLES <= set(variables), f"undefined {used - BUILTIN_VARIABLES - set(variables)}"


@pytest.mark.parametrize("uid", sorted(SERVICE_JOBS))
def test_service_dashboard_reads_its_own_scrape_job(uid):
    dashboard = _by_uid()[uid]
    job = SERVICE_JOBS[uid]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["instance"]["definition"] == f'label_values(up{{job="{job}"}}, instance)'
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert f'up{{job="{job}", instance=~"$instance"}}' in "\n".join(exprs)
    jobs = set(re.findall(r'job="([^"]+)"', "\n".join(exprs)))
    assert jobs == {job}


def test_business_dashboard_shows_what_the_business_follows():
    dashboard = _by_uid()["relance-business"]
    titles = {p["title"] for p in dashboard["panels"]}
    assert {
        "Open transfers by state", "Overdue agency answers", "Outbox lag", "Consumer lag",
        "Dead letters", "Webhook failures", "Communications by channel and outcome",
        "Scenario steps due vs done",
    } <= titles
    exprs = "\n".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in ("relance_transfers_open", "relance_transfers_agency_answer_overdue",
                   "relance_outbox_lag_seconds_bucket", "kafka_consumergroup_lag",
                   "relance_gateway_dead_letters_total", "relance_gateway_webhook_attempts_total",
                   "relance_notifier_communications_total", "relance_scenario_steps_due_total",
                   "relance_interventions_closed_total"):
        assert metric in exprs, metric


def test_http_panels_on_every_api_dashboard():
    for uid in ("relance-dossier", "relance-notifier", "relance-transfer-gateway"):
        exprs = "\n".join(t["expr"] for p in _by_uid()[uid]["panels"] for t in p.get("targets", []))
        assert "http_requests_total" in exprs and "http_request_duration_seconds_bucket" in exprs, uid


def test_workflow_dashboard_shows_temporal_sdk_metrics():
    exprs = "\n".join(t["expr"] for p in _by_uid()["relance-workflow"]["panels"] for t in p.get("targets", []))
    assert "temporal_workflow_failed_total" in exprs
    assert "temporal_activity_schedule_to_start_latency_seconds_bucket" in exprs


def test_grafana_provisions_the_dashboards_and_both_data_sources():
    sources = {}
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            sources[source["uid"]] = source
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["prometheus"]["isDefault"] is True
    assert sources["jaeger"]["type"] == "jaeger"
    assert sources["jaeger"]["url"] == "http://jaeger:16686"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "relance.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    grafana = _compose()["services"]["grafana"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{path}/relance-business.json"


def _as_promql(expr: str) -> str:
    """A panel's query as Prometheus sees it once Grafana has filled in the variables."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def test_every_panel_query_is_valid_promql(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs Debian's prometheus package)")
    rules = []
    for path in DASHBOARDS:
        for panel in _load(path)["panels"]:
            for target in panel.get("targets", []):
                rules.append({"record": f"dashboard:{path.stem.replace('-', '_')}:{len(rules)}",
                              "expr": _as_promql(target["expr"])})
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(tmp_path / "queries.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
