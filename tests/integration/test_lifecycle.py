"""Cancel with compensation, terminate, describe, and queries without a worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import CancelledError, TerminatedError
from temporalio.service import RPCError, RPCStatusCode

from .harness import event_types, has_event, history_events, running_worker, unique, wait_for
from .workflows import (
    ApprovalWorkflow,
    CancellableWorkflow,
    CompensationActivities,
    GateActivities,
    GateWorkflow,
)


async def test_cancel_runs_compensation_then_cancels(client: Client, task_queue: str) -> None:
    acts = CompensationActivities()
    async with running_worker(
        client, task_queue, workflows=[CancellableWorkflow], activities=[acts.compensate]
    ):
        handle = await client.start_workflow(
            CancellableWorkflow.run, id=unique("cancel"), task_queue=task_queue
        )
        await wait_for(lambda: has_event(handle, "TIMER_STARTED"), message="timer started")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    assert isinstance(exc_info.value.cause, CancelledError)
    assert acts.compensations == ["cancelled"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert (await event_types(handle))[4:] == [
        "TIMER_STARTED",
        "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_CANCELED",
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_COMPLETED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_CANCELED",
    ]
    # Cancelling a closed workflow is a successful no-op.
    await handle.cancel()


async def test_terminate(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 60.0, id=unique("terminate"), task_queue=task_queue
        )
        await wait_for(lambda: has_event(handle, "TIMER_STARTED"), message="timer started")
        await handle.terminate("some detail", reason="operator says stop")
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    assert isinstance(exc_info.value.cause, TerminatedError)
    assert exc_info.value.cause.message == "operator says stop"
    assert list(exc_info.value.cause.details) == ["some detail"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    events = await history_events(handle)
    last = events[-1]
    assert last.HasField("workflow_execution_terminated_event_attributes")
    assert last.workflow_execution_terminated_event_attributes.reason == "operator says stop"
    with pytest.raises(RPCError) as rpc_info:
        await handle.terminate(reason="again")
    assert rpc_info.value.status == RPCStatusCode.NOT_FOUND
    assert rpc_info.value.message == "workflow execution already completed"


async def test_terminate_without_reason(client: Client, task_queue: str) -> None:
    handle = await client.start_workflow(
        ApprovalWorkflow.run, 60.0, id=unique("terminate"), task_queue=task_queue
    )
    await handle.terminate()
    with pytest.raises(WorkflowFailureError) as exc_info:
        await handle.result()
    assert isinstance(exc_info.value.cause, TerminatedError)
    # An empty reason is filled in by the server.
    assert exc_info.value.cause.message == "terminated by user via frontend"
    assert (await event_types(handle)) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_EXECUTION_TERMINATED",
    ]


async def test_describe_shows_running_activity(client: Client, task_queue: str) -> None:
    acts = GateActivities()
    async with running_worker(
        client, task_queue, workflows=[GateWorkflow], activities=[acts.wait_at_gate]
    ):
        handle = await client.start_workflow(
            GateWorkflow.run, id=unique("describe"), task_queue=task_queue
        )

        async def activity_started() -> bool:
            raw = (await handle.describe()).raw_description
            return any(
                p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for p in raw.pending_activities
            )

        await wait_for(activity_started, message="pending activity STARTED")
        desc = await handle.describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.workflow_type == "GateWorkflow"
        assert desc.task_queue == task_queue
        assert desc.close_time is None
        (pending,) = desc.raw_description.pending_activities
        assert pending.activity_id == "1"
        assert pending.activity_type.name == "wait_at_gate"
        assert pending.attempt == 1
        assert pending.HasField("last_started_time")
        acts.release.set()
        assert await handle.result() == "through"

    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.close_time is not None
    assert list(desc.raw_description.pending_activities) == []
    assert acts.runs == 1


QUERY_TIMEOUT_CODES = (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)


async def _assert_query_times_out(
    handle: WorkflowHandle[ApprovalWorkflow, str], rpc_timeout: timedelta
) -> None:
    began = time.monotonic()
    with pytest.raises(RPCError) as exc_info:
        await handle.query(ApprovalWorkflow.status, rpc_timeout=rpc_timeout)
    # The server holds the query until the caller's deadline.  The reference then
    # either lets the client deadline fire (CANCELLED "Timeout expired") or answers
    # DEADLINE_EXCEEDED "query timed out before a worker could process it" first.
    assert exc_info.value.status in QUERY_TIMEOUT_CODES, exc_info.value
    assert time.monotonic() - began >= rpc_timeout.total_seconds() * 0.9


async def test_query_without_any_worker_times_out(client: Client) -> None:
    handle = await client.start_workflow(
        ApprovalWorkflow.run, 30.0, id=unique("query"), task_queue=unique("no-worker")
    )
    await _assert_query_times_out(handle, timedelta(seconds=1))
    assert await event_types(handle) == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED"]


async def test_query_after_worker_stopped_times_out(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=unique("query"), task_queue=task_queue
        )
        assert await handle.query(ApprovalWorkflow.status) == "waiting"
    await _assert_query_times_out(handle, timedelta(seconds=1))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
