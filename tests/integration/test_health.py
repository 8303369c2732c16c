"""gRPC health (grpc.health.v1) and server reflection on the public port.

The health service follows the process's serving state: NOT_SERVING while starting
(observed through the `before_serving` hook of `serve()`, which holds the start after
the listeners are up), SERVING, and NOT_SERVING again from the start of a stop while the
calls in flight finish (observed on a subprocess sent SIGTERM with a long poll open).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetSystemInfoRequest,
    ListNamespacesRequest,
    PollActivityTaskQueueRequest,
    service_pb2_grpc,
)

from jwtkeys import SigningKey, jwks
from pytemporal.config import AuthorizationConfig, ServerConfig
from pytemporal.server import serve

from .harness import PYTEMPORAL, REFERENCE, ServerProcess, free_port, wait_for

WORKFLOW_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
OPERATOR_SERVICE = "temporal.api.operatorservice.v1.OperatorService"
TEST_SERVICE = "temporal.api.testservice.v1.TestService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@contextlib.asynccontextmanager
async def in_process(
    config: ServerConfig,
    before_serving: Callable[[dict[str, str]], Awaitable[None]] | None = None,
) -> AsyncIterator[str]:
    """A server in this event loop; yields its gRPC address once it serves."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    endpoints: dict[str, str] = {}

    async def hold() -> None:
        if before_serving is not None:
            await before_serving(endpoints)

    task = asyncio.create_task(
        serve(
            config,
            on_ready=ready.set_result,
            stop=stop,
            endpoints=endpoints,
            before_serving=hold,
        )
    )
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        assert ready in done, "server not ready"
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def check(address: str, service: str = "") -> Any:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
        return reply.status


def dev_config(**kwargs: Any) -> ServerConfig:
    return ServerConfig(ip="127.0.0.1", port=free_port(), shutdown_grace=0.1, **kwargs)


async def test_health_answers_serving_for_the_server_and_each_service() -> None:
    async with in_process(dev_config()) as address:
        for service in ("", WORKFLOW_SERVICE, OPERATOR_SERVICE):
            assert await check(address, service) == SERVING, service
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await check(address, "no.such.Service")
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND  # as Temporal's


@pytest.mark.reference
async def test_the_answers_match_temporals() -> None:
    """Check's statuses and codes, and reflection's public services, as Temporal's."""
    seen = {}
    for kind in (PYTEMPORAL, REFERENCE):
        process = ServerProcess(kind)
        await process.start()
        try:
            statuses = []
            for service in ("", WORKFLOW_SERVICE, OPERATOR_SERVICE, "grpc.health.v1.Health", "x"):
                try:
                    statuses.append(await check(process.target, service))
                except grpc.aio.AioRpcError as e:
                    statuses.append(e.code())
            names = await asyncio.to_thread(_reflected_services, process.target)
            seen[kind] = (statuses, {n for n in names if n.startswith("temporal.api.")})
        finally:
            process.terminate()
    assert seen[PYTEMPORAL] == seen[REFERENCE]


async def test_not_serving_while_starting_then_serving_watch_sees_both() -> None:
    seen: list[Any] = []
    refused: list[grpc.aio.AioRpcError] = []

    async def while_starting(endpoints: dict[str, str]) -> None:
        address = endpoints["grpc"]
        # The listener is up and the start is held here: health says so.
        seen.append(await check(address, WORKFLOW_SERVICE))
        async with grpc.aio.insecure_channel(address) as channel:
            try:
                await service_pb2_grpc.WorkflowServiceStub(channel).GetSystemInfo(
                    GetSystemInfoRequest(), timeout=5
                )
            except grpc.aio.AioRpcError as e:
                refused.append(e)

    statuses: list[Any] = []
    stream: Any = None

    async def watching(endpoints: dict[str, str]) -> None:
        nonlocal stream
        await while_starting(endpoints)
        stream = health_pb2_grpc.HealthStub(watch_channel).Watch(
            health_pb2.HealthCheckRequest(service="")
        )
        # The first status arrives before the start goes on.
        statuses.append((await asyncio.wait_for(stream.read(), 10)).status)

    async with contextlib.AsyncExitStack() as stack:
        port = free_port()
        watch_channel = await stack.enter_async_context(
            grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        )
        config = ServerConfig(ip="127.0.0.1", port=port, shutdown_grace=0.1)
        async with in_process(config, before_serving=watching) as address:
            statuses.append((await asyncio.wait_for(stream.read(), 10)).status)
            assert await check(address) == SERVING
            stream.cancel()
    assert seen == [NOT_SERVING]
    assert [e.code() for e in refused] == [grpc.StatusCode.UNAVAILABLE]
    assert refused[0].details() == "Frontend is not healthy yet"
    assert statuses[:2] == [NOT_SERVING, SERVING]


