"""Renders deploy/helm/pytemporal with Helm's own engine, for tests/deploy.

The engine is Helm's Go SDK (v4), compiled into the `helm-python-sdk` wheel (a dev
extra), so the chart tests run wherever `pip install -e '.[dev]'` ran and never skip for
want of a `helm` binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[1] / "deploy" / "helm" / "pytemporal"
PRODUCTION = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())
RELEASE, NAMESPACE = "temporal", "prod"
# Sections of the config file that the server's loader learns in other branches of
# issues 10/11 (HTTP API, UI, metrics): checked by shape until it knows them.
AGREED_LISTENERS = {
    "http": {"ip", "port"},
    "ui": {"enabled", "ip", "port"},
    "metrics": {"ip", "port"},
}
HelmError = helm.HelmError

Manifest = dict[str, Any]


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> list[Manifest]:
    """The chart's manifests for an install (or an upgrade) of release RELEASE."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(
            values or {},
            name=RELEASE,
            namespace=NAMESPACE,
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    docs = []
    for path, text in sorted(files.items()):
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def lint(values: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
    return report


def one(docs: list[Manifest], kind: str, suffix: str = "") -> Manifest:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} *{suffix}, got {[d['metadata'] for d in found]}"
    return found[0]


def server_container(docs: list[Manifest]) -> Manifest:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["server"]
    container: Manifest = containers[0]
    return container


def config_of(docs: list[Manifest]) -> dict[str, Any]:
    """The server's config file, from the ConfigMap."""
    config: dict[str, Any] = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    return config


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}
