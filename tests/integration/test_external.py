"""SignalExternalWorkflowExecution and RequestCancelExternalWorkflowExecution commands."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import (
    CancelExternalWorkflowExecutionFailedCause,
    SignalExternalWorkflowExecutionFailedCause,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import ExternalSenderWorkflow, MailboxWorkflow

EXTERNAL = [ExternalSenderWorkflow, MailboxWorkflow]


def by_type(events: list[HistoryEvent], name: str) -> HistoryEvent:
    (event,) = [e for e in events if event_type_name(e) == name]
    return event


async def test_signal_between_two_workflows(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=EXTERNAL):
        target = await client.start_workflow(
            MailboxWorkflow.run, id=unique("mailbox"), task_queue=task_queue
        )
        sender = await client.start_workflow(
            ExternalSenderWorkflow.run,
            args=[target.id, "signal"],
            id=unique("sender"),
            task_queue=task_queue,
        )
        assert await sender.result() == "signal delivered"
        assert await target.result() == "got parcel"

    sender_events = await history_events(sender)
    assert [event_type_name(e) for e in sender_events][4:7] == [
        "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED",
        "EXTERNAL_WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    initiated = sender_events[4].signal_external_workflow_execution_initiated_event_attributes
    assert initiated.workflow_execution.workflow_id == target.id
    assert initiated.workflow_execution.run_id == ""
    assert initiated.signal_name == "deliver"
    assert initiated.namespace == "default"
    assert initiated.workflow_task_completed_event_id == 4
    assert initiated.input.payloads[0].data == b'"parcel"'
    signaled = sender_events[5].external_workflow_execution_signaled_event_attributes
    assert signaled.initiated_event_id == 5
    assert signaled.workflow_execution.workflow_id == target.id
    # The run id stays as the command gave it (empty), not the run that got it.
    assert signaled.workflow_execution.run_id == ""
    assert signaled.namespace == "default"

    target_events = await history_events(target)
    received = by_type(target_events, "WORKFLOW_EXECUTION_SIGNALED")
    attrs = received.workflow_execution_signaled_event_attributes
    assert attrs.signal_name == "deliver"
    assert attrs.external_workflow_execution.workflow_id == sender.id
    assert attrs.external_workflow_execution.run_id == sender.result_run_id
    assert attrs.identity == "history-service"
    assert attrs.request_id  # a fresh UUID per delivery


async def test_cancel_between_two_workflows(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=EXTERNAL):
        target = await client.start_workflow(
            MailboxWorkflow.run, id=unique("mailbox"), task_queue=task_queue
        )
        await wait_for(lambda: _has(target, "WORKFLOW_TASK_COMPLETED"), message="target waiting")
        sender = await client.start_workflow(
            ExternalSenderWorkflow.run,
            args=[target.id, "cancel"],
            id=unique("canceller"),
            task_queue=task_queue,
        )
        assert await sender.result() == "cancel delivered"
        # The target handles the cancellation and completes.
        assert await target.result() == "cancelled by request"

    sender_events = await history_events(sender)
    assert [event_type_name(e) for e in sender_events][4:7] == [
        "REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED",
        "EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    initiated = sender_events[
        4
    ].request_cancel_external_workflow_execution_initiated_event_attributes
    assert initiated.workflow_execution.workflow_id == target.id
    assert initiated.workflow_task_completed_event_id == 4
    assert initiated.namespace == "default"
    requested = sender_events[5].external_workflow_execution_cancel_requested_event_attributes
    assert requested.initiated_event_id == 5
    assert requested.workflow_execution.workflow_id == target.id
    assert requested.workflow_execution.run_id == ""

    target_events = await history_events(target)
    cancel = by_type(target_events, "WORKFLOW_EXECUTION_CANCEL_REQUESTED")
    attrs = cancel.workflow_execution_cancel_requested_event_attributes
    assert attrs.external_initiated_event_id == 5
    assert attrs.external_workflow_execution.workflow_id == sender.id
    assert attrs.external_workflow_execution.run_id == sender.result_run_id
    assert attrs.identity == "history-service"
    assert attrs.cause == (
        f"Cancel requested by workflow with run id {sender.result_run_id} with reason: "
    )


@pytest.mark.parametrize("action", ["signal", "cancel"])
async def test_external_target_not_found(client: Client, task_queue: str, action: str) -> None:
    async with running_worker(client, task_queue, workflows=EXTERNAL):
        sender = await client.start_workflow(
            ExternalSenderWorkflow.run,
            args=[unique("nobody"), action],
            id=unique("sender"),
            task_queue=task_queue,
        )
        outcome = await sender.result()

    events = await history_events(sender)
    if action == "signal":
        assert outcome == (
            "ApplicationError: Unable to signal external workflow because it was not found"
            " (type=ExternalWorkflowExecutionNotFound)"
        )
        failed_name = "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED"
        failed = by_type(
            events, failed_name
        ).signal_external_workflow_execution_failed_event_attributes
        assert failed.cause == (
            SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
        )
    else:
        assert outcome == (
            "ApplicationError: Unable to cancel external workflow because not found"
            " (type=ExternalWorkflowExecutionNotFound)"
        )
        failed_name = "REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED"
        failed = by_type(
            events, failed_name
        ).request_cancel_external_workflow_execution_failed_event_attributes
        assert failed.cause == (
            CancelExternalWorkflowExecutionFailedCause.CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
        )
    assert [event_type_name(e) for e in events][5:7] == [failed_name, "WORKFLOW_TASK_SCHEDULED"]
    assert failed.initiated_event_id == 5
    assert failed.namespace == "default"
    assert failed.workflow_task_completed_event_id == 0
    assert failed.workflow_execution.run_id == ""
    assert failed.namespace_id  # the namespace's UUID


async def test_signal_to_a_closed_workflow_fails(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=EXTERNAL):
        target = await client.start_workflow(
            MailboxWorkflow.run, id=unique("mailbox"), task_queue=task_queue
        )
        await target.signal(MailboxWorkflow.deliver, "early")
        assert await target.result() == "got early"
        sender = await client.start_workflow(
            ExternalSenderWorkflow.run,
            args=[target.id, "signal"],
            id=unique("sender"),
            task_queue=task_queue,
        )
        # A closed target is reported exactly like a missing one.
        assert await sender.result() == (
            "ApplicationError: Unable to signal external workflow because it was not found"
            " (type=ExternalWorkflowExecutionNotFound)"
        )
    assert "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED" in await event_types(sender)


async def _has(handle: object, name: str) -> bool:
    return name in await event_types(handle)  # type: ignore[arg-type]
