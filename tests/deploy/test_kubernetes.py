"""The Kubernetes manifests: both kustomizations build (deploy/k8s for a plain cluster,
deploy/k8s/overlays/operator with the Prometheus operator's objects), every object
validates against the Kubernetes JSON schemas (kubernetes-validate ships them, strict:
an unknown field fails), and the objects fit together: the job labels the rules and the
dashboards read, the Kafka lag exporter, the Ingress, PodDisruptionBudgets,
NetworkPolicies, HorizontalPodAutoscalers, the ServiceMonitor and the PrometheusRule."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy import kustomize

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PLAIN = K8S
OPERATOR = K8S / "overlays" / "operator"
KUBERNETES_VERSION = "1.32"
NAMESPACE = "relance"
# Processes that keep no state of their own in the pod and scale out (the relay runs one).
STATELESS = {"dossier", "transfer-gateway", "notifier", "workflow"}
# Reachable from outside the cluster (the console's Deployment is added with the console).
PUBLIC = {"transfer-gateway": 8100, "relance-console": 8080}
CONSOLE_LABELS = {"console", "relance-console"}
PENDING_SERVICES = {"relance-console"}


def _objects(path: Path) -> list[dict]:
    return kustomize.build(path)


def _index(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _of_kind(objects, kind) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _selects(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


PLAIN_OBJECTS = _objects(PLAIN)
OPERATOR_OBJECTS = _objects(OPERATOR)


# ---------------------------------------------------------------------------- build + schemas


def test_both_kustomizations_build():
    kinds = {o["kind"] for o in PLAIN_OBJECTS}
    assert {"Deployment", "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
            "HorizontalPodAutoscaler", "Job", "ConfigMap"} <= kinds
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}, "the plain build has no operator CRDs"
    extra = {(o["kind"], o["metadata"]["name"]) for o in OPERATOR_OBJECTS} - {
        (o["kind"], o["metadata"]["name"]) for o in PLAIN_OBJECTS
    }
    assert extra == {("ServiceMonitor", "relance"), ("PrometheusRule", "relance")}


@pytest.mark.skipif(kustomize.kubectl() is None, reason="kubectl is not installed")
@pytest.mark.parametrize("path", [PLAIN, OPERATOR], ids=["plain", "operator"])
def test_the_fallback_loader_builds_what_kustomize_builds(path):
    def key(o):
        return (o["kind"], o["metadata"]["name"])

    assert sorted(kustomize.load(path), key=key) == sorted(kustomize.build_with_kubectl(path), key=key)


@pytest.mark.parametrize(
    "obj", OPERATOR_OBJECTS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}"
)
def test_every_object_validates_against_the_kubernetes_schema(obj):
    if obj["apiVersion"].startswith("monitoring.coreos.com/"):
        pytest.skip("a Prometheus operator CRD: checked by the tests below")
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", [K8S / "secret.example.yaml", K8S / "demo" / "agency-simulator.yaml"],
                         ids=["secret-example", "demo"])
def test_manifests_outside_the_kustomizations_validate_too(path):
    for obj in yaml.safe_load_all(path.read_text()):
        if obj:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# The fields of the Prometheus operator's monitoring.coreos.com/v1 CRDs these manifests
# use (no offline schema ships them): a typo in a field name fails here.
SERVICE_MONITOR_FIELDS = {
    "spec": {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"},
    "endpoint": {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "relabelings",
                 "metricRelabelings", "honorLabels", "params"},
    "relabeling": {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"},
}
RULE_FIELDS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PrometheusRule"])
def test_operator_objects_use_only_fields_their_crd_defines(kind):
    (obj,) = _of_kind(OPERATOR_OBJECTS, kind).values()
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
    if kind == "ServiceMonitor":
        assert set(obj["spec"]) <= SERVICE_MONITOR_FIELDS["spec"]
        for endpoint in obj["spec"]["endpoints"]:
            assert set(endpoint) <= SERVICE_MONITOR_FIELDS["endpoint"], endpoint
            assert isinstance(endpoint["port"], str), "a ServiceMonitor names the Service port"
            for relabeling in endpoint.get("relabelings", []):
                assert set(relabeling) <= SERVICE_MONITOR_FIELDS["relabeling"], relabeling
    else:
        assert set(obj["spec"]) == {"groups"}
        for group in obj["spec"]["groups"]:
            assert set(group) <= {"name", "interval", "rules", "limit"}
            for rule in group["rules"]:
                assert set(rule) <= RULE_FIELDS, rule


def test_the_schema_check_catches_a_mistake():
    deployment = next(o for o in PLAIN_OBJECTS if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_namespaced_object_lands_in_the_relance_namespace():
    for obj in OPERATOR_OBJECTS:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == NAMESPACE
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


# ---------------------------------------------------------------------------- wiring


def test_every_service_selects_a_deployment_and_targets_a_named_port():
    deployments = _of_kind(PLAIN_OBJECTS, "Deployment")
    for name, service in _of_kind(PLAIN_OBJECTS, "Service").items():
        matches = [d for d in deployments.values()
                   if _selects({"matchLabels": service["spec"]["selector"]},
                               d["spec"]["template"]["metadata"]["labels"])]
        assert len(matches) == 1, name
        ports = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)


def test_kafka_lag_exporter_reads_the_relance_broker_and_is_scraped():
    exporter = _of_kind(PLAIN_OBJECTS, "Deployment")["kafka-exporter"]
    pod = exporter["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"].startswith("danielqsj/kafka-exporter:")
    assert "--kafka.server=$(KAFKA_BOOTSTRAP_SERVERS)" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["valueFrom"]["configMapKeyRef"]["name"] == "relance-common"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9308"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_ingress_routes_only_to_the_gateway_and_the_console():
    services = _of_kind(PLAIN_OBJECTS, "Service")
    ingresses = _of_kind(PLAIN_OBJECTS, "Ingress")
    backends = {}
    for ingress in ingresses.values():
        assert ingress["spec"]["tls"], "the Ingress terminates TLS"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]
                backends[service["name"]] = service["port"]
    assert set(backends) == set(PUBLIC)
    for name, port in backends.items():
        if name in PENDING_SERVICES and name not in services:
            assert port == {"number": PUBLIC[name]}
            continue
        ports = services[name]["spec"]["ports"]
        assert any(p.get("name") == port.get("name") or p["port"] == port.get("number") for p in ports)
        assert any(p["port"] == PUBLIC[name] for p in ports)
    gateway_paths = [p["path"] for ingress in ingresses.values() for rule in ingress["spec"]["rules"]
                     for p in rule["http"]["paths"] if p["backend"]["service"]["name"] == "transfer-gateway"]
    assert gateway_paths == ["/agency"], "the gateway's /admin API stays inside the cluster"


def test_every_replicated_process_has_a_disruption_budget():
    deployments = _of_kind(PLAIN_OBJECTS, "Deployment")
    budgets = _of_kind(PLAIN_OBJECTS, "PodDisruptionBudget")
    covered = set()
    for budget in budgets.values():
        assert budget["spec"].get("minAvailable", 0) >= 1 or "maxUnavailable" in budget["spec"]
        selected = [n for n, d in deployments.items()
                    if _selects(budget["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert len(selected) == 1, budget["metadata"]["name"]
        covered |= set(selected)
    assert covered == STATELESS


def test_every_stateless_process_autoscales_and_leaves_replicas_to_the_autoscaler():
    deployments = _of_kind(PLAIN_OBJECTS, "Deployment")
    autoscalers = _of_kind(PLAIN_OBJECTS, "HorizontalPodAutoscaler")
    targets = {}
    for hpa in autoscalers.values():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["apiVersion"] == "apps/v1"
        assert ref["name"] in deployments
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["maxReplicas"] <= 4 or ref["name"] == "dossier", (
            "a Kafka consumer group uses at most the 4 partitions of its topics"
        )
        container = deployments[ref["name"]]["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
        targets[ref["name"]] = hpa
    assert set(targets) == STATELESS
    for name in STATELESS:
        assert "replicas" not in deployments[name]["spec"], f"{name}: replicas belong to its HPA"
    assert deployments["relay"]["spec"]["replicas"] == 1


def _policies_admitting(pod_labels: dict, port: int, source: str) -> list[str]:
    """The NetworkPolicies that let `source` ("outside": another namespace or an IP
    block; "inside": a pod of the namespace) reach `port` of a pod with `pod_labels`."""
    admitted = []
    for name, policy in _of_kind(PLAIN_OBJECTS, "NetworkPolicy").items():
        if not _selects(policy["spec"]["podSelector"], pod_labels):
            continue
        for rule in policy["spec"].get("ingress") or []:
            ports = [p["port"] for p in rule.get("ports") or []]
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if not peers:
                admitted.append(name)  # from anywhere
                continue
            for peer in peers:
                external = "namespaceSelector" in peer or "ipBlock" in peer
                if (source == "outside") == external:
                    admitted.append(name)
    return admitted


def test_network_policies_admit_only_the_gateway_and_the_console_from_outside():
    policies = _of_kind(PLAIN_OBJECTS, "NetworkPolicy")
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "a default deny of ingress"
    pods = {
        name: (d["spec"]["template"]["metadata"]["labels"],
               d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"])
        for name, d in _of_kind(PLAIN_OBJECTS, "Deployment").items()
    }
    pods["console"] = ({"app.kubernetes.io/name": "console", "app.kubernetes.io/part-of": "relance"}, 8080)
    for name, (labels, port) in pods.items():
        outside = set(_policies_admitting(labels, port, "outside")) - {"relance-allow-prometheus"}
        if name in ("transfer-gateway", "console"):
            assert outside == {"relance-allow-ingress-controller"}, name
        else:
            assert not outside, f"{name} is reachable from outside the namespace through {outside}"
        assert _policies_admitting(labels, port, "inside"), f"{name} is unreachable inside the namespace"
    # Prometheus reaches the metrics ports only: every port it is allowed is a /metrics port.
    prometheus = policies["relance-allow-prometheus"]
    allowed = {p["port"] for rule in prometheus["spec"]["ingress"] for p in rule["ports"]}
    metrics_ports = {int(d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"])
                     for d in _of_kind(PLAIN_OBJECTS, "Deployment").values()}
    assert metrics_ports <= allowed <= metrics_ports | {8080}


def test_console_ingress_policy_matches_either_console_label():
    policy = _of_kind(PLAIN_OBJECTS, "NetworkPolicy")["relance-allow-ingress-controller"]
    for label in CONSOLE_LABELS:
        assert _selects(policy["spec"]["podSelector"], {"app.kubernetes.io/name": label})


def test_every_process_gets_the_trace_endpoint_setting():
    common = _index(PLAIN_OBJECTS)[("ConfigMap", "relance-common")]["data"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in common
    for name, deployment in _of_kind(PLAIN_OBJECTS, "Deployment").items():
        if name == "kafka-exporter":
            continue
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"configMapRef": {"name": "relance-common"}} in container["envFrom"], name


# ---------------------------------------------------------------------------- job labels


def _relabel(rules: list[dict], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus relabeling (replace, keep, drop) of one target; None when dropped."""
    labels = dict(labels)
    for rule in rules:
        sources = rule.get("source_labels") or rule.get("sourceLabels") or []
        value = rule.get("separator", ";").join(labels.get(s, "") for s in sources)
        regex = re.compile(rule.get("regex", "(.*)"))
        match = regex.fullmatch(value)
        action = rule.get("action", "replace")
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            target = rule.get("target_label") or rule.get("targetLabel")
            replacement = rule.get("replacement", "$1")
            result = re.sub(r"\$\{?(\d+)\}?", lambda m, found=match: found.group(int(m.group(1))) or "",
                            replacement)
            if result:
                labels[target] = result
            else:
                labels.pop(target, None)
    return labels


