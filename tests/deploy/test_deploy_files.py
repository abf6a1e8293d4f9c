"""The deployment files (docker-compose.yml, Dockerfile, deploy/) read and checked against
the code: the topics of `relance.topics` and the search attributes of
`relance.search_attributes` (the metrics: test_metrics_coverage.py). Nothing is started;
these only parse files."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from relance import search_attributes
from relance.topics import ALL_TOPICS, DEFAULT_PARTITIONS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# The Relance processes and the HTTP port each serves /health and /metrics on.
APP_PORTS = {
    "dossier": 8000,
    "relay": 8010,
    "transfer-gateway": 8100,
    "notifier": 8200,
    "workflow": 8300,
    "agency-simulator": 8400,
}
APP_MODULES = {
    "dossier": "relance_dossier",
    "relay": "relance.relay",
    "transfer-gateway": "relance_gateway",
    "notifier": "relance_notifier",
    "workflow": "relance_workflow",
    "agency-simulator": "relance_agency_simulator",
}
INFRASTRUCTURE = ("postgres", "kafka", "temporal")
INIT_JOBS = ("migrate", "kafka-init", "temporal-init")



# ---------------------------------------------------------------------------- helpers


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _services() -> dict:
    return _compose()["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _command_words(service: dict) -> list[str]:
    words: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            words += shlex.split(value)
        elif value:
            words += [str(v) for v in value]
    return words


def _script_text(service: dict) -> str:
    """The service's command line plus every script it runs from a bind-mounted folder."""
    words = _command_words(service)
    texts = ["\n".join(words)]
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        if not source.startswith("./"):
            continue
        for word in words:
            if word.startswith(target.rstrip("/") + "/"):
                texts.append((ROOT / source / word[len(target.rstrip("/")) + 1 :]).read_text())
    return "\n".join(texts)






def _cli_type(key) -> str:
    return {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "TEXT": "Text"}[
        key.indexed_value_type.name
    ]


def _k8s_documents() -> list[tuple[Path, dict]]:
    documents = []
    for path in sorted((DEPLOY / "k8s").rglob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append((path, document))
    return documents


# ---------------------------------------------------------------------------- compose


def test_compose_names_every_service_of_the_stack():
    services = _services()
    expected = {
        "kafka",
        "postgres",
        "temporal",
        "temporal-ui",
        *APP_PORTS,
        *INIT_JOBS,
        "mailpit",
        "prometheus",
        "grafana",
    }
    assert expected <= set(services)


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_service_is_configured_for_the_real_servers(name):
    service = _services()[name]
    env = _environment(service)
    for setting in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "TEMPORAL_ADDRESS"):
        assert env.get(setting), f"{name} does not set {setting}"
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["DATABASE_URL"].split("@", 1)[1].startswith("postgres:5432/")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert env["LOG_JSON"] == "true"
    assert int(env["HTTP_PORT"]) == APP_PORTS[name]
    assert f"{APP_PORTS[name]}:{APP_PORTS[name]}" in service["ports"]
    assert _command_words(service) == ["python", "-m", APP_MODULES[name]]
    assert service["build"]["context"] == "."


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_service_has_a_health_check_on_its_health_endpoint(name):
    healthcheck = _services()[name]["healthcheck"]
    assert not healthcheck.get("disable")
    test = " ".join(healthcheck["test"])
    assert "/health" in test and "HTTP_PORT" in test


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_service_starts_after_the_infrastructure_is_healthy(name):
    depends_on = _services()[name]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on must state conditions"
    for infrastructure in INFRASTRUCTURE:
        assert depends_on[infrastructure]["condition"] == "service_healthy"
    for job in INIT_JOBS:
        assert depends_on[job]["condition"] == "service_completed_successfully"


def test_every_start_condition_can_be_met():
    services = _services()
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            continue
        for target, rule in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                healthcheck = services[target].get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), (
                    f"{name} waits for {target} to be healthy, which has no health check"
                )
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (
                    f"{target} is a one-shot job and must not restart"
                )


@pytest.mark.parametrize(
    "name", ["postgres", "kafka", "temporal", "temporal-ui", "mailpit", "prometheus", "grafana"]
)
def test_infrastructure_has_a_health_check(name):
    assert _services()[name]["healthcheck"]["test"]


