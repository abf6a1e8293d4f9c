"""Writes prometheusrule.yaml beside this file from deploy/prometheus/rules.yml, so that
the operator's PrometheusRule carries exactly the alerts that compose's Prometheus loads
and that deploy/prometheus/tests/ tests:

    python deploy/k8s/components/prometheus-operator/sync_rules.py

tests/deploy/test_kubernetes.py fails when the two differ."""

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parents[2] / "prometheus" / "rules.yml"
TARGET = HERE / "prometheusrule.yaml"
HEADER = """\
# Generated from deploy/prometheus/rules.yml by sync_rules.py beside this file: edit the
# rules there. Your Prometheus selects rules by label (spec.ruleSelector): add that label
# in your overlay if it is not empty.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render() -> str:
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "relance", "labels": {"app.kubernetes.io/part-of": "relance"}},
        "spec": yaml.safe_load(RULES.read_text()),
    }
    return HEADER + yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    TARGET.write_text(render())
