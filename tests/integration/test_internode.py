"""Cluster traffic stays off the public port, and the internode listener checks who calls.

* The public port of `start-dev` and of `server start` answers UNIMPLEMENTED for every
  internal method.
* `server start`'s internode listener refuses calls without the cluster secret (or
  with a wrong one) with UNAUTHENTICATED: a 3 MB signal injected there without
  credentials never reaches the workflow, while the same call with the secret does.
* A malformed internal request gets INVALID_ARGUMENT with no Python internals.
* With internode mutual TLS (no secret), a caller without a certificate of the
  cluster CA is refused at the handshake, and two processes still route calls,
  children and signals between them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import SignalExternalWorkflowExecutionInitiatedEventAttributes
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from pytemporal.proto.internal.v1 import internal_pb2 as pb
from pytemporal.rpc.auth import SECRET_HEADER

from .certs import CA, Pem
from .harness import (
    CLUSTER_SECRET,
    PYTEMPORAL,
    REFERENCE,
    ServerProcess,
    event_types,
    free_port,
    running_worker,
    unique,
)
from .test_postgres_server import ConfiguredServer, pytemporal
from .test_scale_out import CHILDREN, ClusterChild, ClusterParent, ClusterWorkflow, cluster_step

INTERNAL_METHODS = [
    f"/{svc.full_name}/{m.name}"
    for svc in pb.DESCRIPTOR.services_by_name.values()
    for m in svc.methods
]
SIGNAL_EXTERNAL = "/pytemporal.internal.v1.HistoryService/SignalExternal"
DESCRIBE_NAMESPACE = "/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace"
# Words that would betray a Python exception in a status message.
INTERNALS = ("Traceback", "Error", "Exception", "exception", "line ", ".py", "<class")


class Node(ConfiguredServer):
    def __init__(self, config: Path, port: int, cluster_port: int) -> None:
        super().__init__(config, port)
        self.cluster_port = cluster_port

    @property
    def internal_target(self) -> str:
        return f"127.0.0.1:{self.cluster_port}"


def _config(
    tmp_path: Path, database_url: str, *, secret: str | None, tls: str = ""
) -> tuple[Path, int, int]:
    port, cluster_port = free_port(), free_port()
    path = tmp_path / f"node-{port}.yaml"
    cluster = f"cluster:\n  port: {cluster_port}\n"
    if secret:
        cluster += f"  secret: {secret}\n"
    path.write_text(
        f"persistence:\n  database_url: {database_url}\n  pool_size: 5\n"
        f"listen:\n  ip: 127.0.0.1\n  port: {port}\n{cluster}{tls}"
        "num_history_shards: 8\nlog_level: warn\n"
    )
    return path, port, cluster_port


async def _cluster(
    tmp_path: Path, database_url: str, *, secret: str | None, tls: str = ""
) -> AsyncIterator[list[Node]]:
    setup = pytemporal("schema", "setup", "--db", database_url)
    assert setup.returncode == 0, setup.stderr
    nodes = [Node(*_config(tmp_path, database_url, secret=secret, tls=tls)) for _ in range(2)]
    try:
        for node in nodes:
            await node.start()
        yield nodes
    finally:
        for node in nodes:
            node.kill()


@pytest.fixture
async def secret_cluster(
    server_kind: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[list[Node]]:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own multi-process deployment")
    async for nodes in _cluster(tmp_path, postgres_url, secret=CLUSTER_SECRET):
        yield nodes


async def _raw_call(
    target: str,
    path: str,
    body: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> tuple[grpc.StatusCode, str, bytes | None]:
    """One unary call with raw bytes: (status, message, response)."""
    if credentials is None:
        channel = grpc.aio.insecure_channel(target)
    else:
        channel = grpc.aio.secure_channel(target, credentials)
    async with channel:
        call = channel.unary_unary(path)
        try:
            response = await call(body, metadata=tuple(metadata), timeout=10)
        except grpc.aio.AioRpcError as e:
            return e.code(), e.details() or "", None
        return grpc.StatusCode.OK, "", response


async def test_the_public_port_has_no_internal_methods(server: ServerProcess) -> None:
    if server.kind == REFERENCE:
        pytest.skip("pytemporal's internal methods")
    for path in INTERNAL_METHODS:
        code, _, _ = await _raw_call(server.target, path, b"", [(SECRET_HEADER, CLUSTER_SECRET)])
        assert code == grpc.StatusCode.UNIMPLEMENTED, path


async def test_the_internode_listener_needs_the_secret(secret_cluster: list[Node]) -> None:
    node = secret_cluster[0]
    ns = DescribeNamespaceRequest(namespace="default").SerializeToString()
    for path in (SIGNAL_EXTERNAL, DESCRIBE_NAMESPACE):
        for metadata in ([], [(SECRET_HEADER, "x" * len(CLUSTER_SECRET))], [(SECRET_HEADER, "")]):
            code, message, _ = await _raw_call(node.internal_target, path, ns, metadata)
            assert code == grpc.StatusCode.UNAUTHENTICATED, (path, metadata)
            assert message == "missing or wrong cluster credentials"
    # With it, a public call (as another process forwards it) is served there.
    code, _, _ = await _raw_call(
        node.internal_target, DESCRIBE_NAMESPACE, ns, [(SECRET_HEADER, CLUSTER_SECRET)]
    )
    assert code == grpc.StatusCode.OK
    # The public port still has no internal method, even with the secret.
    code, _, _ = await _raw_call(
        node.target, SIGNAL_EXTERNAL, b"", [(SECRET_HEADER, CLUSTER_SECRET)]
    )
    assert code == grpc.StatusCode.UNIMPLEMENTED


def _malformed_requests() -> list[tuple[str, bytes]]:
    garbage = b"\xff\xff\xff\xff\x0f"
    bad_task = pb.TaskRef(kind=pb.TASK_KIND_UNSPECIFIED, namespace_id="n", workflow_id="w")
    return [
        *((path, garbage) for path in INTERNAL_METHODS),
        # Well-formed envelopes around a Temporal object that does not parse.
        (
            "/pytemporal.internal.v1.HistoryService/RecordWorkflowTaskStarted",
            pb.RecordWorkflowTaskStartedRequest(
                task=pb.TaskRef(kind=pb.TASK_KIND_WORKFLOW), poll_request=garbage
            ).SerializeToString(),
        ),
        (
            SIGNAL_EXTERNAL,
            pb.SignalExternalRequest(
                target=pb.WorkflowKey(namespace_id="n", workflow_id="w"), attributes=garbage
            ).SerializeToString(),
        ),
        # A task of no known kind.
        (
            "/pytemporal.internal.v1.MatchingService/AddTask",
            pb.AddTaskRequest(task=bad_task, queue="q").SerializeToString(),
        ),
    ]


async def test_malformed_internal_requests_are_invalid_arguments(
    secret_cluster: list[Node],
) -> None:
    node = secret_cluster[0]
    for path, body in _malformed_requests():
        code, message, _ = await _raw_call(
            node.internal_target, path, body, [(SECRET_HEADER, CLUSTER_SECRET)]
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (path, code, message)
        assert message.startswith("malformed pytemporal.internal.v1.") or message.startswith(
            "malformed temporal.api."
        ), message
        assert not any(word in message for word in INTERNALS), message
    assert node.is_running()


async def _signal_request(client: Client, workflow_id: str, run_id: str, size: int) -> bytes:
    ns = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    attrs = SignalExternalWorkflowExecutionInitiatedEventAttributes(
        namespace="default",
        signal_name="poke",
        input=Payloads(
            payloads=[Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * size)]
        ),
    )
    return pb.SignalExternalRequest(
        target=pb.WorkflowKey(
            namespace_id=ns.namespace_info.id, workflow_id=workflow_id, run_id=run_id
        ),
        source=pb.Execution(workflow_id="attacker", run_id=str(uuid.uuid4())),
        request_id=str(uuid.uuid4()),
        attributes=attrs.SerializeToString(),
    ).SerializeToString()


async def test_a_signal_cannot_be_injected_without_credentials(
    secret_cluster: list[Node],
) -> None:
    client = await secret_cluster[0].connect()
    wf = unique("victim")
    handle = await client.start_workflow("ClusterChild", "x", id=wf, task_queue=unique("idle"))
    run_id = handle.result_run_id or ""
    big = await _signal_request(client, wf, run_id, 3 * 1024 * 1024)
    for node in secret_cluster:  # one of them owns the workflow
        for metadata in ([], [(SECRET_HEADER, "wrong-secret-wrong-secret")]):
            code, _, _ = await _raw_call(node.internal_target, SIGNAL_EXTERNAL, big, metadata)
            assert code == grpc.StatusCode.UNAUTHENTICATED
        code, _, _ = await _raw_call(node.target, SIGNAL_EXTERNAL, big)
        assert code == grpc.StatusCode.UNIMPLEMENTED
    assert "WORKFLOW_EXECUTION_SIGNALED" not in await event_types(handle)
    # The request itself was good: with the secret, the owner delivers it.
    small = await _signal_request(client, wf, run_id, 10)
    delivered = []
    for node in secret_cluster:
        code, _, body = await _raw_call(
            node.internal_target, SIGNAL_EXTERNAL, small, [(SECRET_HEADER, CLUSTER_SECRET)]
        )
        if code == grpc.StatusCode.OK and body is not None:
            delivered.append(pb.SignalExternalResponse.FromString(body).delivered)
    assert delivered == [True]
    assert "WORKFLOW_EXECUTION_SIGNALED" in await event_types(handle)


# -- internode mutual TLS -------------------------------------------------------------


class ClusterPKI:
    def __init__(self, directory: Path) -> None:
        self.ca = CA("cluster CA")
        self.ca_path = self.ca.write(directory, "cluster-ca")
        self.node_cert, self.node_key = self.ca.issue("pytemporal-node").write(directory, "node")
        self.member: Pem = self.ca.issue("another-node")
        self.stranger: Pem = CA("not the cluster").issue("stranger")

    def config(self) -> str:
        return (
            "tls:\n  internode:\n    server:\n"
            f"      certFile: {self.node_cert}\n      keyFile: {self.node_key}\n"
            f"      clientCaFiles: [{self.ca_path}]\n"
            f"    client:\n      rootCaFiles: [{self.ca_path}]\n"
        )

    def credentials(self, pem: Pem | None) -> grpc.ChannelCredentials:
        if pem is None:
            return grpc.ssl_channel_credentials(root_certificates=self.ca.pem)
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.pem, private_key=pem.key, certificate_chain=pem.cert
        )


@pytest.fixture
async def tls_cluster(
    server_kind: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[list[Node], ClusterPKI]]:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own multi-process deployment")
    pki = ClusterPKI(tmp_path)
    async for nodes in _cluster(tmp_path, postgres_url, secret=None, tls=pki.config()):
        yield nodes, pki


async def test_internode_mutual_tls_refuses_strangers(
    tls_cluster: tuple[list[Node], ClusterPKI],
) -> None:
    nodes, pki = tls_cluster
    target = nodes[0].internal_target
    probe = b"\xff\xff"  # reaching the handler at all answers INVALID_ARGUMENT
    for who in (None, pki.stranger):
        code, _, _ = await _raw_call(
            target, SIGNAL_EXTERNAL, probe, credentials=pki.credentials(who)
        )
        assert code == grpc.StatusCode.UNAVAILABLE, who  # the handshake fails
    code, _, _ = await _raw_call(target, SIGNAL_EXTERNAL, probe)  # plain text
    assert code == grpc.StatusCode.UNAVAILABLE
    code, _, _ = await _raw_call(
        target, SIGNAL_EXTERNAL, probe, credentials=pki.credentials(pki.member)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_processes_route_calls_over_internode_tls(
    tls_cluster: tuple[list[Node], ClusterPKI],
) -> None:
    nodes, _ = tls_cluster
    a, b = [await n.connect() for n in nodes]
    task_queue = unique("tls-cluster")
    keys = [unique("wf") for _ in range(8)]  # 8 shards on 2 processes: both own some
    async with running_worker(
        b,
        task_queue,
        workflows=[ClusterWorkflow, ClusterParent, ClusterChild],
        activities=[cluster_step],
    ):
        handles = [
            await a.start_workflow(ClusterWorkflow.run, k, id=k, task_queue=task_queue)
            for k in keys
        ]
        for k, h in zip(keys, handles, strict=True):
            assert await b.get_workflow_handle(h.id).result() == [f"{k}:{s}" for s in "abc"]
        parent = unique("parent")
        result = await a.execute_workflow(
            ClusterParent.run, parent, id=parent, task_queue=task_queue
        )
    assert result == [f"c{i}:hi" for i in range(CHILDREN)]