async def test_reflection_lists_the_public_services() -> None:
    async with in_process(dev_config()) as address:
        names = await asyncio.to_thread(_reflected_services, address)
    assert {WORKFLOW_SERVICE, OPERATOR_SERVICE, "grpc.health.v1.Health"} <= set(names)
    assert TEST_SERVICE not in names


async def test_reflection_lists_the_test_service_when_time_skipping() -> None:
    async with in_process(dev_config(time_skipping=True)) as address:
        names = await asyncio.to_thread(_reflected_services, address)
    assert TEST_SERVICE in names


def _reflected_services(address: str) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services: list[str] = database.get_services()
        # The whole file is served: a client can build requests from it.
        proto = database.FindFileContainingSymbol(WORKFLOW_SERVICE)
        assert any(s.name == "WorkflowService" for s in proto.service)
        return services


async def test_health_checks_need_no_token_when_authorization_is_on(tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_bytes(jwks(SigningKey.rsa("k")))
    config = dev_config(authorization=AuthorizationConfig(key_source_uris=[keys.as_uri()]))
    async with in_process(config) as address:
        assert await check(address, WORKFLOW_SERVICE) == SERVING
        async with grpc.aio.insecure_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await service_pb2_grpc.WorkflowServiceStub(channel).ListNamespaces(
                    ListNamespacesRequest(), timeout=5
                )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


# -- drain: a subprocess sent SIGTERM with a long poll in flight ----------------------


async def test_sigterm_drains_with_health_not_serving_until_the_calls_end(
    tmp_path: Path,
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "pytemporal",
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            # Long enough that only the end of the poll can end the drain.
            "--dynamic-config-value",
            'frontend.shutdownDrainDuration="60s"',
            "--dynamic-config-value",
            "frontend.namespaceCount=1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        await wait_for(lambda: _serving(address), within=30, message="server SERVING")
        async with grpc.aio.insecure_channel(address) as channel:
            poll = asyncio.ensure_future(_poll(channel, 120))
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=WORKFLOW_SERVICE)
            )
            assert (await watch.read()).status == SERVING
            # With one long call allowed per namespace and API, a second poll refused
            # RESOURCE_EXHAUSTED shows the first is in flight (past the serving gate).
            await wait_for(
                lambda: _second_poll_refused(channel, poll), within=30, message="poll in flight"
            )
            process.send_signal(signal.SIGTERM)
            assert (await asyncio.wait_for(watch.read(), 10)).status == NOT_SERVING
            # Draining: health still answers, new work is refused, the poll still waits.
            assert await check(address, WORKFLOW_SERVICE) == NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await service_pb2_grpc.WorkflowServiceStub(channel).GetSystemInfo(
                    GetSystemInfoRequest(), timeout=5
                )
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert refused.value.details() == "Frontend is shutting down"
            assert not poll.done() and process.returncode is None
            poll.cancel()  # the last call ends: the drain ends with it
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await poll
            watch.cancel()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


def _poll(channel: grpc.aio.Channel, timeout: float) -> Any:
    return service_pb2_grpc.WorkflowServiceStub(channel).PollActivityTaskQueue(
        PollActivityTaskQueueRequest(namespace="default", task_queue=TaskQueue(name="drain-test")),
        timeout=timeout,
    )


async def _second_poll_refused(channel: grpc.aio.Channel, first: asyncio.Task[Any]) -> bool:
    assert not first.done(), "the first poll ended"
    try:
        await _poll(channel, 1.0)
    except grpc.aio.AioRpcError as e:
        return e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    return False


async def _serving(address: str) -> bool:
    try:
        return bool(await check(address) == SERVING)
    except grpc.aio.AioRpcError:
        return False