def test_kafka_runs_in_kraft_mode_without_topic_auto_creation():
    kafka = _services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = _environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["CLUSTER_ID"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_postgres_is_18_with_its_data_volume_where_18_keeps_it():
    postgres = _services()["postgres"]
    assert postgres["image"] == "postgres:18"
    assert any(v.split(":")[1] == "/var/lib/postgresql" for v in postgres["volumes"])


def test_temporal_uses_the_postgres_of_the_stack_and_the_ui_is_on_8233():
    services = _services()
    temporal = _environment(services["temporal"])
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgres"
    assert "8233:8080" in services["temporal-ui"]["ports"]
    assert _environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_notifier_sends_mail_to_the_smtp_sink():
    services = _services()
    env = _environment(services["notifier"])
    assert env["SMTP_HOST"] == "mailpit"
    assert env["SMTP_PORT"] == "1025"
    assert services["notifier"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


def test_topic_init_creates_every_topic():
    script = _script_text(_services()["kafka-init"])
    assert "kafka-topics.sh" in script and "--create" in script
    assert f"--partitions {DEFAULT_PARTITIONS}" in script
    for topic in ALL_TOPICS:
        assert re.search(rf"(?<![\w.]){re.escape(topic)}(?![\w.])", script), topic


def test_search_attribute_init_registers_every_key():
    service = _services()["temporal-init"]
    assert service["image"].startswith("temporalio/admin-tools:")
    script = _script_text(service)
    assert "temporal operator search-attribute create" in script
    for key in search_attributes.ALL:
        pattern = rf"--name\s+{key.name}\s+--type\s+{_cli_type(key)}\b"
        assert re.search(pattern, script), f"{key.name} ({_cli_type(key)}) is not registered"


def test_kubernetes_temporal_init_runs_the_same_script_as_compose():
    config_maps = [
        doc
        for _, doc in _k8s_documents()
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "relance-temporal-init"
    ]
    assert len(config_maps) == 1
    assert config_maps[0]["data"]["init.sh"] == (DEPLOY / "temporal" / "init.sh").read_text()


def test_kubernetes_topic_job_creates_every_topic():
    jobs = [
        doc
        for _, doc in _k8s_documents()
        if doc["kind"] == "Job" and doc["metadata"]["name"] == "relance-kafka-topics"
    ]
    assert len(jobs) == 1
    container = jobs[0]["spec"]["template"]["spec"]["containers"][0]
    script = "\n".join(container["command"] + container["args"])
    assert f"--partitions {DEFAULT_PARTITIONS}" in script
    for topic in ALL_TOPICS:
        assert topic in script


# ---------------------------------------------------------------------------- Dockerfile


def test_dockerfile_builds_one_non_root_image_for_every_process():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "[embedded]" not in dockerfile
    assert re.search(r"^HEALTHCHECK\b.*\n?.*urllib", dockerfile, re.M)
    assert 'CMD ["python", "-m", "relance_dossier"]' in dockerfile


# ---------------------------------------------------------------------------- Prometheus


def test_prometheus_scrapes_every_relance_process():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    for name, port in APP_PORTS.items():
        assert f"{name}:{port}" in targets
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    mounts = _services()["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in mounts









# ---------------------------------------------------------------------------- Kubernetes


def test_every_kubernetes_manifest_parses():
    documents = _k8s_documents()
    assert documents
    for path, document in documents:
        if document.get("kind") in ("Kustomization", "Component"):
            for resource in document.get("resources", []) + document.get("components", []):
                assert (path.parent / resource).exists(), resource
            continue
        assert document["apiVersion"] and document["kind"], path
        assert document["metadata"]["name"], path


def test_every_kubernetes_process_has_a_service_and_health_probes():
    documents = [doc for _, doc in _k8s_documents()]
    deployments = {
        d["metadata"]["name"]: d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"] != "kafka-exporter"
    }
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    assert set(deployments) == set(APP_PORTS) | {"console"}
    for name, deployment in deployments.items():
        if name == "console":
            continue  # no database: checked by its own test below
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["command"] == ["python", "-m", APP_MODULES[name]]
        env = {e["name"]: e for e in container["env"]}
        assert env["HTTP_PORT"]["value"] == str(APP_PORTS[name])
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "relance-secrets"
        assert {"configMapRef": {"name": "relance-common"}} in container["envFrom"]
        assert container["ports"][0]["containerPort"] == APP_PORTS[name]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health", (name, probe)
        service = services[name]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["port"] == APP_PORTS[name]


def test_kubernetes_common_settings_and_secret_example():
    documents = {
        (d["kind"], d["metadata"]["name"]): d for _, d in _k8s_documents() if "metadata" in d
    }
    common = documents[("ConfigMap", "relance-common")]["data"]
    for setting in ("KAFKA_BOOTSTRAP_SERVERS", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE",
                    "TEMPORAL_TASK_QUEUE", "DATA_DIR", "LOG_JSON", "HTTP_HOST"):
        assert common[setting], setting
    secret = documents[("Secret", "relance-secrets")]["stringData"]
    assert secret["DATABASE_URL"].startswith("postgresql://")
    assert "SMTP_PASSWORD" in secret


def test_the_console_calls_the_apis_and_keeps_no_database():
    """F-35: the console is a backend-for-frontend on :8080, in compose and in Kubernetes."""
    service = _services()["console"]
    env = _environment(service)
    assert _command_words(service) == ["python", "-m", "relance_console"]
    assert (env["HTTP_PORT"], env["HTTP_HOST"]) == ("8080", "0.0.0.0")
    assert env["DOSSIER_API_URL"] == "http://dossier:8000"
    assert env["GATEWAY_API_URL"] == "http://transfer-gateway:8100"
    assert env["SESSION_SECRET"] and "DATABASE_URL" not in env
    assert "8080:8080" in service["ports"]
    assert set(service["depends_on"]) == {"dossier", "transfer-gateway"}
    assert "/health" in " ".join(service["healthcheck"]["test"])

    documents = [doc for _, doc in _k8s_documents()]
    [deployment] = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "console"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert container["command"] == ["python", "-m", "relance_console"]
    assert env["HTTP_PORT"]["value"] == "8080" and env["COOKIE_SECURE"]["value"] == "true"
    assert env["SESSION_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "CONSOLE_SESSION_SECRET"
    assert "DATABASE_URL" not in env
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert "console.yaml" in (DEPLOY / "k8s" / "base" / "kustomization.yaml").read_text()
