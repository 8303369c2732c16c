"""PauseActivity, UnpauseActivity, ResetActivity and UpdateActivityOptions, through
the SDK (its heartbeat sees the pause or reset and cancels the activity) and through
`temporal activity ...`. Every test also passes against Temporal's dev server
(PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio import activity, workflow
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.batch.v1 import (
    BatchOperationUnpauseActivities,
    BatchOperationUpdateActivityOptions,
)
from temporalio.api.common.v1 import RetryPolicy, WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    DescribeTaskQueueRequest,
    DescribeWorkflowExecutionRequest,
    ListBatchOperationsRequest,
    PauseActivityRequest,
    ResetActivityRequest,
    StartBatchOperationRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy as SdkRetryPolicy
from temporalio.service import RPCError

from .harness import ServerProcess, reference_binary, running_worker, unique, wait_for

ACTIVITY_ID = "the-activity"
PAUSED = PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED


@dataclass
class Beating:
    """An activity that heartbeats until released; records each attempt and how it
    was cancelled."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[int] = field(default_factory=list)
    started_at: list[float] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    @activity.defn(name="beat")
    async def beat(self) -> str:
        self.attempts.append(activity.info().attempt)
        self.started_at.append(time.monotonic())
        try:
            while not self.release.is_set():
                activity.heartbeat()
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            why = "paused" if details and details.paused else "other"
            if details and details.reset:
                why = "reset"
            self.cancelled.append(why)
            raise
        return f"done at attempt {activity.info().attempt}"


@workflow.defn
class BeatWorkflow:
    @workflow.run
    async def run(self, queue: str) -> str:
        return await workflow.execute_activity(
            "beat",
            activity_id=ACTIVITY_ID,
            task_queue=queue or None,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=SdkRetryPolicy(initial_interval=timedelta(milliseconds=200)),
            result_type=str,
        )


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def _pending(client: Client, handle: WorkflowHandle[Any, Any]) -> PendingActivityInfo | None:
    resp = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    return resp.pending_activities[0] if resp.pending_activities else None


def _execution(handle: WorkflowHandle[Any, Any]) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=handle.id)


async def test_pause_running_activity_then_unpause(client: Client, task_queue: str) -> None:
    beating = Beating()
    async with running_worker(
        client, task_queue, workflows=[BeatWorkflow], activities=[beating.beat]
    ):
        handle = await client.start_workflow(
            BeatWorkflow.run, "", id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: beating.attempts, message="first attempt running")
        await client.workflow_service.pause_activity(
            PauseActivityRequest(
                namespace=client.namespace,
                execution=_execution(handle),
                id=ACTIVITY_ID,
                identity="operator",
                reason="maintenance",
            )
        )
        # The heartbeat's reply says paused: the SDK cancels the attempt.
        await wait_for(lambda: beating.cancelled == ["paused"], message="attempt cancelled")

        async def paused_and_idle() -> PendingActivityInfo | None:
            p = await _pending(client, handle)
            return p if p is not None and p.state == PAUSED else None

        p = await wait_for(paused_and_idle, message="activity paused")
        assert p.paused
        assert p.attempt == 2  # the cancelled attempt counted
        assert p.pause_info.manual.identity == "operator"
        assert p.pause_info.manual.reason == "maintenance"
        assert beating.attempts == [1]

        beating.release.set()
        await client.workflow_service.unpause_activity(
            UnpauseActivityRequest(
                namespace=client.namespace, execution=_execution(handle), id=ACTIVITY_ID
            )
        )
        assert await handle.result() == "done at attempt 2"


async def test_paused_activity_gets_no_task_until_unpaused(client: Client, task_queue: str) -> None:
    activity_queue = unique("acts")
    beating = Beating()
    beating.release.set()
    async with running_worker(client, task_queue, workflows=[BeatWorkflow]):
        handle = await client.start_workflow(
            BeatWorkflow.run, activity_queue, id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: _pending(client, handle), message="activity scheduled")
        await client.workflow_service.pause_activity(
            PauseActivityRequest(
                namespace=client.namespace, execution=_execution(handle), type="beat"
            )
        )
        p = await _pending(client, handle)
        assert p is not None and p.state == PAUSED and p.attempt == 1
        async with running_worker(client, activity_queue, activities=[beating.beat]):

            async def polled() -> bool:
                resp = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=client.namespace,
                        task_queue=TaskQueue(name=activity_queue),
                        task_queue_type=2,
                    )
                )
                return bool(resp.pollers)

            await wait_for(polled, message="activity worker polling")
            unpaused_at = time.monotonic()
            await client.workflow_service.unpause_activity(
                UnpauseActivityRequest(
                    namespace=client.namespace, execution=_execution(handle), unpause_all=True
                )
            )
            assert await handle.result() == "done at attempt 1"
        assert beating.started_at[0] >= unpaused_at