def _meta(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _pod_target(deployment: dict, port: int) -> dict[str, str]:
    template = deployment["spec"]["template"]
    labels = {
        "__address__": f"10.0.0.7:{port}",
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": f"{deployment['metadata']['name']}-5d8f7-abcde",
        "__meta_kubernetes_pod_phase": "Running",
        "job": "relance-pods",
    }
    for key, value in template["metadata"].get("labels", {}).items():
        labels[f"__meta_kubernetes_pod_label_{_meta(key)}"] = value
    for key, value in template["metadata"].get("annotations", {}).items():
        labels[f"__meta_kubernetes_pod_annotation_{_meta(key)}"] = value
    return labels


def test_plain_prometheus_names_each_pod_job_as_the_rules_expect():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "kubernetes.yml").read_text())
    assert config["rule_files"] == ["rules.yml"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "relance-pods"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [NAMESPACE]
    deployments = _of_kind(PLAIN_OBJECTS, "Deployment")
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for port in container["ports"]:
                target = _relabel(job["relabel_configs"], _pod_target(deployment, port["containerPort"]))
                assert target is not None, name
                assert target["job"] == f"relance-{name}"
                annotations = deployment["spec"]["template"]["metadata"]["annotations"]
                assert target["__address__"] == f"10.0.0.7:{annotations['prometheus.io/port']}"
                assert target["__metrics_path__"] == annotations["prometheus.io/path"]
                assert target["instance"].startswith(f"{name}-")
                assert "service" not in target, "the HTTP metrics' own service label would be renamed"
                assert re.fullmatch("relance-.*", target["job"]), "RelanceServiceDown reads it"
    # A pod of another application, or one that does not ask, is not scraped.
    other = _pod_target(deployments["dossier"], 8000)
    other["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"] = "billing"
    assert _relabel(job["relabel_configs"], other) is None
    quiet = _pod_target(deployments["dossier"], 8000)
    quiet["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] = "false"
    assert _relabel(job["relabel_configs"], quiet) is None


def test_service_monitor_names_each_job_as_the_rules_expect():
    monitor = _of_kind(OPERATOR_OBJECTS, "ServiceMonitor")["relance"]
    services = _of_kind(OPERATOR_OBJECTS, "Service")
    endpoints = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    for name, service in services.items():
        assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"]), name
        (port,) = [p["name"] for p in service["spec"]["ports"]]
        endpoint = endpoints[port]
        assert endpoint["path"] == "/metrics"
        meta = {f"__meta_kubernetes_service_label_{_meta(k)}": v for k, v in service["metadata"]["labels"].items()}
        meta |= {"job": name, "__meta_kubernetes_pod_name": f"{name}-abc"}
        target = _relabel(endpoint["relabelings"], meta)
        assert target["job"] == f"relance-{name}"


def test_prometheus_rule_carries_exactly_the_tested_rules():
    rule = _of_kind(OPERATOR_OBJECTS, "PrometheusRule")["relance"]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    assert rule["spec"] == rules, (
        "run python deploy/k8s/components/prometheus-operator/sync_rules.py"
    )
    sync = runpy.run_path(str(K8S / "components" / "prometheus-operator" / "sync_rules.py"))
    assert (K8S / "components" / "prometheus-operator" / "prometheusrule.yaml").read_text() == sync["render"]()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_prometheus_rule_spec_passes_promtool(tmp_path):
    rule = _of_kind(OPERATOR_OBJECTS, "PrometheusRule")["relance"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
