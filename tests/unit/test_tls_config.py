"""The `cluster` and `tls` settings of `server start`, and certificate reloading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from integration.certs import CA
from pytemporal.cli.config_file import ConfigError, load_server_config
from pytemporal.common import tls
from pytemporal.config import ServerConfig

PG = "postgresql://postgres@127.0.0.1:5432/db"
SECRET = "s" * 16


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ServerConfig:
    path = tmp_path / "c.yaml"
    path.write_text(f"persistence: {{database_url: {PG}}}\n{text}")
    return load_server_config(str(path), env or {})


def test_cluster_settings_from_file_and_environment(tmp_path: Path) -> None:
    text = (
        "cluster:\n  ip: 10.0.0.5\n  port: 7300\n  advertise_address: node-1:7300\n"
        f"  secret: {SECRET}\n"
    )
    config = load(tmp_path, text)
    node = config.internode
    assert (node.ip, node.port, node.advertise_address, node.secret) == (
        "10.0.0.5",
        7300,
        "node-1:7300",
        SECRET,
    )
    env = {"PYTEMPORAL_CLUSTER_PORT": "7400", "PYTEMPORAL_CLUSTER_SECRET": "t" * 20}
    node = load(tmp_path, text, env).internode
    assert (node.port, node.secret) == (7400, "t" * 20)


def test_defaults_listen_on_loopback_on_any_port(tmp_path: Path) -> None:
    node = load(tmp_path, "").internode
    assert (node.ip, node.port, node.secret, node.insecure) == ("127.0.0.1", 0, None, False)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("cluster: {ip: 0.0.0.0}", {}, "needs credentials: set cluster.secret"),
        ("cluster: {ip: 10.0.0.5}", {}, "cluster.insecure: true"),
        ("cluster: {secret: short}", {}, "at least 16 characters"),
        ("cluster: {insecure: maybe}", {}, "expected true or false"),
        ("cluster: {ip: 0.0.0.0}", {"PYTEMPORAL_CLUSTER_INSECURE": "no"}, "true or false"),
        ("cluster: {nope: 1}", {}, "unknown setting 'cluster.nope'"),
        ("listen: {advertise_address: a:1}", {}, "unknown setting 'listen.advertise_address'"),
        ("tls: {frontend: {server: {certFile: a.pem}}}", {}, r"tls.frontend.server.keyFile"),
        (
            "tls: {frontend: {server: {certFile: a, keyFile: b, requireClientAuth: true}}}",
            {},
            "requireClientAuth needs clientCaFiles",
        ),
        ("tls: {frontend: {server: {certFile: a, keyFile: b, cert: c}}}", {}, "unknown setting"),
        ("tls: {internode: {server: {certFile: a, keyFile: b}}}", {}, "clientCaFiles: required"),
        (
            "tls: {internode: {server: {certFile: a, keyFile: b, clientCaFiles: [c],"
            " requireClientAuth: false}}}",
            {},
            "always mutual",
        ),
        ("tls: {frontend: []}", {}, "tls.frontend: expected a mapping"),
    ],
)
def test_bad_settings_are_clear_errors(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text, env)


def test_a_wildcard_listener_runs_with_a_secret_tls_or_explicitly_insecure(tmp_path: Path) -> None:
    load(tmp_path, f"cluster: {{ip: 0.0.0.0, secret: {SECRET}}}")
    load(tmp_path, "cluster: {ip: 0.0.0.0, insecure: true}")
    load(tmp_path, "cluster: {ip: 0.0.0.0}", {"PYTEMPORAL_CLUSTER_INSECURE": "true"})
    load(
        tmp_path,
        "cluster: {ip: 0.0.0.0}\n"
        "tls: {internode: {server: {certFile: a, keyFile: b, clientCaFiles: [c]}}}",
    )


def test_tls_settings_like_temporals_global_tls(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "tls:\n"
        "  frontend:\n    server:\n      certFile: f.pem\n      keyFile: f.key\n"
        "      clientCaFiles: [clients.pem]\n      requireClientAuth: true\n"
        "  internode:\n    server:\n      certFile: n.pem\n      keyFile: n.key\n"
        "      clientCaFiles: cluster.pem\n    client:\n      serverName: node\n",
    ).tls
    assert config.frontend == tls.ServerTLS("f.pem", "f.key", ["clients.pem"], True)
    assert config.internode == tls.InternodeTLS(
        server=tls.ServerTLS("n.pem", "n.key", ["cluster.pem"], True),
        client=tls.ClientTLS(root_ca_files=["cluster.pem"], server_name="node"),
    )


# -- credentials and reloading -----------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    # A rewrite within the same clock tick must still be noticed.
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_missing_or_mismatched_files_are_refused(tmp_path: Path) -> None:
    ca = CA()
    cert, key = ca.issue("a").write(tmp_path, "a")
    _, other_key = ca.issue("b").write(tmp_path, "b")
    with pytest.raises(tls.TLSConfigError, match="missing.pem"):
        tls.server_credentials(tls.ServerTLS(str(tmp_path / "missing.pem"), str(key)))
    with pytest.raises(tls.TLSConfigError, match="is not the key of the certificate"):
        tls.server_credentials(tls.ServerTLS(str(cert), str(other_key)))
    assert tls.server_credentials(tls.ServerTLS(str(cert), str(key))) is not None


def test_the_reloader_loads_a_complete_new_pair_only(tmp_path: Path) -> None:
    ca = CA()
    cert, key = ca.issue("a").write(tmp_path, "server")
    reloader = tls._Reloader(tls.ServerTLS(str(cert), str(key)))
    assert reloader() is None  # nothing changed
    new = ca.issue("b")
    _write(key, new.key)
    assert reloader() is None  # the key without its certificate: keep the old pair
    _write(cert, new.cert)
    assert reloader() is not None
    assert reloader() is None
