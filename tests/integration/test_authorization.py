"""JWT authorization against a real `server start --config` process on SQLite.

The test makes its own keys: an RSA key published in a JWKS file and an EC key
served as JWKS over HTTP from a thread, so one server exercises both key sources and
both algorithms. Every refusal must be Temporal's: PERMISSION_DENIED "Request
unauthorized." whatever the cause (no token, a bad token, a missing role).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.api.command.v1 import Command
from temporalio.api.enums.v1 import CommandType, TaskQueueKind
from temporalio.api.errordetails.v1 import PermissionDeniedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetClusterInfoRequest,
    GetSystemInfoRequest,
    ListNamespacesRequest,
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    RegisterNamespaceRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from jwtkeys import SigningKey, jwks

from .harness import (
    PYTEMPORAL,
    ServerProcess,
    free_port,
    reference_binary,
    running_worker,
    unique,
    wait_for,
)
from .test_metrics import scrape
from .workflows import MultiStepWorkflow, StepActivities

AUDIENCE = "pytemporal-tests"
RSA = SigningKey.rsa("file-rsa")
EC = SigningKey.ec("http-ec")


class JwksServer:
    """A JWKS document over HTTP whose keys a test can change."""

    def __init__(self, *keys: SigningKey) -> None:
        self.document = jwks(*keys)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = owner.document
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


ADMIN = RSA.token(["temporal-system:admin"], aud=AUDIENCE, sub="admin")


class AuthorizedServer(ServerProcess):
    """`pytemporal server start --config FILE`; readiness is checked with an admin token."""

    def __init__(self, config_path: Path, port: int) -> None:
        super().__init__(PYTEMPORAL, port=port)
        self.config_path = config_path

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytemporal",
            "server",
            "start",
            "--config",
            str(self.config_path),
        ]

    async def connect(self, **kwargs: Any) -> Client:
        kwargs.setdefault("rpc_metadata", bearer(ADMIN))
        return await super().connect(**kwargs)


@pytest.fixture(scope="module")
def jwks_http() -> Iterator[JwksServer]:
    with JwksServer(EC) as server:
        yield server


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("authz-db") / "pytemporal.db"
    setup = subprocess.run(
        [sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stderr
    return db


async def start_server(
    tmp: Path, database: Path | str, jwks_http: JwksServer, extra: str = ""
) -> AuthorizedServer:
    """`database`: a SQLite file, or a PostgreSQL URL."""
    key_file = tmp / "jwks.json"
    key_file.write_bytes(jwks(RSA))
    port = ServerProcess(PYTEMPORAL).port  # a free port
    config = tmp / f"pytemporal-{port}.yaml"
    store = (
        f"sqlite_path: '{database}'"
        if isinstance(database, Path)
        else f"database_url: '{database}'"
    )
    config.write_text(
        f"persistence: {{{store}}}\n"
        f"listen: {{ip: 127.0.0.1, port: {port}}}\n"
        "namespaces: [orders, billing]\n"
        "authorization:\n"
        "  jwtKeyProvider:\n"
        f"    keySourceURIs: ['{key_file.as_uri()}', '{jwks_http.url}']\n"
        "    refreshInterval: 1h\n"
        f"  audience: {AUDIENCE}\n"
        "  authorizer: default\n"
        "  claimMapper: default\n" + extra
    )
    proc = AuthorizedServer(config, port)
    await proc.start()
    return proc


@pytest.fixture(scope="module")
async def server(
    tmp_path_factory: pytest.TempPathFactory, database: Path, jwks_http: JwksServer
) -> AsyncIterator[AuthorizedServer]:
    proc = await start_server(tmp_path_factory.mktemp("authz"), database, jwks_http)
    try:
        yield proc
    finally:
        proc.terminate(timeout=5)


async def connect(server: AuthorizedServer, namespace: str, token: str | None) -> Client:
    metadata = bearer(token) if token is not None else {}
    return await Client.connect(server.target, namespace=namespace, rpc_metadata=metadata)


async def refused(call: Any) -> None:
    with pytest.raises(RPCError) as info:
        await call
    assert (info.value.status, info.value.message) == (
        RPCStatusCode.PERMISSION_DENIED,
        "Request unauthorized.",
    )
    assert info.value.grpc_status.details[0].Unpack(PermissionDeniedFailure())


def describe(client: Client, namespace: str = "default") -> Any:
    return client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))


def token(key: SigningKey, permissions: list[str], **claims: Any) -> str:
    claims.setdefault("aud", AUDIENCE)
    return key.token(permissions, **claims)


async def test_admin_and_writer_tokens_run_a_workflow_end_to_end(server: AuthorizedServer) -> None:
    # The SDK's api_key is sent as `authorization: Bearer <key>`.
    admin = await Client.connect(server.target, namespace="default", api_key=ADMIN, tls=False)
    # Temporal's default authorizer gives pollers nothing below `write` (the `worker`
    # role alone is refused); a worker's token is a namespace writer.
    worker_client = await connect(server, "default", token(EC, ["default:write", "default:worker"]))
    acts = StepActivities()
    task_queue = unique("authz")
    async with running_worker(
        worker_client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
    ):
        handle = await admin.start_workflow(
            MultiStepWorkflow.run, 0.01, id=unique("authz"), task_queue=task_queue
        )
        assert await asyncio.wait_for(handle.result(), 30) == ["a", "b", "c", "d"]
    assert acts.executions == {"a": 1, "b": 1, "c": 1, "d": 1}


async def test_calls_without_a_token_are_refused_but_health_checks_are_not(
    server: AuthorizedServer,
) -> None:
    anonymous = await connect(server, "default", None)  # connecting calls GetSystemInfo
    await anonymous.workflow_service.get_system_info(GetSystemInfoRequest())
    await refused(describe(anonymous))
    await refused(anonymous.start_workflow("Any", id=unique("anon"), task_queue="q"))
    await refused(anonymous.workflow_service.list_namespaces(ListNamespacesRequest()))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Basic " + ADMIN,
        ADMIN,  # no scheme
        "Bearer " + token(RSA, ["temporal-system:admin"], lifetime=-60),  # expired
        "Bearer " + token(RSA, ["temporal-system:admin"], aud="someone-else"),  # wrong audience
        "Bearer " + RSA.token(["temporal-system:admin"]),  # no audience
        "Bearer " + token(RSA, ["temporal-system:admin"], kid="nobody"),  # unknown key id
        # Signed by a key the server does not know, under a key id it does.
        "Bearer " + token(SigningKey.rsa("file-rsa"), ["temporal-system:admin"]),
        "Bearer " + token(SigningKey.ec("http-ec"), ["temporal-system:admin"]),
        # An EC token naming the RSA key's id.
        "Bearer " + token(SigningKey.ec("file-rsa"), ["temporal-system:admin"]),
    ],
    ids=[
        "malformed",
        "garbage-segments",
        "basic-scheme",
        "no-scheme",
        "expired",
        "wrong-audience",
        "no-audience",
        "unknown-kid",
        "wrong-rsa-signature",
        "wrong-ec-signature",
        "key-type-mismatch",
    ],
)
async def test_bad_tokens_are_refused_like_temporal(server: AuthorizedServer, header: str) -> None:
    client = await Client.connect(
        server.target, namespace="default", rpc_metadata={"authorization": header}
    )
    await refused(describe(client))
    await refused(client.workflow_service.get_cluster_info(GetClusterInfoRequest()))


async def test_reader_reads_but_cannot_write(server: AuthorizedServer) -> None:
    admin = await connect(server, "orders", ADMIN)
    handle = await admin.start_workflow(
        MultiStepWorkflow.run, 0.01, id=unique("read"), task_queue=unique("nobody")
    )
    for key in (RSA, EC):
        reader = await connect(server, "orders", token(key, ["orders:read"]))
        await describe(reader, "orders")
        assert (await reader.get_workflow_handle(handle.id).describe()).id == handle.id
        assert [w.id async for w in reader.list_workflows(f"WorkflowId = '{handle.id}'")] == [
            handle.id
        ]
        await refused(
            reader.start_workflow(MultiStepWorkflow.run, 0.01, id=unique("w"), task_queue="q")
        )
        await refused(reader.get_workflow_handle(handle.id).signal("go"))
        await refused(reader.get_workflow_handle(handle.id).terminate())
    await handle.terminate()


async def test_worker_role_alone_may_not_poll_or_start(server: AuthorizedServer) -> None:
    worker = await connect(server, "default", token(EC, ["default:worker"]))
    await refused(
        worker.workflow_service.poll_activity_task_queue(
            PollActivityTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name="q", kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            )
        )
    )
    await refused(worker.start_workflow("Any", id=unique("w"), task_queue="q"))


async def test_a_namespace_token_does_not_reach_another_namespace(server: AuthorizedServer) -> None:
    orders_admin = token(RSA, ["orders:admin"])
    orders = await connect(server, "orders", orders_admin)
    await describe(orders, "orders")
    handle = await orders.start_workflow(
        MultiStepWorkflow.run, 0.01, id=unique("iso"), task_queue=unique("nobody")
    )
    await handle.terminate()
    billing = await connect(server, "billing", orders_admin)
    await refused(describe(billing, "billing"))
    await refused(
        billing.start_workflow(MultiStepWorkflow.run, 0.01, id=unique("iso"), task_queue="q")
    )
    # Naming another namespace in the request is what counts, not the client's default.
    await refused(describe(orders, "billing"))
    # Cluster-scoped APIs need a system role, which a namespace admin lacks.
    await refused(orders.workflow_service.list_namespaces(ListNamespacesRequest()))


async def test_system_admin_registers_namespaces_and_others_may_not(
    server: AuthorizedServer,
) -> None:
    name = unique("ns")
    request = RegisterNamespaceRequest(namespace=name)
    request.workflow_execution_retention_period.FromSeconds(86400)
    writer = await connect(server, "default", token(EC, ["temporal-system:write"]))
    await refused(writer.workflow_service.register_namespace(request))
    admin = await connect(server, "default", ADMIN)
    await admin.workflow_service.register_namespace(request)
    system_reader = await connect(server, name, token(EC, ["temporal-system:read"]))
    assert (await describe(system_reader, name)).namespace_info.name == name
    listed = await system_reader.workflow_service.list_namespaces(ListNamespacesRequest())
    assert name in [n.namespace_info.name for n in listed.namespaces]


async def test_custom_permissions_are_not_stretched(server: AuthorizedServer) -> None:
    # Unknown roles and entries without a colon grant nothing.
    client = await connect(server, "default", token(EC, ["default:owner", "default", "default:"]))
    await refused(describe(client))


async def test_a_key_rotated_into_the_jwks_url_is_picked_up_on_first_use(
    server: AuthorizedServer, jwks_http: JwksServer
) -> None:
    rotated = SigningKey.ec(unique("rotated"))
    jwks_http.document = jwks(EC, rotated)
    client = await connect(server, "default", token(rotated, ["default:read"]))

    async def accepted() -> bool:
        try:
            await describe(client)
            return True
        except RPCError as e:
            assert e.status == RPCStatusCode.PERMISSION_DENIED
            return False

    # The refresh interval is an hour: only the unknown key id reloads the keys (at
    # most every few seconds).
    await wait_for(accepted, within=20, interval=0.5, message="rotated key accepted")


async def test_workflow_commands_into_another_namespace_need_rights_there(
    server: AuthorizedServer,
) -> None:
    task_queue = unique("cross")
    admin = await connect(server, "default", ADMIN)
    await admin.start_workflow("Cross", id=unique("cross"), task_queue=task_queue)
    writer = await connect(server, "default", token(EC, ["default:write"]))
    poll = await writer.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        )
    )
    assert poll.task_token

    def completion(namespace: str) -> RespondWorkflowTaskCompletedRequest:
        command = Command(command_type=CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION)
        attrs = command.signal_external_workflow_execution_command_attributes
        attrs.namespace = namespace
        attrs.execution.workflow_id = "elsewhere"
        attrs.signal_name = "poke"
        return RespondWorkflowTaskCompletedRequest(
            namespace="default", task_token=poll.task_token, commands=[command]
        )

    await refused(writer.workflow_service.respond_workflow_task_completed(completion("orders")))
    both = await connect(server, "default", token(EC, ["default:write", "orders:write"]))
    await both.workflow_service.respond_workflow_task_completed(completion("orders"))


async def test_worker_role_option_lets_a_worker_token_run_tasks_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory, jwks_http: JwksServer
) -> None:
    tmp = tmp_path_factory.mktemp("authz-worker-role")
    database = tmp / "pytemporal.db"
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{database}"
    )
    assert await setup.wait() == 0
    server = await start_server(tmp, database, jwks_http, "  workerRoleTaskAPIs: true\n")
    try:
        admin = await connect(server, "default", ADMIN)
        worker = await connect(server, "default", token(EC, ["default:worker"]))
        acts = StepActivities()
        task_queue = unique("worker-role")
        async with running_worker(
            worker, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
        ):
            handle = await admin.start_workflow(
                MultiStepWorkflow.run, 0.01, id=unique("worker-role"), task_queue=task_queue
            )
            assert await asyncio.wait_for(handle.result(), 30) == ["a", "b", "c", "d"]
        await refused(worker.start_workflow("Any", id=unique("w"), task_queue=task_queue))
        await refused(worker.get_workflow_handle(handle.id).describe())
        await refused(worker.get_workflow_handle(handle.id).signal("go"))
        # A worker of one namespace polls no other.
        other = await connect(server, "orders", token(EC, ["default:worker"]))
        await refused(
            other.workflow_service.poll_activity_task_queue(
                PollActivityTaskQueueRequest(
                    namespace="orders",
                    task_queue=TaskQueue(name="q", kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                )
            )
        )
    finally:
        server.terminate(timeout=5)


async def temporal_cli(server: AuthorizedServer, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        reference_binary(),
        *args,
        "--address",
        server.target,
        "--namespace",
        "orders",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return int(proc.returncode or 0), out.decode()


async def test_temporal_cli_connects_with_an_api_key(server: AuthorizedServer) -> None:
    reader = token(RSA, ["orders:read"])
    # `--api-key` sends `authorization: Bearer <key>` (and would turn TLS on).
    status, out = await temporal_cli(
        server,
        "operator",
        "namespace",
        "describe",
        "-o",
        "json",
        "--api-key",
        reader,
        "--tls=false",
    )
    assert status == 0, out
    assert "orders" in out
    status, out = await temporal_cli(server, "workflow", "list", "--api-key", reader, "--tls=false")
    assert status == 0, out
    status, out = await temporal_cli(server, "workflow", "list")
    assert status != 0
    assert "Request unauthorized." in out
    status, out = await temporal_cli(
        server,
        "workflow",
        "start",
        "--type",
        "T",
        "--task-queue",
        "q",
        "--api-key",
        reader,
        "--tls=false",
    )
    assert status != 0
    assert "Request unauthorized." in out


async def test_calls_forwarded_between_processes_keep_their_authorization(
    tmp_path: Path, postgres_url: str, jwks_http: JwksServer
) -> None:
    """Two processes share 8 shards: calls entering one are authorized there and, when
    forwarded to the other (which authorizes them again), still carry their token."""
    setup = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytemporal",
        "schema",
        "setup",
        "--db",
        postgres_url,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await setup.wait() == 0
    shards = "num_history_shards: 8\n"
    servers = [
        await start_server(tmp_path, postgres_url, jwks_http, shards),
        await start_server(tmp_path, postgres_url, jwks_http, shards),
    ]
    try:

        async def both_own_shards() -> bool:
            conn = await asyncpg.connect(postgres_url)
            try:
                owners = await conn.fetchval(
                    "SELECT count(DISTINCT owner) FROM shards WHERE shard_id > 0"  # 0: a marker
                )
            finally:
                await conn.close()
            return bool(owners == 2)

        await wait_for(both_own_shards, within=30, interval=0.2, message="shards shared")
        entry = servers[0]
        writer = await connect(entry, "default", token(EC, ["default:write"]))
        reader = await connect(entry, "default", token(RSA, ["default:read"]))
        task_queue = unique("forwarded")
        acts = StepActivities()
        async with running_worker(
            writer, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
        ):
            handles = [
                await writer.start_workflow(
                    MultiStepWorkflow.run, 0.01, id=unique("fwd"), task_queue=task_queue
                )
                for _ in range(8)
            ]
            for handle in handles:
                assert await asyncio.wait_for(handle.result(), 60) == ["a", "b", "c", "d"]
                assert (await reader.get_workflow_handle(handle.id).describe()).id == handle.id
                await refused(reader.get_workflow_handle(handle.id).signal("go"))
        for _ in range(8):
            await refused(
                reader.start_workflow(MultiStepWorkflow.run, 0.01, id=unique("w"), task_queue="q")
            )
    finally:
        for server in servers:
            server.terminate(timeout=5)


async def test_refusals_of_the_authorizer_are_counted_as_temporal_counts_them(
    tmp_path_factory: pytest.TempPathFactory, jwks_http: JwksServer
) -> None:
    """`service_errors_unauthorized` (operation "Authorization", the namespace when it
    exists) counts a valid token without the permission; a bad token is not counted."""
    tmp = tmp_path_factory.mktemp("authz-metrics")
    database = tmp / "pytemporal.db"
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{database}"
    )
    assert await setup.wait() == 0
    metrics_port = free_port()
    extra = f"metrics: {{ip: 127.0.0.1, port: {metrics_port}}}\n"
    server = await start_server(tmp, database, jwks_http, extra)
    try:
        reader = await connect(server, "orders", token(EC, ["orders:read"]))
        await refused(reader.start_workflow("Any", id=unique("w"), task_queue="q"))
        await refused(reader.get_workflow_handle("any").terminate())
        await refused(describe(reader, "no-such-namespace"))
        await refused(describe(await connect(server, "orders", "not-a-jwt"), "orders"))
        s = await scrape(metrics_port)
    finally:
        server.terminate(timeout=5)
    family = "service_errors_unauthorized"
    assert s.types[family] == "counter"
    labels = {"operation": "Authorization", "service_name": "frontend"}
    assert s.total(family, namespace="orders", **labels) == 2
    assert s.total(family, namespace="_unknown_", **labels) == 1
    assert s.total(family) == 3  # the bad token is not the authorizer's refusal
