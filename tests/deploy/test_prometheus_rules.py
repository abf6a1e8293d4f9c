"""The alert rules (deploy/prometheus/rules.yml): promtool checks them and runs their unit
tests (deploy/prometheus/tests/*.yml), every alert has a runbook page and tests that show
it firing and staying silent. promtool comes from Debian's `prometheus` package, which
`make test` installs when it is missing."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks"


def _promtool() -> str:
    promtool = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs Debian's prometheus package)")
    return promtool


def _alerts() -> dict[str, dict]:
    rules = yaml.safe_load(RULES.read_text())
    return {
        rule["alert"]: rule
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _alert_tests() -> list[dict]:
    cases = []
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases += test.get("alert_rule_test", [])
    return cases


def test_promtool_checks_the_rules():
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass():
    assert RULE_TESTS
    result = subprocess.run(
        [_promtool(), "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True, text=True, timeout=120, cwd=PROMETHEUS,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_tests_load_the_rules_file():
    for path in RULE_TESTS:
        spec = yaml.safe_load(path.read_text())
        assert [(path.parent / f).resolve() for f in spec["rule_files"]] == [RULES], path


@pytest.mark.parametrize("alert", sorted(_alerts()))
def test_every_alert_is_shown_firing_and_staying_silent(alert):
    cases = [case for case in _alert_tests() if case["alertname"] == alert]
    assert any(case.get("exp_alerts") for case in cases), f"no test shows {alert} firing"
    assert any(not case.get("exp_alerts") for case in cases), f"no test shows {alert} silent"


@pytest.mark.parametrize("alert", sorted(_alerts()))
def test_every_alert_links_its_runbook(alert):
    rule = _alerts()[alert]
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"]
    url = rule["annotations"]["runbook_url"]
    assert url == f"docs/runbooks/{alert}.md"
    page = (ROOT / url).read_text()
    assert page.startswith(f"# {alert}\n")
    for heading in ("## What it means", "## How to look", "## How to fix"):
        assert heading in page, f"{url} has no {heading!r}"
    assert f"[{alert}.md]({alert}.md)" in (RUNBOOKS / "README.md").read_text()


def test_no_runbook_without_its_alert():
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(_alerts())
