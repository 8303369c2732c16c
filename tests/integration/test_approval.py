"""Approval workflow: waits on a signal with a timeout; signal-with-start; queries."""

from __future__ import annotations

from temporalio.client import Client

from .harness import event_types, running_worker, unique, wait_for
from .workflows import ApprovalWorkflow, Decision


async def test_approved_by_signal_after_query_while_waiting(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=unique("approval"), task_queue=task_queue
        )
        assert await handle.query(ApprovalWorkflow.status) == "waiting"
        await handle.signal(ApprovalWorkflow.decide, Decision(approved=True, approver="alice"))
        assert await handle.result() == "approved by alice"
        assert await handle.query(ApprovalWorkflow.status) == "approved"

    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_CANCELED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]


async def test_rejected_by_signal(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=unique("approval"), task_queue=task_queue
        )
        await handle.signal(ApprovalWorkflow.decide, Decision(approved=False, approver="bob"))
        assert await handle.result() == "rejected by bob"


async def test_times_out_without_signal(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 0.5, id=unique("approval"), task_queue=task_queue
        )
        assert await handle.result() == "timed-out"
        assert await handle.query(ApprovalWorkflow.status) == "waiting"

    types = await event_types(handle)
    assert "WORKFLOW_EXECUTION_SIGNALED" not in types
    assert types[4:] == [
        "TIMER_STARTED",
        "TIMER_FIRED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]


async def test_signal_with_start(client: Client, task_queue: str) -> None:
    workflow_id = unique("approval")
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            30.0,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="decide",
            start_signal_args=[Decision(approved=True, approver="carol")],
        )
        assert await handle.result() == "approved by carol"

    types = await event_types(handle)
    # Started and Signaled are written in one batch, before the first workflow task.
    assert types[:3] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"


async def test_signal_with_start_signals_running_workflow(client: Client, task_queue: str) -> None:
    workflow_id = unique("approval")
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        first = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=workflow_id, task_queue=task_queue
        )
        await wait_for(lambda: first.query(ApprovalWorkflow.status), message="first task done")
        second = await client.start_workflow(
            ApprovalWorkflow.run,
            30.0,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="decide",
            start_signal_args=[Decision(approved=True, approver="dave")],
        )
        # The default conflict policy for signal-with-start is USE_EXISTING.
        assert second.first_execution_run_id == first.first_execution_run_id
        assert await first.result() == "approved by dave"