async def test_reset_running_activity(client: Client, task_queue: str) -> None:
    beating = Beating()
    async with running_worker(
        client, task_queue, workflows=[BeatWorkflow], activities=[beating.beat]
    ):
        handle = await client.start_workflow(
            BeatWorkflow.run, "", id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: beating.attempts, message="first attempt running")
        await client.workflow_service.reset_activity(
            ResetActivityRequest(
                namespace=client.namespace, execution=_execution(handle), id=ACTIVITY_ID
            )
        )
        await wait_for(lambda: beating.cancelled == ["reset"], message="attempt reset")
        await wait_for(lambda: len(beating.attempts) == 2, message="next attempt")
        beating.release.set()
        assert (await handle.result()).startswith("done at attempt")


async def test_update_options(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[BeatWorkflow]):
        handle = await client.start_workflow(
            BeatWorkflow.run, unique("nobody"), id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: _pending(client, handle), message="activity scheduled")
        resp = await client.workflow_service.update_activity_options(
            UpdateActivityOptionsRequest(
                namespace=client.namespace,
                execution=_execution(handle),
                id=ACTIVITY_ID,
                activity_options=ActivityOptions(
                    start_to_close_timeout=Duration(seconds=30),
                    retry_policy=RetryPolicy(maximum_attempts=7),
                ),
                update_mask=FieldMask(
                    paths=["start_to_close_timeout", "retry_policy.maximum_attempts"]
                ),
            )
        )
        assert resp.activity_options.start_to_close_timeout.seconds == 30
        assert resp.activity_options.retry_policy.maximum_attempts == 7
        assert resp.activity_options.heartbeat_timeout.seconds == 5
        p = await _pending(client, handle)
        assert p is not None
        assert p.activity_options.start_to_close_timeout.seconds == 30
        assert p.activity_options.retry_policy.maximum_attempts == 7

        restored = await client.workflow_service.update_activity_options(
            UpdateActivityOptionsRequest(
                namespace=client.namespace,
                execution=_execution(handle),
                id=ACTIVITY_ID,
                restore_original=True,
            )
        )
        assert restored.activity_options.start_to_close_timeout.seconds == 60
        assert restored.activity_options.retry_policy.maximum_attempts == 0
        await handle.terminate()


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({}, grpc.StatusCode.INVALID_ARGUMENT, "WorkflowId is not set on request."),
        (
            {"execution": WorkflowExecution(workflow_id="x")},
            grpc.StatusCode.INVALID_ARGUMENT,
            "Either Activity.Id or Activity.Type should be set on request.",
        ),
    ],
)
async def test_pause_rejects(
    client: Client, kwargs: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.pause_activity(
            PauseActivityRequest(namespace=client.namespace, **kwargs)
        )
    assert err.value.status == code.value[0]
    assert err.value.message == message


async def test_pause_errors_on_a_run(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[BeatWorkflow]):
        handle = await client.start_workflow(
            BeatWorkflow.run, unique("nobody"), id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: _pending(client, handle), message="activity scheduled")
        with pytest.raises(RPCError) as err:
            await client.workflow_service.pause_activity(
                PauseActivityRequest(
                    namespace=client.namespace, execution=_execution(handle), id="no-such"
                )
            )
        assert err.value.status == grpc.StatusCode.NOT_FOUND.value[0]
        assert err.value.message.startswith("Can't find pending activity with such ID")
        request = PauseActivityRequest(
            namespace=client.namespace,
            execution=_execution(handle),
            id=ACTIVITY_ID,
            request_id="r1",
        )
        await client.workflow_service.pause_activity(request)
        await client.workflow_service.pause_activity(request)  # the same request: a no-op
        request.request_id = "r2"
        with pytest.raises(RPCError) as err:
            await client.workflow_service.pause_activity(request)
        assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert err.value.message == "activity is already paused"
        await handle.terminate()


async def test_cli_activity_commands(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[BeatWorkflow]):
        handle = await client.start_workflow(
            BeatWorkflow.run, unique("nobody"), id=unique("wf"), task_queue=task_queue
        )
        await wait_for(lambda: _pending(client, handle), message="activity scheduled")
        target = ("-w", handle.id, "-a", ACTIVITY_ID)

        async def cli(*args: str) -> str:
            done = await asyncio.to_thread(_cli, server, "activity", *args, *target)
            assert done.returncode == 0, done.stderr
            return done.stdout

        await cli("pause", "--reason", "cli says so")
        p = await _pending(client, handle)
        assert p is not None and p.paused and p.pause_info.manual.reason == "cli says so"
        await cli("unpause")
        p = await _pending(client, handle)
        assert p is not None and not p.paused
        await cli("update-options", "--heartbeat-timeout", "9s", "--retry-maximum-attempts", "3")
        p = await _pending(client, handle)
        assert p is not None
        assert p.activity_options.heartbeat_timeout.seconds == 9
        assert p.activity_options.retry_policy.maximum_attempts == 3
        await cli("reset")
        p = await _pending(client, handle)
        assert p is not None and p.attempt == 1
        await handle.terminate()


async def test_activity_batches_by_query(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    """Unpause and update-options batches (`temporal activity unpause --query ...`)."""
    prefix = unique("actbatch")
    async with running_worker(client, task_queue, workflows=[BeatWorkflow]):
        handles = [
            await client.start_workflow(
                BeatWorkflow.run, unique("nobody"), id=f"{prefix}-{i}", task_queue=task_queue
            )
            for i in range(2)
        ]
        for h in handles:
            await wait_for(lambda h=h: _pending(client, h), message="activity scheduled")  # type: ignore[misc]
            await client.workflow_service.pause_activity(
                PauseActivityRequest(
                    namespace=client.namespace, execution=_execution(h), type="beat"
                )
            )
        query = f"WorkflowId STARTS_WITH '{prefix}'"

        async def visible() -> bool:
            return (await client.count_workflows(query)).count == 2

        await wait_for(visible, within=20, message="workflows visible")

        async def run_batch(**operation: Any) -> None:
            async def idle() -> bool:
                resp = await client.workflow_service.list_batch_operations(
                    ListBatchOperationsRequest(namespace=client.namespace)
                )
                return all(o.state != 1 for o in resp.operation_info)

            await wait_for(idle, within=30, message="no batch running")
            job_id = unique("job")
            await client.workflow_service.start_batch_operation(
                StartBatchOperationRequest(
                    namespace=client.namespace,
                    job_id=job_id,
                    visibility_query=query,
                    reason="activities",
                    **operation,
                )
            )

            async def done() -> bool:
                resp = await client.workflow_service.describe_batch_operation(
                    DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
                )
                return resp.state == 2 and resp.complete_operation_count == 2

            await wait_for(done, within=30, message="batch done")

        await run_batch(unpause_activities_operation=BatchOperationUnpauseActivities(type="beat"))
        for h in handles:
            p = await _pending(client, h)
            assert p is not None and not p.paused
        await run_batch(
            update_activity_options_operation=BatchOperationUpdateActivityOptions(
                match_all=True,
                activity_options=ActivityOptions(heartbeat_timeout=Duration(seconds=7)),
                update_mask=FieldMask(paths=["heartbeat_timeout"]),
            )
        )
        for h in handles:
            p = await _pending(client, h)
            assert p is not None and p.activity_options.heartbeat_timeout.seconds == 7

    async def cli_unpause() -> bool:
        # Temporal's CLI sends an unpause batch; wait for the previous job to end first.
        done = await asyncio.to_thread(
            _cli, server, "activity", "unpause", "--query", query, "--reason", "cli", "--yes"
        )
        return done.returncode == 0

    for h in handles:
        await client.workflow_service.pause_activity(
            PauseActivityRequest(namespace=client.namespace, execution=_execution(h), type="beat")
        )
    await wait_for(cli_unpause, within=30, message="CLI batch started")

    async def all_unpaused() -> bool:
        found = [await _pending(client, h) for h in handles]
        return all(p is not None and not p.paused for p in found)

    await wait_for(all_unpaused, within=30, message="unpaused by the CLI's batch")
    for h in handles:
        await h.terminate()
