"""The workers' heartbeats: RecordWorkerHeartbeat (sent by the SDK), ListWorkers,
CountWorkers, DescribeWorker and `temporal worker list/describe`. Every test also
passes against Temporal's dev server (PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import timedelta
from typing import Any

import grpc
import pytest
from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.workflowservice.v1 import (
    CountWorkersRequest,
    DescribeWorkerRequest,
    ListWorkersRequest,
    ListWorkersResponse,
)
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError

from .harness import ServerProcess, reference_binary, running_worker, unique, wait_for
from .workflows import HelloWorkflow

IDENTITY = "heartbeating-worker"


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def _list(client: Client, query: str) -> ListWorkersResponse:
    return await client.workflow_service.list_workers(
        ListWorkersRequest(namespace=client.namespace, query=query)
    )


@pytest.fixture(scope="module")
def heartbeating_runtime() -> Runtime:
    """A runtime whose workers heartbeat every second (the SDK's default is 60 s)."""
    return Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(seconds=1))


async def test_worker_heartbeats_list_and_describe(
    server: ServerProcess, heartbeating_runtime: Runtime, task_queue: str
) -> None:
    client = await server.connect(runtime=heartbeating_runtime)
    query = f"TaskQueue = '{task_queue}'"
    async with running_worker(client, task_queue, workflows=[HelloWorkflow], identity=IDENTITY):

        async def listed() -> ListWorkersResponse | None:
            resp = await _list(client, query)
            return resp if resp.workers else None

        resp = await wait_for(listed, within=15, message="worker listed")
        (worker,) = resp.workers
        assert worker.worker_identity == IDENTITY
        assert worker.sdk_name == "temporal-python"
        assert worker.status == WorkerStatus.WORKER_STATUS_RUNNING
        assert resp.workers_info[0].worker_heartbeat.task_queue == task_queue
        key = worker.worker_instance_key

        described = await client.workflow_service.describe_worker(
            DescribeWorkerRequest(namespace=client.namespace, worker_instance_key=key)
        )
        assert described.worker_info.worker_heartbeat.worker_identity == IDENTITY
        count = await client.workflow_service.count_workers(
            CountWorkersRequest(namespace=client.namespace, query=query)
        )
        assert count.count == 1
        other = await _list(client, f"TaskQueue = '{task_queue}' AND SdkName != 'temporal-python'")
        assert not other.workers

        listing = await asyncio.to_thread(_cli, server, "worker", "list", "-q", query, "-o", "json")
        assert listing.returncode == 0, listing.stderr
        assert IDENTITY in listing.stdout
        shown = await asyncio.to_thread(
            _cli, server, "worker", "describe", "--worker-instance-key", key, "-o", "json"
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)

    # A worker that shuts down says so in its last heartbeat.
    async def stopping() -> bool:
        workers = (await _list(client, query)).workers
        return not workers or workers[0].status != WorkerStatus.WORKER_STATUS_RUNNING

    await wait_for(stopping, within=15, message="worker shown shutting down")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ({"worker_instance_key": "no-such-worker"}, grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_describe_unknown_worker(
    client: Client, call: dict[str, Any], code: grpc.StatusCode
) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_worker(
            DescribeWorkerRequest(namespace=client.namespace, **call)
        )
    assert err.value.status == code.value[0]


async def test_list_workers_query_errors(client: Client) -> None:
    with pytest.raises(RPCError) as err:
        await _list(client, "TaskQueue = ")
    assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    # As Temporal: a column it does not know matches no worker.
    assert not (await _list(client, f"NoSuchColumn = '{unique('x')}'")).workers
