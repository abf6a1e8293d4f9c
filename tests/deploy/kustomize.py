"""Builds a kustomization: with `kubectl kustomize` where kubectl exists, else with the
small loader below, which knows the parts of kustomize that deploy/k8s uses (resources,
components, namespace, images). tests/deploy/test_kubernetes.py checks that both give the
same objects wherever kubectl exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass",
}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED = {"apiVersion", "kind", "resources", "components", "namespace", "images"}


def kubectl() -> str | None:
    return shutil.which("kubectl")


def build_with_kubectl(path: Path) -> list[dict]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def build(path: Path) -> list[dict]:
    return build_with_kubectl(path) if kubectl() else load(path)


def _kustomization(folder: Path) -> dict:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            spec = yaml.safe_load((folder / name).read_text())
            unknown = set(spec) - SUPPORTED
            assert not unknown, f"{folder}: the loader does not know {sorted(unknown)}"
            return spec
    raise FileNotFoundError(f"no kustomization in {folder}")


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _set_images(document: dict, images: list[dict]) -> None:
    pod = document.get("spec", {}).get("template", {}).get("spec") or document.get("spec", {})
    if not isinstance(pod, dict):
        return
    for key in ("containers", "initContainers"):
        for container in pod.get(key) or []:
            name, _, tag = container["image"].partition(":")
            for image in images:
                if image["name"] == name:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def load(folder: Path) -> list[dict]:
    folder = Path(folder)
    spec = _kustomization(folder)
    documents: list[dict] = []
    for resource in spec.get("resources", []):
        target = folder / resource
        documents += load(target) if target.is_dir() else _documents(target)
    for component in spec.get("components", []):
        target = folder / component
        assert _kustomization(target)["kind"] == "Component", target
        documents += load(target)
    for document in documents:
        if spec.get("namespace") and document["kind"] not in CLUSTER_SCOPED:
            document.setdefault("metadata", {})["namespace"] = spec["namespace"]
        _set_images(document, spec.get("images", []))
    return documents
