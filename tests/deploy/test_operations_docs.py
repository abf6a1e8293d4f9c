"""The README's Operations section says where each dashboard, the traces and the runbooks
are."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _operations() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Operations\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, "the README has no Operations section"
    return match.group(1)


def test_operations_section_names_every_dashboard():
    section = _operations()
    for path in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        assert f"*{dashboard['title']}* (`{dashboard['uid']}`" in section, dashboard["title"]


def test_operations_section_says_where_traces_metrics_and_runbooks_are():
    section = _operations()
    for needle in ("http://localhost:3000", "http://localhost:16686", "http://localhost:9090",
                   "OTEL_EXPORTER_OTLP_ENDPOINT", "docs/runbooks/", "deploy/prometheus/rules.yml",
                   "deploy/k8s/overlays/operator", "deploy/prometheus/kubernetes.yml"):
        assert needle in section, needle
    compose = (ROOT / "docker-compose.yml").read_text()
    for port in ("3000:3000", "16686:16686", "9090:9090"):
        assert port in compose


def test_runbooks_point_at_dashboards_and_panels_that_exist():
    dashboards = {}
    for path in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        dashboards[dashboard["title"]] = {panel["title"] for panel in dashboard["panels"]}
    for page in (ROOT / "docs" / "runbooks").glob("Relance*.md"):
        text = " ".join(page.read_text().split())
        for title, panels in re.findall(r"\*(Relance [^*]+)\*((?: → \*[^*]+\*(?: and \*[^*]+\*)?)?)", text):
            assert title in dashboards, f"{page.name}: no dashboard {title!r}"
            for panel in re.findall(r"\*([^*]+)\*", panels):
                assert panel in dashboards[title], f"{page.name}: no panel {panel!r} on {title!r}"
