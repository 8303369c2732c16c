"""Activity retries, heartbeats and timeouts as the SDK observes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)

from .harness import event_type_name, event_types, history_events, running_worker, unique
from .workflows import (
    FailingActivities,
    HeartbeatActivities,
    HeartbeatTimeoutWorkflow,
    NonRetryableWorkflow,
    ResumeChunksWorkflow,
    ScheduleToCloseWorkflow,
)


async def test_heartbeat_progress_survives_a_failed_attempt(
    client: Client, task_queue: str
) -> None:
    acts = HeartbeatActivities(crash_after=3)
    async with running_worker(
        client, task_queue, workflows=[ResumeChunksWorkflow], activities=[acts.resume_chunks]
    ):
        handle = await client.start_workflow(
            ResumeChunksWorkflow.run, 6, id=unique("chunks"), task_queue=task_queue
        )
        assert await handle.result() == 6

    # Attempt 1 processed chunks 0..2 and heartbeated 3 before failing; attempt 2
    # resumed from that heartbeat instead of starting over.
    assert acts.started_from == [0, 3]
    assert acts.processed == [0, 1, 2, 3, 4, 5]
    events = await history_events(handle)
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert [s.attempt for s in started] == [2]
    assert started[0].last_failure.message == "worker crashed mid-batch"


async def test_non_retryable_error_fails_workflow_after_one_attempt(
    client: Client, task_queue: str
) -> None:
    acts = FailingActivities()
    async with running_worker(
        client, task_queue, workflows=[NonRetryableWorkflow], activities=[acts.decline_card]
    ):
        handle = await client.start_workflow(
            NonRetryableWorkflow.run, id=unique("nonretry"), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.activity_type == "decline_card"
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    app_error = activity_error.cause
    assert isinstance(app_error, ApplicationError)
    assert app_error.message == "card declined"
    assert app_error.type == "CardDeclined"
    assert app_error.non_retryable
    assert list(app_error.details) == ["4242"]
    assert acts.attempts == [1]
    assert (await event_types(handle))[4:] == [
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_FAILED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_FAILED",
    ]


async def test_schedule_to_close_timeout_caps_retries(client: Client, task_queue: str) -> None:
    acts = FailingActivities()
    async with running_worker(
        client, task_queue, workflows=[ScheduleToCloseWorkflow], activities=[acts.always_flaky]
    ):
        handle = await client.start_workflow(
            ScheduleToCloseWorkflow.run, id=unique("s2c"), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.activity_type == "always_flaky"
    assert activity_error.retry_state == RetryState.TIMEOUT
    timeout = activity_error.cause
    assert isinstance(timeout, TimeoutError)
    assert timeout.type == TimeoutType.SCHEDULE_TO_CLOSE
    assert timeout.message == (
        "Not enough time to schedule next retry before activity ScheduleToClose timeout,"
        " giving up retrying"
    )
    # The last attempt's failure rides along as the cause.
    assert isinstance(timeout.cause, ApplicationError)
    assert timeout.cause.message == "still flaky"
    assert acts.attempts[0] == 1 and acts.attempts == list(range(1, len(acts.attempts) + 1))

    events = await history_events(handle)
    timed_out = [e for e in events if e.HasField("activity_task_timed_out_event_attributes")]
    assert len(timed_out) == 1
    scheduled = next(e for e in events if e.HasField("activity_task_scheduled_event_attributes"))
    # The whole activity (every attempt and backoff) was capped near its 1 s budget.
    elapsed = timed_out[0].event_time.ToDatetime() - scheduled.event_time.ToDatetime()
    assert timedelta(seconds=1) <= elapsed < timedelta(seconds=5)
    assert "ACTIVITY_TASK_FAILED" not in [event_type_name(e) for e in events]


async def test_heartbeat_timeout_triggers_retry(client: Client, task_queue: str) -> None:
    acts = HeartbeatActivities()
    async with running_worker(
        client,
        task_queue,
        workflows=[HeartbeatTimeoutWorkflow],
        activities=[acts.stalls_first_attempt],
    ):
        handle = await client.start_workflow(
            HeartbeatTimeoutWorkflow.run, id=unique("hbtimeout"), task_queue=task_queue
        )
        assert await handle.result() == 2

    assert acts.attempts == [1, 2]
    events = await history_events(handle)
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert [s.attempt for s in started] == [2]
    last_failure = started[0].last_failure
    assert last_failure.message == "activity Heartbeat timeout"
    assert last_failure.timeout_failure_info.timeout_type == TimeoutType.HEARTBEAT
