"""ResetWorkflowExecution to a workflow-task-completed event."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ResetReapplyType, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import TerminatedError
from temporalio.service import RPCError, RPCStatusCode

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import SignalCollectorWorkflow, StampActivities

Collector = WorkflowHandle[SignalCollectorWorkflow, list[str]]


def reset_request(
    handle: Collector,
    run_id: str,
    event_id: int,
    reapply: ResetReapplyType.ValueType = ResetReapplyType.RESET_REAPPLY_TYPE_UNSPECIFIED,
) -> ResetWorkflowExecutionRequest:
    return ResetWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
        reason="fix a bad deploy",
        workflow_task_finish_event_id=event_id,
        request_id=str(uuid.uuid4()),
        reset_reapply_type=reapply,
    )


async def collector_waiting_after_stamp(client: Client, task_queue: str) -> Collector:
    """A collector that got signals a and b, ran its activity and now waits for c."""
    handle = await client.start_workflow(
        SignalCollectorWorkflow.run, 3, id=unique("reset"), task_queue=task_queue
    )
    await wait_for(lambda: _has(handle, "WORKFLOW_TASK_COMPLETED"), message="first task")
    await handle.signal(SignalCollectorWorkflow.add, "a")
    await wait_for(lambda: _has(handle, "ACTIVITY_TASK_COMPLETED"), message="stamp ran")
    await handle.signal(SignalCollectorWorkflow.add, "b")

    async def b_processed() -> bool:
        types = await event_types(handle)
        return (
            types[-1] == "WORKFLOW_TASK_COMPLETED"
            and types.count("WORKFLOW_EXECUTION_SIGNALED") == 2
        )

    await wait_for(b_processed, message="signal b processed")
    return handle


async def _has(handle: Collector, name: str) -> bool:
    return name in await event_types(handle)


async def first_task_completed_id(handle: Collector) -> int:
    for event in await history_events(handle):
        if event_type_name(event) == "WORKFLOW_TASK_COMPLETED":
            return event.event_id
    raise AssertionError("no WORKFLOW_TASK_COMPLETED")


async def test_reset_running_workflow_reapplies_signals(client: Client, task_queue: str) -> None:
    acts = StampActivities()
    async with running_worker(
        client, task_queue, workflows=[SignalCollectorWorkflow], activities=[acts.stamp]
    ):
        handle = await collector_waiting_after_stamp(client, task_queue)
        old_run = handle.first_execution_run_id
        assert old_run is not None
        reset_point = await first_task_completed_id(handle)
        assert reset_point == 4
        response = await client.workflow_service.reset_workflow_execution(
            reset_request(handle, old_run, reset_point)
        )
        new_run = response.run_id
        assert new_run and new_run != old_run

        # The new run replays up to the reset point, gets a and b re-applied, and runs
        # its activity again; one more signal (to the workflow id) finishes it.
        new_handle = client.get_workflow_handle_for(
            SignalCollectorWorkflow.run, handle.id, run_id=new_run
        )
        await wait_for(lambda: _has(new_handle, "ACTIVITY_TASK_COMPLETED"), message="re-stamped")
        await client.get_workflow_handle(handle.id).signal(SignalCollectorWorkflow.add, "c")
        assert await new_handle.result() == ["stamped a #2", "a", "b", "c"]
    assert acts.stamps == ["a", "a"]

    # The old run was terminated by the reset.
    old = client.get_workflow_handle(handle.id, run_id=old_run)
    assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
    with pytest.raises(WorkflowFailureError) as exc_info:
        await old.result(follow_runs=False)
    assert isinstance(exc_info.value.cause, TerminatedError)
    old_events = await history_events(old)
    terminated = old_events[-1].workflow_execution_terminated_event_attributes
    assert event_type_name(old_events[-1]) == "WORKFLOW_EXECUTION_TERMINATED"
    assert terminated.reason == "fix a bad deploy"
    assert terminated.identity == "history-resetter"

    events = await history_events(new_handle)
    assert [event_type_name(e) for e in events][:8] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
    ]
    # Events before the reset point are copied from the old run as they were.
    assert events[:3] == old_events[:3]
    started = events[0].workflow_execution_started_event_attributes
    assert started.original_execution_run_id == old_run
    assert started.first_execution_run_id == old_run
    failed = events[3].workflow_task_failed_event_attributes
    assert (failed.scheduled_event_id, failed.started_event_id) == (2, 3)
    assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert failed.failure.message == "fix a bad deploy"
    assert failed.failure.HasField("reset_workflow_failure_info")
    assert failed.identity == "history-service"
    assert (failed.base_run_id, failed.new_run_id) == (old_run, new_run)
    # Re-applied signals keep their input, identity and request id.
    old_signals = [e for e in old_events if event_type_name(e) == "WORKFLOW_EXECUTION_SIGNALED"]
    for copied, original in zip(events[4:6], old_signals, strict=True):
        assert (
            copied.workflow_execution_signaled_event_attributes
            == original.workflow_execution_signaled_event_attributes
        )

    new_desc = (await new_handle.describe()).raw_description
    assert new_desc.workflow_execution_info.first_run_id == old_run
    old_desc = (await old.describe()).raw_description
    assert old_desc.workflow_extended_info.reset_run_id == new_run
    assert new_desc.workflow_extended_info.HasField("last_reset_time")
    assert new_desc.workflow_extended_info.original_start_time == (
        old_desc.workflow_execution_info.start_time
    )


async def test_reset_without_reapplying_signals(client: Client, task_queue: str) -> None:
    acts = StampActivities()
    async with running_worker(
        client, task_queue, workflows=[SignalCollectorWorkflow], activities=[acts.stamp]
    ):
        handle = await collector_waiting_after_stamp(client, task_queue)
        old_run = handle.first_execution_run_id
        assert old_run is not None
        response = await client.workflow_service.reset_workflow_execution(
            reset_request(handle, old_run, 4, ResetReapplyType.RESET_REAPPLY_TYPE_NONE)
        )
        new_handle = client.get_workflow_handle_for(
            SignalCollectorWorkflow.run, handle.id, run_id=response.run_id
        )
        await wait_for(lambda: _has(new_handle, "WORKFLOW_TASK_COMPLETED"), message="new run")
        for value in ("x", "y", "z"):
            await new_handle.signal(SignalCollectorWorkflow.add, value)
        assert await new_handle.result() == ["stamped x #2", "x", "y", "z"]
    types = await event_types(new_handle)
    assert types[:5] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
        "WORKFLOW_TASK_SCHEDULED",
    ]


async def test_reset_completed_workflow(client: Client, task_queue: str) -> None:
    acts = StampActivities()
    async with running_worker(
        client, task_queue, workflows=[SignalCollectorWorkflow], activities=[acts.stamp]
    ):
        handle = await client.start_workflow(
            SignalCollectorWorkflow.run, 1, id=unique("reset-done"), task_queue=task_queue
        )
        await handle.signal(SignalCollectorWorkflow.add, "only")
        assert await handle.result() == ["stamped only #1", "only"]
        old_run = handle.first_execution_run_id
        assert old_run is not None
        response = await client.workflow_service.reset_workflow_execution(
            reset_request(handle, old_run, 4)
        )
        new_handle = client.get_workflow_handle_for(
            SignalCollectorWorkflow.run, handle.id, run_id=response.run_id
        )
        assert await new_handle.result() == ["stamped only #2", "only"]
    # A completed run stays completed.
    old = client.get_workflow_handle(handle.id, run_id=old_run)
    assert (await old.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_reset_to_an_invalid_event(client: Client, task_queue: str) -> None:
    acts = StampActivities()
    async with running_worker(
        client, task_queue, workflows=[SignalCollectorWorkflow], activities=[acts.stamp]
    ):
        handle = await collector_waiting_after_stamp(client, task_queue)
        run_id = handle.first_execution_run_id
        assert run_id is not None
        errors = {}
        for event_id in (2, 5, 999):
            with pytest.raises(RPCError) as exc_info:
                await client.workflow_service.reset_workflow_execution(
                    reset_request(handle, run_id, event_id)
                )
            errors[event_id] = exc_info.value
        await handle.terminate()
    assert {e.status for e in errors.values()} == {RPCStatusCode.INVALID_ARGUMENT}
    # Event 5 is a signal: only a workflow task's started/finished event is a valid point.
    assert errors[5].message == (
        "Can only reset workflow to event ID in range"
        " [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: 5"
    )
    assert errors[999].message == (
        "Workflow task finish ID must be > 1 && <= workflow last event ID."
    )
    # Event 2 (a task scheduled event) fails deeper in the reference, with
    # "StateRebuilder unable to Rebuild mutable state to event ID: 1, ...".
    assert errors[2].message.startswith("StateRebuilder unable to Rebuild mutable state")
