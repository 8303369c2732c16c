"""pytemporal.testing: the server run inside the test process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from datetime import timedelta

import grpc
import pytest
from temporalio import workflow
from temporalio.api.workflowservice.v1 import (
    GetSystemInfoRequest,
    ListNamespacesRequest,
    service_pb2_grpc,
)
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import pytemporal.testing
from pytemporal.testing import InProcessServer, ServerStartError, make_config

from .harness import running_worker, unique
from .workflows import HelloWorkflow


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pytemporal-server"]


def listening(target: str) -> bool:
    host, _, port = target.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, int(port))) == 0


def system_info_blocking(target: str) -> str:
    """A synchronous gRPC call: blocks the calling thread (and its event loop)."""
    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.WorkflowServiceStub(channel)
        return str(stub.GetSystemInfo(GetSystemInfoRequest(), timeout=10).server_version)


async def namespace_names(client: Client) -> set[str]:
    response = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    return {ns.namespace_info.name for ns in response.namespaces}


def test_sync_start_stop_closes_port_and_thread() -> None:
    before = len(server_threads())
    with pytemporal.testing.server_sync() as target:
        assert target.startswith("127.0.0.1:")
        assert listening(target)
        assert system_info_blocking(target).startswith("pytemporal")
        assert len(server_threads()) == before + 1
    assert not listening(target)
    assert len(server_threads()) == before


async def test_round_trip_with_worker() -> None:
    async with pytemporal.testing.server() as target:
        client = await Client.connect(target)
        task_queue = unique("inproc")
        async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
            result = await client.execute_workflow(
                HelloWorkflow.run, "in-process", id=unique("wf"), task_queue=task_queue
            )
        assert result == "hello in-process"
    assert not listening(target)


async def test_two_servers_at_once_are_separate() -> None:
    async with (
        pytemporal.testing.server(namespaces=["first"]) as a,
        pytemporal.testing.server(namespaces=["second"]) as b,
    ):
        assert a != b
        client_a, client_b = await Client.connect(a), await Client.connect(b)
        assert await namespace_names(client_a) >= {"default", "first"}
        assert "first" not in await namespace_names(client_b)
        assert "second" in await namespace_names(client_b)
        task_queue = unique("two")
        async with running_worker(client_a, task_queue, workflows=[HelloWorkflow]):
            await client_a.execute_workflow(
                HelloWorkflow.run, "a", id="same-id", task_queue=task_queue
            )
        # The other server's database has never heard of it.
        with pytest.raises(RPCError):
            await client_b.get_workflow_handle("same-id").describe()
    assert not listening(a) and not listening(b)


async def test_serves_while_the_callers_loop_is_blocked() -> None:
    async with pytemporal.testing.server() as target:
        # On the caller's loop this would deadlock: the loop waits for the answer.
        assert system_info_blocking(target).startswith("pytemporal")


async def test_on_the_callers_loop() -> None:
    before = len(server_threads())
    tasks_before = asyncio.all_tasks()
    async with pytemporal.testing.server(own_thread=False) as target:
        assert len(server_threads()) == before
        client = await Client.connect(target)
        task_queue = unique("same-loop")
        async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
            assert (
                await client.execute_workflow(
                    HelloWorkflow.run, "loop", id=unique("wf"), task_queue=task_queue
                )
                == "hello loop"
            )
    assert not listening(target)
    assert asyncio.all_tasks() - tasks_before == set()  # nothing left on the loop


async def test_options_search_attributes_and_dynamic_config() -> None:
    async with pytemporal.testing.server(
        search_attributes={"CustomerId": "Keyword"},
        dynamic_config={"limit.blobSize.error": 1000},
    ) as target:
        client = await Client.connect(target)
        from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert "CustomerId" in response.custom_attributes
        task_queue = unique("blob")
        with pytest.raises(Exception, match="(?i)size|blob|limit"):
            async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
                await client.execute_workflow(
                    HelloWorkflow.run, "x" * 5000, id=unique("wf"), task_queue=task_queue
                )


async def test_file_database_survives_a_restart(tmp_path: pytest.TempPathFactory) -> None:
    db = str(tmp_path / "temporal.db")  # type: ignore[operator]
    async with pytemporal.testing.server(db_filename=db) as target:
        client = await Client.connect(target)
        task_queue = unique("file")
        async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
            await client.execute_workflow(
                HelloWorkflow.run, "kept", id="kept", task_queue=task_queue
            )
    async with pytemporal.testing.server(db_filename=db) as target:
        client = await Client.connect(target)
        assert await client.get_workflow_handle("kept").result() == "hello kept"


async def test_start_failure_is_reported_and_leaves_nothing() -> None:
    before = len(server_threads())
    async with pytemporal.testing.server() as target:
        port = int(target.rpartition(":")[2])
        with pytest.raises(ServerStartError, match="listen"):
            async with pytemporal.testing.server(port=port):
                pass
    assert len(server_threads()) == before
    with pytest.raises(TypeError, match="no_such_option"):
        make_config(no_such_option=1)


def test_stop_is_idempotent_and_start_once() -> None:
    server = InProcessServer()
    server.stop()  # never started: nothing to do
    target = server.start()
    assert server.running and server.target == target
    assert server.endpoints["grpc"] == target
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(RuntimeError):
        server.start()


def test_start_and_stop_are_fast() -> None:
    # A fixture per test must be affordable: bench/startup.py has the figures.
    with pytemporal.testing.server_sync():
        pass
    began = time.perf_counter()
    for _ in range(5):
        with pytemporal.testing.server_sync():
            pass
    assert (time.perf_counter() - began) / 5 < 0.5


async def test_stops_promptly_with_a_worker_still_polling() -> None:
    server = InProcessServer()
    client = await Client.connect(await server.astart())
    worker = Worker(
        client,
        task_queue=unique("polling"),
        workflows=[HelloWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    running = asyncio.create_task(worker.run())
    try:
        # Once a workflow has run, the worker is long-polling again.
        await client.execute_workflow(
            HelloWorkflow.run, "poll", id=unique("wf"), task_queue=worker.task_queue
        )
        began = time.perf_counter()
        await server.astop()
        stop_seconds = time.perf_counter() - began
    finally:
        running.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(running, 30)
    assert stop_seconds < 0.5


@workflow.defn(sandboxed=False)
class WeekWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(7 * 24 * 3600)
        return "a week later"


async def test_time_skipping_environment() -> None:
    before = len(server_threads())
    env = await pytemporal.testing.start_time_skipping(namespaces=["extra"])
    async with env:
        assert env.supports_time_skipping
        target = env.client.service_client.config.target_host
        began_wall, began = time.monotonic(), await env.get_current_time()
        task_queue = unique("week")
        async with running_worker(env.client, task_queue, workflows=[WeekWorkflow]):
            result = await env.client.execute_workflow(
                WeekWorkflow.run, id=unique("wf"), task_queue=task_queue
            )
        assert result == "a week later"
        assert await env.get_current_time() - began >= timedelta(days=7)
        assert time.monotonic() - began_wall < 10
        assert "extra" in await namespace_names(env.client)
    assert not listening(target)
    assert len(server_threads()) == before


async def test_local_environment_keeps_real_time() -> None:
    env = await pytemporal.testing.start_local(client_options={"namespace": "default"})
    async with env:
        assert not env.supports_time_skipping
        target = env.client.service_client.config.target_host
        task_queue = unique("local")
        async with running_worker(env.client, task_queue, workflows=[HelloWorkflow]):
            assert (
                await env.client.execute_workflow(
                    HelloWorkflow.run, "env", id=unique("wf"), task_queue=task_queue
                )
                == "hello env"
            )
    assert not listening(target)


@pytest.mark.parametrize("own_thread", [True, False])
async def test_cancelled_start_stops_the_server(own_thread: bool) -> None:
    before = len(server_threads())
    server = InProcessServer(own_thread=own_thread)
    starting = asyncio.create_task(server.astart())
    await asyncio.sleep(0)  # let the start begin, then give up on it at once
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert not server.running
    assert len(server_threads()) == before


async def test_unlocked_time_skipping_with_a_plain_client() -> None:
    async with pytemporal.testing.server(time_skipping=True, time_skipping_unlocked=True) as target:
        client = await Client.connect(target)
        began = time.monotonic()
        task_queue = unique("week")
        async with running_worker(client, task_queue, workflows=[WeekWorkflow]):
            handle = await client.start_workflow(
                WeekWorkflow.run, id=unique("wf"), task_queue=task_queue
            )
            assert await handle.result() == "a week later"
        assert time.monotonic() - began < 10
        history = [e async for e in handle.fetch_history_events()]
        assert history[-1].event_time.ToDatetime() - history[0].event_time.ToDatetime() >= (
            timedelta(days=7)
        )
