"""Per-workflow limits: pending activities/children/signals/cancels, history count.

These run on a dedicated server started with small limits through the same
``--dynamic-config-value KEY=JSON`` flags both servers accept, so the limits are hit
with a handful of commands instead of 2,000 or 51,200.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import SuggestContinueAsNewReason, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import TerminatedError

from .harness import (
    ServerProcess,
    event_type_name,
    event_types,
    history_events,
    running_worker,
    unique,
    wait_for,
)
from .workflows_v3 import (
    ActivityLoopWorkflow,
    BlockingActivities,
    LoopReport,
    MailboxWorkflow,
    ManyActivitiesWorkflow,
    ManyCancelsWorkflow,
    ManyChildrenWorkflow,
    ManySignalsWorkflow,
    WaitingChildWorkflow,
    tick,
)

PENDING_LIMIT = 3
HISTORY_COUNT_ERROR = 83
HISTORY_COUNT_SUGGEST = 33

LIMITS = {
    "limit.numPendingActivities.error": PENDING_LIMIT,
    "limit.numPendingChildExecutions.error": PENDING_LIMIT,
    "limit.numPendingSignals.error": PENDING_LIMIT,
    "limit.numPendingCancelRequests.error": PENDING_LIMIT,
    "limit.historyCount.error": HISTORY_COUNT_ERROR,
    "limit.historyCount.warn": 20,
    "limit.historyCount.suggestContinueAsNew": HISTORY_COUNT_SUGGEST,
}


class LimitedServer(ServerProcess):
    """A ServerProcess started with extra dynamic-config values."""

    def __init__(self, kind: str, dynamic_config: dict[str, int]) -> None:
        super().__init__(kind)
        self.dynamic_config = dynamic_config

    def command(self) -> list[str]:
        cmd = super().command()
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        return cmd


@pytest.fixture(scope="module")
async def limited_client(server_kind: str) -> AsyncIterator[Client]:
    proc = LimitedServer(server_kind, LIMITS)
    client = await proc.start()
    try:
        yield client
    finally:
        proc.terminate(timeout=5)


def first_failed_task(events: list[HistoryEvent]) -> HistoryEvent:
    return next(e for e in events if event_type_name(e) == "WORKFLOW_TASK_FAILED")


async def wait_task_failed(handle: WorkflowHandle) -> list[HistoryEvent]:  # type: ignore[type-arg]
    async def failed() -> list[HistoryEvent] | None:
        events = await history_events(handle)
        names = [event_type_name(e) for e in events]
        return events if "WORKFLOW_TASK_FAILED" in names else None

    return await wait_for(failed, message="workflow task failed")


async def assert_stuck_on_limit(
    handle: WorkflowHandle,  # type: ignore[type-arg]
    cause: WorkflowTaskFailedCause.ValueType,
    message: str,
) -> list[HistoryEvent]:
    events = await wait_task_failed(handle)
    failed = first_failed_task(events)
    attrs = failed.workflow_task_failed_event_attributes
    assert attrs.cause == cause
    assert attrs.failure.message == message
    assert attrs.failure.HasField("server_failure_info")
    assert attrs.started_event_id == failed.event_id - 1
    # The workflow is not failed: it keeps retrying its task until the code changes.
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.terminate()
    return events


async def test_pending_activities_limit(limited_client: Client, task_queue: str) -> None:
    acts = BlockingActivities()
    async with running_worker(
        limited_client, task_queue, workflows=[ManyActivitiesWorkflow], activities=[acts.block]
    ):
        handle = await limited_client.start_workflow(
            ManyActivitiesWorkflow.run, PENDING_LIMIT + 1, id=unique("acts"), task_queue=task_queue
        )
        events = await assert_stuck_on_limit(
            handle,
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
            "PendingActivitiesLimitExceeded: the number of pending activities, 3,"
            " has reached the per-workflow limit of 3",
        )
    # The whole task was rejected: not even the first three activities were scheduled.
    assert [event_type_name(e) for e in events][:5] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    assert acts.started == 0


async def test_activities_up_to_the_limit_are_fine(limited_client: Client, task_queue: str) -> None:
    acts = BlockingActivities()
    acts.release.set()
    async with running_worker(
        limited_client, task_queue, workflows=[ManyActivitiesWorkflow], activities=[acts.block]
    ):
        handle = await limited_client.start_workflow(
            ManyActivitiesWorkflow.run, PENDING_LIMIT, id=unique("acts"), task_queue=task_queue
        )
        assert await handle.result() == PENDING_LIMIT


async def test_pending_children_limit(limited_client: Client, task_queue: str) -> None:
    async with running_worker(
        limited_client, task_queue, workflows=[ManyChildrenWorkflow, WaitingChildWorkflow]
    ):
        handle = await limited_client.start_workflow(
            ManyChildrenWorkflow.run, PENDING_LIMIT + 1, id=unique("kids"), task_queue=task_queue
        )
        events = await assert_stuck_on_limit(
            handle,
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
            "PendingChildWorkflowsLimitExceeded: the number of pending child workflow"
            " executions, 3, has reached the per-workflow limit of 3",
        )
    names = [event_type_name(e) for e in events]
    assert names.count("START_CHILD_WORKFLOW_EXECUTION_INITIATED") == PENDING_LIMIT


async def test_pending_signals_limit(limited_client: Client, task_queue: str) -> None:
    async with running_worker(
        limited_client, task_queue, workflows=[ManySignalsWorkflow, MailboxWorkflow]
    ):
        target = await limited_client.start_workflow(
            MailboxWorkflow.run, id=unique("mailbox"), task_queue=task_queue
        )
        handle = await limited_client.start_workflow(
            ManySignalsWorkflow.run,
            args=[target.id, PENDING_LIMIT + 1],
            id=unique("signals"),
            task_queue=task_queue,
        )
        await assert_stuck_on_limit(
            handle,
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
            "PendingSignalsLimitExceeded: the number of pending signals to external"
            " workflows, 3, has reached the per-workflow limit of 3",
        )
        await target.terminate()
    assert "WORKFLOW_EXECUTION_SIGNALED" not in await event_types(target)


async def test_pending_cancel_requests_limit(limited_client: Client, task_queue: str) -> None:
    async with running_worker(
        limited_client, task_queue, workflows=[ManyCancelsWorkflow, MailboxWorkflow]
    ):
        targets = [
            await limited_client.start_workflow(
                MailboxWorkflow.run, id=unique("mailbox"), task_queue=task_queue
            )
            for _ in range(PENDING_LIMIT + 1)
        ]
        handle = await limited_client.start_workflow(
            ManyCancelsWorkflow.run,
            [t.id for t in targets],
            id=unique("cancels"),
            task_queue=task_queue,
        )
        await assert_stuck_on_limit(
            handle,
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED,
            "PendingRequestCancelLimitExceeded: the number of pending requests to cancel"
            " external workflows, 3, has reached the per-workflow limit of 3",
        )
        for target in targets:
            await target.terminate()


async def test_history_count_limit_terminates_the_run(
    limited_client: Client, task_queue: str
) -> None:
    async with running_worker(
        limited_client, task_queue, workflows=[ActivityLoopWorkflow], activities=[tick]
    ):
        handle = await limited_client.start_workflow(
            ActivityLoopWorkflow.run, args=[100, False], id=unique("history"), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    assert isinstance(exc_info.value.cause, TerminatedError)
    assert exc_info.value.cause.message == "Workflow history count exceeds limit."
    events = await history_events(handle)
    # The transaction that took the history to the limit (event 83, an activity
    # scheduled by the completing workflow task) is followed by the termination.
    assert len(events) == HISTORY_COUNT_ERROR + 1
    assert event_type_name(events[-2]) == "ACTIVITY_TASK_SCHEDULED"
    last = events[-1]
    assert event_type_name(last) == "WORKFLOW_EXECUTION_TERMINATED"
    attrs = last.workflow_execution_terminated_event_attributes
    assert attrs.reason == "Workflow history count exceeds limit."
    assert attrs.identity == "history-service"
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_continue_as_new_suggested(limited_client: Client, task_queue: str) -> None:
    async with running_worker(
        limited_client, task_queue, workflows=[ActivityLoopWorkflow], activities=[tick]
    ):
        handle = await limited_client.start_workflow(
            ActivityLoopWorkflow.run, args=[100, True], id=unique("suggest"), task_queue=task_queue
        )
        report = await handle.result()

    assert isinstance(report, LoopReport)
    assert report.suggested
    # Tasks start at events 3, 9, 15, ...; the first one whose started event brings the
    # history to the suggest limit (33) carries the suggestion.
    assert report.history_length == HISTORY_COUNT_SUGGEST
    assert report.iterations == 5
    events = await history_events(handle)
    started = [e for e in events if event_type_name(e) == "WORKFLOW_TASK_STARTED"]
    suggested = [
        e.event_id
        for e in started
        if e.workflow_task_started_event_attributes.suggest_continue_as_new
    ]
    assert suggested == [HISTORY_COUNT_SUGGEST]
    attrs = started[-1].workflow_task_started_event_attributes
    assert list(attrs.suggest_continue_as_new_reasons) == [
        SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS
    ]
    assert attrs.history_size_bytes > 0
