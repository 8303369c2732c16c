"""DescribeTaskQueue and ListTaskQueuePartitions, through the SDK's raw service and
Temporal's CLI; every test also passes against Temporal's dev server
(PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

import grpc
import pytest
from temporalio.api.enums.v1 import DescribeTaskQueueMode, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue, TaskQueueVersionSelection
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeTaskQueueResponse,
    ListTaskQueuePartitionsRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from .harness import ServerProcess, reference_binary, running_worker, unique, wait_for
from .workflows import GateActivities, GateWorkflow

IDENTITY = "describe-me@host"


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def _describe(client: Client, **kwargs: Any) -> DescribeTaskQueueResponse:
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace=client.namespace, **kwargs)
    )


async def test_backlog_of_an_unpolled_queue(client: Client) -> None:
    """A workflow started on a queue nobody polls shows as its backlog, with an age."""
    nobody = unique("nobody")
    handle = await client.start_workflow(GateWorkflow.run, id=unique("wf"), task_queue=nobody)

    async def backlog() -> DescribeTaskQueueResponse | None:
        resp = await _describe(
            client,
            task_queue=TaskQueue(name=nobody),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
        return resp if resp.stats.approximate_backlog_count else None

    resp = await wait_for(backlog, message="backlog reported")
    assert resp.stats.approximate_backlog_count == 1
    assert resp.stats.approximate_backlog_age.ToNanoseconds() > 0
    assert resp.stats.tasks_add_rate > 0
    assert not resp.pollers
    await handle.terminate()


async def test_pollers_with_identity(client: Client, task_queue: str) -> None:
    gate = GateActivities()
    async with running_worker(
        client,
        task_queue,
        workflows=[GateWorkflow],
        activities=[gate.wait_at_gate],
        identity=IDENTITY,
    ):
        handle = await client.start_workflow(
            GateWorkflow.run, id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: gate.runs, message="activity running")

        async def pollers(kind: int) -> DescribeTaskQueueResponse | None:
            resp = await _describe(
                client, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            )
            return resp if resp.pollers else None

        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            resp = await wait_for(lambda k=kind: pollers(k), message="pollers reported")  # type: ignore[misc]
            (poller,) = resp.pollers
            assert poller.identity == IDENTITY
            assert poller.rate_per_second == 100000.0
            assert poller.last_access_time.seconds > 0

        enhanced = await _describe(
            client,
            task_queue=TaskQueue(name=task_queue),
            api_mode=DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
            versions=TaskQueueVersionSelection(unversioned=True),
            report_pollers=True,
            report_stats=True,
        )
        types = enhanced.versions_info[""].types_info
        assert set(types) == {1, 2}
        assert [p.identity for p in types[1].pollers] == [IDENTITY]
        assert [p.identity for p in types[2].pollers] == [IDENTITY]
        assert types[1].stats.tasks_dispatch_rate > 0
        gate.release.set()
        await handle.result()


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({}, "taskQueue is not set"),
        ({"task_queue": TaskQueue(name="")}, "missing task queue name"),
    ],
)
async def test_describe_rejects_a_missing_queue(
    client: Client, request_kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RPCError) as err:
        await _describe(client, **request_kwargs)
    assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert err.value.message == message


async def test_describe_unknown_namespace(client: Client) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(namespace=unique("ns"), task_queue=TaskQueue(name="x"))
        )
    assert err.value.status == grpc.StatusCode.NOT_FOUND.value[0]


async def test_list_partitions(client: Client, task_queue: str) -> None:
    resp = await client.workflow_service.list_task_queue_partitions(
        ListTaskQueuePartitionsRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue)
        )
    )
    # Temporal splits a queue in 4 partitions, we keep one: the root is always first.
    for partitions in (resp.workflow_task_queue_partitions, resp.activity_task_queue_partitions):
        assert partitions[0].key == task_queue
        assert partitions[0].owner_host_name


async def test_cli_task_queue_describe(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    gate = GateActivities()
    async with running_worker(
        client,
        task_queue,
        workflows=[GateWorkflow],
        activities=[gate.wait_at_gate],
        identity=IDENTITY,
    ):
        handle = await client.start_workflow(
            GateWorkflow.run, id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: gate.runs, message="activity running")

        async def described() -> dict[str, Any] | None:
            done = await asyncio.to_thread(
                _cli, server, "task-queue", "describe", "-t", task_queue, "-o", "json"
            )
            assert done.returncode == 0, done.stderr
            out: dict[str, Any] = json.loads(done.stdout)
            kinds = {p["taskQueueType"] for p in out["pollers"] or []}
            return out if kinds == {"workflow", "activity"} else None

        out = await wait_for(described, message="both pollers described")
        assert {p["identity"] for p in out["pollers"]} == {IDENTITY}
        assert {s["taskQueueType"] for s in out["stats"]} == {"workflow", "activity"}

        legacy = await asyncio.to_thread(
            _cli, server, "task-queue", "describe", "-t", task_queue, "--legacy-mode"
        )
        assert legacy.returncode == 0, legacy.stderr
        assert IDENTITY in legacy.stdout
        text = await asyncio.to_thread(_cli, server, "task-queue", "describe", "-t", task_queue)
        assert text.returncode == 0, text.stderr
        assert "ApproximateBacklogCount" in text.stdout
        gate.release.set()
        await handle.result()

    parts = await asyncio.to_thread(_cli, server, "task-queue", "list-partition", "-t", task_queue)
    assert parts.returncode == 0, parts.stderr
    assert "Workflow Task Queue Partitions" in parts.stdout
    assert task_queue in parts.stdout
