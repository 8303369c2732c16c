"""Child workflows: fan-out, parent-close policies, start failures and child outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.enums.v1 import RetryState, StartChildWorkflowExecutionFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import (
    ChildOutcome,
    ChildOutcomeInput,
    ChildOutcomeParentWorkflow,
    ClosingParentWorkflow,
    DuplicateChildWorkflow,
    FanOutChildrenWorkflow,
    GreetChildWorkflow,
    OutcomeChildWorkflow,
    PolicyChildIds,
    WaitingChildWorkflow,
)


async def status_of(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionStatus | None:
    return (await handle.describe()).status


async def test_parent_fans_out_to_three_children(client: Client, task_queue: str) -> None:
    parent_id = unique("fanout-parent")
    async with running_worker(
        client, task_queue, workflows=[FanOutChildrenWorkflow, GreetChildWorkflow]
    ):
        handle = await client.start_workflow(
            FanOutChildrenWorkflow.run, ["ann", "bob", "cy"], id=parent_id, task_queue=task_queue
        )
        assert await handle.result() == ["hello ann", "hello bob", "hello cy"]

    types = await event_types(handle)
    assert types[:5] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "START_CHILD_WORKFLOW_EXECUTION_INITIATED",
    ]
    assert types.count("START_CHILD_WORKFLOW_EXECUTION_INITIATED") == 3
    assert types.count("CHILD_WORKFLOW_EXECUTION_STARTED") == 3
    assert types.count("CHILD_WORKFLOW_EXECUTION_COMPLETED") == 3
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"

    events = await history_events(handle)
    initiated = {
        e.event_id: e.start_child_workflow_execution_initiated_event_attributes
        for e in events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    }
    assert sorted(a.workflow_id for a in initiated.values()) == [
        f"{parent_id}-child-{i}" for i in range(3)
    ]
    assert {a.workflow_type.name for a in initiated.values()} == {"GreetChildWorkflow"}
    assert {a.task_queue.name for a in initiated.values()} == {task_queue}
    started = [
        e.child_workflow_execution_started_event_attributes
        for e in events
        if e.HasField("child_workflow_execution_started_event_attributes")
    ]
    assert {s.initiated_event_id for s in started} == set(initiated)
    completed = [
        e.child_workflow_execution_completed_event_attributes
        for e in events
        if e.HasField("child_workflow_execution_completed_event_attributes")
    ]
    assert {c.initiated_event_id for c in completed} == set(initiated)
    assert {c.started_event_id for c in completed} == {
        e.event_id
        for e in events
        if e.HasField("child_workflow_execution_started_event_attributes")
    }

    child = client.get_workflow_handle(f"{parent_id}-child-1")
    desc = await child.describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.parent_id == parent_id
    assert desc.parent_run_id == handle.result_run_id
    info = desc.raw_description.workflow_execution_info
    assert info.parent_execution.workflow_id == parent_id
    assert info.parent_execution.run_id == handle.result_run_id
    assert info.parent_namespace_id  # the namespace's id (a UUID), not its name
    assert info.root_execution.workflow_id == parent_id
    assert info.root_execution.run_id == handle.result_run_id
    # The child's started event names its parent and the initiating event.
    child_started = (await history_events(child))[0].workflow_execution_started_event_attributes
    assert child_started.parent_workflow_execution.workflow_id == parent_id
    assert child_started.parent_initiated_event_id in initiated
    assert child_started.parent_workflow_namespace == "default"


@pytest.mark.parametrize("close", ["complete", "fail", "terminate"])
async def test_parent_close_policies(client: Client, task_queue: str, close: str) -> None:
    ids = PolicyChildIds(
        terminate_id=unique("pcp-terminate"),
        request_cancel_id=unique("pcp-cancel"),
        abandon_id=unique("pcp-abandon"),
    )
    async with running_worker(
        client, task_queue, workflows=[ClosingParentWorkflow, WaitingChildWorkflow]
    ):
        parent = await client.start_workflow(
            ClosingParentWorkflow.run, ids, id=unique("pcp-parent"), task_queue=task_queue
        )
        children = {
            "terminate": client.get_workflow_handle(ids.terminate_id),
            "cancel": client.get_workflow_handle(ids.request_cancel_id),
            "abandon": client.get_workflow_handle_for(WaitingChildWorkflow.run, ids.abandon_id),
        }

        async def all_children_started() -> bool:
            return (await event_types(parent)).count("CHILD_WORKFLOW_EXECUTION_STARTED") == 3

        await wait_for(all_children_started, message="three children started")
        if close == "terminate":
            await parent.terminate(reason="stop the family")
        else:
            await parent.signal(ClosingParentWorkflow.finish, close)
            if close == "complete":
                assert await parent.result() == "parent done"
            else:
                with pytest.raises(WorkflowFailureError):
                    await parent.result()

        async def policies_applied() -> bool:
            return (
                await status_of(children["terminate"]) == WorkflowExecutionStatus.TERMINATED
                and await status_of(children["cancel"]) == WorkflowExecutionStatus.COMPLETED
            )

        await wait_for(policies_applied, message="parent-close policies applied")
        # REQUEST_CANCEL: the child saw the cancellation and cleaned up itself.
        assert await children["cancel"].result() == "cleaned up after cancel"
        cancel_events = await history_events(children["cancel"])
        requested = [
            e.workflow_execution_cancel_requested_event_attributes
            for e in cancel_events
            if e.HasField("workflow_execution_cancel_requested_event_attributes")
        ]
        assert len(requested) == 1
        assert requested[0].external_workflow_execution.workflow_id == parent.id
        assert requested[0].external_initiated_event_id == 0
        assert requested[0].identity == "history-service"
        assert requested[0].cause == ""
        # TERMINATE: the server terminated the child.
        term_events = await history_events(children["terminate"])
        assert event_type_name(term_events[-1]) == "WORKFLOW_EXECUTION_TERMINATED"
        terminated = term_events[-1].workflow_execution_terminated_event_attributes
        assert terminated.reason == "by parent close policy"
        assert terminated.identity == "history-service"
        # ABANDON: the child keeps running and can still finish normally.
        assert await status_of(children["abandon"]) == WorkflowExecutionStatus.RUNNING
        await children["abandon"].signal(WaitingChildWorkflow.release)
        assert await children["abandon"].result() == "released"


async def test_child_start_fails_when_id_is_taken(client: Client, task_queue: str) -> None:
    taken = unique("taken")
    async with running_worker(
        client, task_queue, workflows=[DuplicateChildWorkflow, WaitingChildWorkflow]
    ):
        squatter = await client.start_workflow(
            WaitingChildWorkflow.run, id=taken, task_queue=task_queue
        )
        parent = await client.start_workflow(
            DuplicateChildWorkflow.run, taken, id=unique("dup-parent"), task_queue=task_queue
        )
        result = await parent.result()
        await squatter.terminate()

    assert result == (
        f"WorkflowAlreadyStartedError: {taken} WaitingChildWorkflow"
        " Workflow execution already started"
    )
    events = await history_events(parent)
    assert [event_type_name(e) for e in events][4:7] == [
        "START_CHILD_WORKFLOW_EXECUTION_INITIATED",
        "START_CHILD_WORKFLOW_EXECUTION_FAILED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    failed = events[5].start_child_workflow_execution_failed_event_attributes
    assert failed.cause == (
        StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
    )
    assert failed.workflow_id == taken
    assert failed.workflow_type.name == "WaitingChildWorkflow"
    assert failed.initiated_event_id == 5


CHILD_OUTCOMES = {
    "fail": (
        "CHILD_WORKFLOW_EXECUTION_FAILED",
        ChildOutcome(
            error="ChildWorkflowError",
            message="Child Workflow execution failed",
            cause="ApplicationError",
            cause_message="child broke",
            retry_state="RETRY_POLICY_NOT_SET",
        ),
    ),
    "timeout": (
        "CHILD_WORKFLOW_EXECUTION_TIMED_OUT",
        ChildOutcome(
            error="ChildWorkflowError",
            message="Child Workflow execution timed out",
            cause="TimeoutError",
            cause_message="Timed out",
            retry_state="TIMEOUT",
        ),
    ),
    "terminate": (
        "CHILD_WORKFLOW_EXECUTION_TERMINATED",
        ChildOutcome(
            error="ChildWorkflowError",
            message="Child Workflow execution terminated",
            cause="TerminatedError",
            cause_message="Terminated",
            retry_state="NON_RETRYABLE_FAILURE",
        ),
    ),
    "cancel": (
        "CHILD_WORKFLOW_EXECUTION_CANCELED",
        ChildOutcome(
            error="ChildWorkflowError",
            message="Child Workflow execution cancelled",
            cause="CancelledError",
            cause_message="Cancelled",
            retry_state="NON_RETRYABLE_FAILURE",
        ),
    ),
}


@pytest.mark.parametrize("mode", list(CHILD_OUTCOMES))
async def test_child_outcome_reaches_parent(client: Client, task_queue: str, mode: str) -> None:
    expected_event, expected_outcome = CHILD_OUTCOMES[mode]
    params = ChildOutcomeInput(
        child_id=unique(f"child-{mode}"),
        mode=mode,
        execution_timeout_seconds=1.0 if mode == "timeout" else None,
    )
    async with running_worker(
        client, task_queue, workflows=[ChildOutcomeParentWorkflow, OutcomeChildWorkflow]
    ):
        parent = await client.start_workflow(
            ChildOutcomeParentWorkflow.run, params, id=unique("outcome"), task_queue=task_queue
        )
        child = client.get_workflow_handle(params.child_id)
        if mode in ("terminate", "cancel"):
            await wait_for(
                lambda: _has(parent, "CHILD_WORKFLOW_EXECUTION_STARTED"), message="child started"
            )
            if mode == "terminate":
                await child.terminate()
            else:
                await child.cancel()
        outcome = await parent.result()

    assert outcome == expected_outcome
    events = await history_events(parent)
    (closed,) = [e for e in events if event_type_name(e) == expected_event]
    attrs = getattr(closed, closed.WhichOneof("attributes"))
    assert attrs.workflow_execution.workflow_id == params.child_id
    assert attrs.workflow_type.name == "OutcomeChildWorkflow"
    assert attrs.namespace == "default"
    assert (attrs.initiated_event_id, attrs.started_event_id) == (5, 6)
    if mode == "fail":
        assert attrs.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
        assert attrs.failure.application_failure_info.type == "ChildBroke"
    elif mode == "timeout":
        assert attrs.retry_state == RetryState.RETRY_STATE_TIMEOUT
    if mode == "fail":
        with pytest.raises(WorkflowFailureError) as exc_info:
            await child.result()
        assert isinstance(exc_info.value.cause, ApplicationError)


async def _has(handle: WorkflowHandle[Any, Any], name: str) -> bool:
    return name in await event_types(handle)
