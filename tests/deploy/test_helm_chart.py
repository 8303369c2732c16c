"""The Helm chart in deploy/helm/pytemporal, rendered by Helm's own engine (helmchart.py).

Every rendered manifest is checked against Kubernetes' schemas with
`kubernetes-validate` (strict: unknown fields are errors); the ServiceMonitor, a custom
resource it has no schema for, against SERVICE_MONITOR below (the fields of
monitoring.coreos.com/v1 that the chart uses, closed to others). The server's config file in
the ConfigMap is loaded by the server's own config loader.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from helmchart import (
    AGREED_LISTENERS,
    CHART,
    NAMESPACE,
    PRODUCTION,
    HelmError,
    Manifest,
    config_of,
    env_of,
    lint,
    one,
    render,
    server_container,
)
from pytemporal.cli import config_file
from pytemporal.cli.config_file import load_server_config
from pytemporal.cli.parser import parse_args
from pytemporal.common.logging import LOG_FORMATS, LOG_LEVELS

# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


# prometheus-operator's Duration type.
_DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR = _closed(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _closed({"name": {"type": "string"}, "labels": _LABELS}, ("name",)),
        "spec": _closed(
            {
                "selector": _closed({"matchLabels": _LABELS}),
                "namespaceSelector": _closed(
                    {"matchNames": {"type": "array", "items": {"type": "string"}}}
                ),
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _closed(
                        {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                        }
                    ),
                },
            },
            ("selector", "endpoints"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


@pytest.fixture(scope="module")
def default_docs() -> list[Manifest]:
    return render()


@pytest.fixture(scope="module")
def production_docs() -> list[Manifest]:
    return render(PRODUCTION)


@pytest.mark.parametrize("values", ["default", "production"])
def test_every_manifest_is_valid_kubernetes(values: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(f"{values}_docs")
    kinds = sorted(d["kind"] for d in docs)
    expected = [
        "ConfigMap",
        "Deployment",
        "Job",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "Service",
        "Service",
        "ServiceAccount",
    ]
    if values == "default":  # production names existing Secrets instead
        expected.append("Secret")
    else:
        expected.append("ServiceMonitor")
    assert kinds == sorted(expected)
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD: kubernetes-validate has no schema for it (next test)
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_validation_is_strict() -> None:
    """The check above would catch a misspelt field (so it can fail)."""
    doc = one(render(), "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


def test_service_monitor_is_valid_and_selects_the_metrics_service(
    production_docs: list[Manifest], default_docs: list[Manifest]
) -> None:
    assert not [d for d in default_docs if d["kind"] == "ServiceMonitor"]  # off by default
    monitor = one(production_docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    jsonschema.validate(monitor, SERVICE_MONITOR)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = one(production_docs, "Service", "-metrics")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]


def test_schema_job_is_a_hook_running_the_schema_commands() -> None:
    for upgrade, command in [(False, "setup"), (True, "upgrade")]:
        job = one(render(PRODUCTION, upgrade=upgrade), "Job", "-schema")
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        # Hooks run before the release's own resources exist: none may be used.
        assert "serviceAccountName" not in pod and "volumes" not in pod
        [container] = pod["containers"]
        args = parse_args(container["args"])  # the real CLI accepts them
        assert (args.command, args.schema_command) == ("schema", command)
        assert args.db == PRODUCTION["database"]["url"]
        assert env_of(container)["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pytemporal-db",
            "key": "password",
        }


def test_server_config_loads_and_matches_the_pod(
    production_docs: list[Manifest], tmp_path: Path
) -> None:
    container = server_container(production_docs)
    args = parse_args(container["args"])
    assert (args.command, args.server_command) == ("server", "start")
    config_path = args.config
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[config_path]["subPath"] == "config.yaml"

    document = config_of(production_docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "grpc": document["listen"]["port"],
        "internode": document["cluster"]["port"],
        "http": document["http"]["port"],
        "ui": document["ui"]["port"],
        "metrics": document["metrics"]["port"],
    }
    assert (ports["grpc"], ports["internode"], ports["http"], ports["ui"], ports["metrics"]) == (
        7233,
        7234,
        7243,
        8233,
        9090,
    )
    assert document["num_history_shards"] == 48
    for section, keys in AGREED_LISTENERS.items():
        assert set(document[section]) == keys
        assert document[section]["ip"] == "0.0.0.0"
    assert "secret" not in document["cluster"]  # from the Secret, below

    known = {section for section, _ in config_file._FILE_KEYS}
    loadable = {k: v for k, v in document.items() if k in known or k not in AGREED_LISTENERS}
    env = {
        "PYTEMPORAL_CLUSTER_SECRET": "a-secret-from-the-secret-store",
        "PYTEMPORAL_CLUSTER_ADVERTISE_ADDRESS": "10.1.2.3:7234",
    }
    pod_env = env_of(container)
    assert set(env) <= set(pod_env)
    assert pod_env["PYTEMPORAL_CLUSTER_ADVERTISE_ADDRESS"]["value"] == "$(POD_IP):7234"
    assert pod_env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(loadable))
    config = load_server_config(str(path), env)
    assert config.port == 7233 and config.ip == "0.0.0.0"
    assert config.internode.port == 7234 and config.internode.advertise_address == "10.1.2.3:7234"
    assert config.num_history_shards == 48
    assert config.database_url == PRODUCTION["database"]["url"]
    assert config.namespaces == ["orders", "billing"]
    assert config.tls.frontend is not None and config.tls.frontend.require_client_auth
    assert config.tls.internode is not None
    assert config.tls.internode.client.server_name == "pytemporal-internode"
    if "metrics" in known:
        assert config.metrics_port == 9090


def test_probes_use_health_on_the_metrics_port(production_docs: list[Manifest]) -> None:
    container = server_container(production_docs)
    metrics_port = config_of(production_docs)["metrics"]["port"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health"
        assert named[get["port"]] == metrics_port
        assert get.get("scheme", "HTTP") == "HTTP"


def test_secrets_are_referenced_never_inlined(production_docs: list[Manifest]) -> None:
    container = server_container(production_docs)
    env = env_of(container)
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "pytemporal-db",
        "key": "password",
    }
    assert env["PYTEMPORAL_CLUSTER_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "pytemporal-cluster",
        "key": "secret",
    }
    assert all(
        "value" not in e
        for name, e in env.items()
        if name != "PYTEMPORAL_CLUSTER_ADVERTISE_ADDRESS"
    )
    pod = one(production_docs, "Deployment")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {
        "tls-frontend": "pytemporal-frontend-tls",
        "tls-internode": "pytemporal-internode-tls",
    }
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    tls = config_of(production_docs)["tls"]
    assert tls["frontend"]["server"]["certFile"] == f"{mounts['tls-frontend']}/tls.crt"
    assert tls["frontend"]["server"]["clientCaFiles"] == [f"{mounts['tls-frontend']}/ca.crt"]
    assert tls["internode"]["server"]["keyFile"] == f"{mounts['tls-internode']}/tls.key"


def test_a_password_in_the_database_url_is_refused() -> None:
    with pytest.raises(HelmError, match="must not contain a password"):
        render({"database": {"url": "postgresql://u:hunter2@db:5432/t"}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tls": {"frontend": {"enabled": True}}}, "tls.frontend.secretName is required"),
        (
            {"tls": {"internode": {"enabled": True, "secretName": "s"}}},
            "tls.internode.serverName is required",
        ),
        ({"database": {"url": "sqlite:////data/db"}}, "/database/url"),
        # values.schema.json: misspelt keys and bad values fail before anything renders.
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
        ({"server": {"numHistoryShard": 8}}, "additional properties 'numHistoryShard'"),
        ({"server": {"numHistoryShards": 0}}, "/server/numHistoryShards"),
        ({"server": {"logLevel": "loud"}}, "/server/logLevel"),
        ({"ports": {"grpc": "7233"}}, "/ports/grpc"),
    ],
)
def test_incomplete_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        render(values)


def test_default_cluster_secret_is_generated(default_docs: list[Manifest]) -> None:
    secret = one(default_docs, "Secret", "-cluster")
    ref = env_of(server_container(default_docs))["PYTEMPORAL_CLUSTER_SECRET"]
    assert ref["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert len(secret["data"][ref["valueFrom"]["secretKeyRef"]["key"]]) >= 24  # base64


def test_replicas_pdb_and_rolling_update(production_docs: list[Manifest]) -> None:
    deployment = one(production_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = one(production_docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    frontend = one(production_docs, "Service", "-frontend")["spec"]["ports"]
    assert {p["name"]: p["appProtocol"] for p in frontend} == {"grpc": "grpc", "http": "https"}
    for name in ("-frontend", "-web", "-metrics"):
        selector = one(production_docs, "Service", name)["spec"]["selector"]
        assert selector.items() <= pod_labels.items()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert server_container(production_docs)["securityContext"]["readOnlyRootFilesystem"]


def test_network_policy_keeps_the_internode_port_to_the_servers(
    production_docs: list[Manifest],
) -> None:
    policy = one(production_docs, "NetworkPolicy")["spec"]
    pod_labels = one(production_docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    named = {p["name"] for p in server_container(production_docs)["ports"]}
    by_port = {}
    for rule in policy["ingress"]:
        for port in rule["ports"]:
            assert port["port"] in named
            by_port[port["port"]] = rule.get("from")
    assert set(by_port) == named
    [peer] = by_port["internode"]
    assert peer["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert all(by_port[name] is None for name in named - {"internode"})
    assert not [
        d for d in render({"networkPolicy": {"enabled": False}}) if d["kind"] == "NetworkPolicy"
    ]
    peers = [{"namespaceSelector": {"matchLabels": {"team": "orders"}}}]
    narrowed = one(render({"networkPolicy": {"apiFrom": peers}}), "NetworkPolicy")
    kubernetes_validate.validate(narrowed, KUBERNETES_VERSIONS[-1], strict=True)
    rules = {p["port"]: r.get("from") for r in narrowed["spec"]["ingress"] for p in r["ports"]}
    assert rules["grpc"] == rules["http"] == rules["ui"] == peers
    assert rules["metrics"] is None and rules["internode"] != peers


def test_config_change_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = one(render(values), "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"server": {"logLevel": "debug"}})


def test_helm_lint_is_clean() -> None:
    report = lint(PRODUCTION)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


def test_values_schema_follows_the_values_and_the_server() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["properties"]) - {"global"} == set(values)
    for key, sub in schema["properties"].items():
        if sub.get("additionalProperties") is False:
            assert set(sub["properties"]) >= set(values[key]), key
    server = schema["properties"]["server"]["properties"]
    assert tuple(server["logLevel"]["enum"]) == LOG_LEVELS
    assert tuple(server["logFormat"]["enum"]) == LOG_FORMATS
    assert server["numHistoryShards"]["maximum"] == config_file.MAX_SHARDS


def test_values_file_is_documented_line_by_line() -> None:
    """Every key in values.yaml has a comment on its line or right above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
            continue
        above = lines[i - 1].strip() if i else ""
        if "#" not in line and not above.startswith("#"):
            undocumented.append(f"{i + 1}: {line}")
    assert not undocumented, "\n".join(undocumented)


def test_job_and_deployment_run_the_same_image(production_docs: list[Manifest]) -> None:
    job = one(production_docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    image = server_container(production_docs)["image"]
    assert job["image"] == image == "registry.example.com/pytemporal:0.1.0"
    assert shlex.join(job["args"][:2]) == "schema setup"
