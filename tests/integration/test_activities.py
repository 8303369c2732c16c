"""Activity retries, heartbeats and timeouts as the SDK observes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.history.v1 import HistoryEvent
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
    ScheduleToCloseInput,
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


async def _run_schedule_to_close(
    client: Client, task_queue: str, acts: FailingActivities, params: ScheduleToCloseInput
) -> tuple[ActivityError, list[HistoryEvent]]:
    async with running_worker(
        client, task_queue, workflows=[ScheduleToCloseWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            ScheduleToCloseWorkflow.run, params, id=unique("s2c"), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.activity_type == params.activity
    return activity_error, await history_events(handle)


async def test_schedule_to_close_timeout_caps_retries(client: Client, task_queue: str) -> None:
    # Attempt 1 fails, attempt 2 (scheduled ~1 s later at most) runs past the 2 s budget:
    # the schedule-to-close timer fires while an attempt is in flight.
    acts = FailingActivities()
    params = ScheduleToCloseInput(
        "flaky_then_hang", schedule_to_close_seconds=2, initial_interval_seconds=0.1
    )
    activity_error, events = await _run_schedule_to_close(client, task_queue, acts, params)

    assert activity_error.message == "Activity task timed out"
    assert activity_error.retry_state == RetryState.TIMEOUT
    timeout = activity_error.cause
    assert isinstance(timeout, TimeoutError)
    assert timeout.type == TimeoutType.SCHEDULE_TO_CLOSE
    assert timeout.message == (
        "Not enough time to schedule next retry before activity ScheduleToClose timeout,"
        " giving up retrying"
    )
    # The previous attempt's failure rides along as the cause.
    assert isinstance(timeout.cause, ApplicationError)
    assert timeout.cause.message == "first attempt failed"
    assert acts.attempts == [1, 2]

    types = [event_type_name(e) for e in events]
    assert types[4:7] == [
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_TIMED_OUT",
    ]
    scheduled, started, timed_out = events[4:7]
    assert started.activity_task_started_event_attributes.attempt == 2
    attrs = timed_out.activity_task_timed_out_event_attributes
    assert attrs.retry_state == RetryState.TIMEOUT.value
    assert attrs.failure.timeout_failure_info.timeout_type == TimeoutType.SCHEDULE_TO_CLOSE.value
    elapsed = timed_out.event_time.ToDatetime() - scheduled.event_time.ToDatetime()
    assert timedelta(seconds=2) <= elapsed < timedelta(seconds=5)


async def test_retry_backoff_past_schedule_to_close_fails_activity(
    client: Client, task_queue: str
) -> None:
    # Attempts at ~0 s and ~1 s both fail; the next one (~2 s) would start after the
    # 1.8 s budget, so the server gives up on the failure response itself.
    acts = FailingActivities()
    params = ScheduleToCloseInput(
        "always_flaky", schedule_to_close_seconds=1.8, initial_interval_seconds=1
    )
    activity_error, events = await _run_schedule_to_close(client, task_queue, acts, params)

    assert activity_error.message == "Activity task failed"
    assert activity_error.retry_state == RetryState.TIMEOUT
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.message == "still flaky"
    assert acts.attempts == [1, 2]
    types = [event_type_name(e) for e in events]
    assert types[4:7] == [
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_FAILED",
    ]
    attrs = events[6].activity_task_failed_event_attributes
    assert attrs.retry_state == RetryState.TIMEOUT.value
    assert attrs.failure.application_failure_info.type == "Flaky"
    elapsed = events[6].event_time.ToDatetime() - events[4].event_time.ToDatetime()
    assert elapsed < timedelta(seconds=1.8)


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
