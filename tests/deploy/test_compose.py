"""docker-compose.yml against the Compose Specification's JSON schema (vendored in
tests/deploy/schemas/), and the observability services it runs: Prometheus, the Kafka lag
exporter, Grafana and Jaeger, with every Relance process sending traces to Jaeger."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
APP_SERVICES = ("dossier", "relay", "transfer-gateway", "notifier", "workflow", "agency-simulator")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _validator():
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA, format_checker=cls.FORMAT_CHECKER)


def test_compose_file_validates_against_the_compose_specification():
    errors = sorted(_validator().iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "mistake",
    [
        lambda c: c["services"]["dossier"].update(restart_policy="always"),
        lambda c: c["services"]["jaeger"].update(ports="16686:16686"),
        lambda c: c["services"]["grafana"]["depends_on"].update(jaeger={"condition": "started"}),
    ],
    ids=["unknown key", "wrong type", "unknown condition"],
)
def test_the_schema_check_catches_a_mistake(mistake):
    compose = _compose()
    mistake(compose)
    assert list(_validator().iter_errors(compose))


def test_jaeger_receives_otlp_and_grafana_reads_it():
    services = _compose()["services"]
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert {"16686:16686", "4317:4317", "4318:4318"} <= set(jaeger["ports"])
    assert "jaeger" in services["grafana"]["depends_on"]
    datasource = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "jaeger.yml").read_text()
    )["datasources"][0]
    assert datasource["type"] == "jaeger" and datasource["url"] == "http://jaeger:16686"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_process_sends_its_traces_to_jaeger(name):
    env = _compose()["services"][name]["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT-http://jaeger:4318}"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == f"relance-{name}"


def test_kafka_lag_exporter_is_scraped_under_the_job_the_rules_expect():
    services = _compose()["services"]
    exporter = services["kafka-exporter"]
    assert exporter["image"].startswith("danielqsj/kafka-exporter:")
    assert "--kafka.server=kafka:9092" in exporter["command"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["relance-kafka-exporter"]["static_configs"][0]["targets"] == ["kafka-exporter:9308"]
    for name, job in jobs.items():
        for static in job.get("static_configs", []):
            assert "service" not in static.get("labels", {}), (
                f"{name}: a service target label would rename the HTTP metrics' own"
            )
