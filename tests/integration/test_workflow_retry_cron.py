"""Workflow retry policies, cron schedules and workflow run/execution timeouts.

Retries and cron runs are new runs under the same workflow id, made the same way as
continue-as-new: the closing event names the next run, whose started event points
back with ``continued_execution_run_id`` and an initiator.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ContinueAsNewInitiator, HistoryEventFilterType, RetryState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import (
    Client,
    WorkflowContinuedAsNewError,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, TimeoutError, TimeoutType

from .harness import event_type_name, history_events, running_worker, unique, wait_for
from .workflows_v3 import CronWorkflow, FlakyWorkflow, SleepingWorkflow

FAST_WORKFLOW_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=5
)
FAILED_RUN_TYPES = [
    "WORKFLOW_EXECUTION_STARTED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_FAILED",
]


async def run_events(client: Client, workflow_id: str, run_id: str) -> list[HistoryEvent]:
    return await history_events(client.get_workflow_handle(workflow_id, run_id=run_id))


async def test_workflow_succeeds_on_third_attempt(client: Client, task_queue: str) -> None:
    workflow_id = unique("wf-retry")
    async with running_worker(client, task_queue, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(
            FlakyWorkflow.run,
            3,
            id=workflow_id,
            task_queue=task_queue,
            retry_policy=FAST_WORKFLOW_RETRY,
        )
        # result() follows the retry runs to the successful one.
        assert await handle.result() == 3

    first_run = handle.first_execution_run_id
    assert first_run is not None
    run_ids = [first_run]
    for attempt in (1, 2):
        events = await run_events(client, workflow_id, run_ids[-1])
        assert [event_type_name(e) for e in events] == FAILED_RUN_TYPES
        started = events[0].workflow_execution_started_event_attributes
        assert started.attempt == attempt
        assert started.retry_policy.maximum_attempts == 5
        failed = events[-1].workflow_execution_failed_event_attributes
        assert failed.failure.message == f"attempt {attempt} failed"
        assert failed.failure.application_failure_info.type == "Flaky"
        assert failed.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
        assert failed.workflow_task_completed_event_id == 4
        assert failed.new_execution_run_id
        run_ids.append(failed.new_execution_run_id)
        # The failed run is closed as FAILED even though the workflow id lives on.
        desc = await client.get_workflow_handle(workflow_id, run_id=run_ids[-2]).describe()
        assert desc.status == WorkflowExecutionStatus.FAILED

    last = await run_events(client, workflow_id, run_ids[-1])
    assert event_type_name(last[-1]) == "WORKFLOW_EXECUTION_COMPLETED"
    started = last[0].workflow_execution_started_event_attributes
    assert started.attempt == 3
    assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
    assert started.continued_execution_run_id == run_ids[1]
    assert started.first_execution_run_id == first_run
    assert started.original_execution_run_id == run_ids[2]
    assert started.continued_failure.message == "attempt 2 failed"
    assert started.HasField("first_workflow_task_backoff")
    assert started.first_workflow_task_backoff.ToTimedelta() <= timedelta(seconds=1)

    # Without following runs the SDK reports "continued as new": the SDK does not send
    # the `supported-features: follows-next-run-id` header, so for a close-event-only
    # history read the server rewrites a FAILED event that has a next run into a
    # CONTINUED_AS_NEW one (see test_close_event_rewritten_for_clients_without_follows).
    pinned = client.get_workflow_handle(workflow_id, run_id=first_run)
    with pytest.raises(WorkflowContinuedAsNewError) as exc_info:
        await pinned.result(follow_runs=False)
    assert exc_info.value.new_execution_run_id == run_ids[1]


async def close_event(
    client: Client, workflow_id: str, run_id: str, metadata: dict[str, str]
) -> HistoryEvent:
    request = GetWorkflowExecutionHistoryRequest(
        namespace="default",
        execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
        history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        skip_archival=True,
    )
    response = await client.workflow_service.get_workflow_execution_history(
        request, metadata=metadata
    )
    (event,) = response.history.events
    return event


async def test_close_event_rewritten_for_clients_without_follows(
    client: Client, task_queue: str
) -> None:
    workflow_id = unique("wf-close")
    async with running_worker(client, task_queue, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(
            FlakyWorkflow.run,
            2,
            id=workflow_id,
            task_queue=task_queue,
            retry_policy=FAST_WORKFLOW_RETRY,
        )
        assert await handle.result() == 2
    first_run = handle.first_execution_run_id
    assert first_run is not None
    real = (await run_events(client, workflow_id, first_run))[-1]
    assert event_type_name(real) == "WORKFLOW_EXECUTION_FAILED"
    next_run = real.workflow_execution_failed_event_attributes.new_execution_run_id

    fake = await close_event(client, workflow_id, first_run, {})
    assert event_type_name(fake) == "WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    assert (fake.event_id, fake.event_time, fake.task_id) == (
        real.event_id,
        real.event_time,
        real.task_id,
    )
    attrs = fake.workflow_execution_continued_as_new_event_attributes
    assert attrs.new_execution_run_id == next_run
    assert attrs.failure == real.workflow_execution_failed_event_attributes.failure
    assert attrs.workflow_type.name == ""
    assert not attrs.HasField("task_queue")

    # A client that declares the feature gets the real event.
    declared = await close_event(
        client, workflow_id, first_run, {"supported-features": "follows-next-run-id"}
    )
    assert declared == real


@pytest.mark.parametrize(
    ("error_type", "policy", "retry_state"),
    [
        (
            "Fatal",
            RetryPolicy(
                initial_interval=timedelta(milliseconds=100), non_retryable_error_types=["Fatal"]
            ),
            RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
        ),
        (
            "Flaky",
            RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
            RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
        ),
        # ApplicationError(non_retryable=True) wins over the policy.
        ("NonRetryable", FAST_WORKFLOW_RETRY, RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE),
        ("Flaky", None, RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET),
    ],
    ids=["non-retryable-type", "maximum-attempts", "non-retryable-flag", "no-policy"],
)
async def test_workflow_retry_stops(
    client: Client,
    task_queue: str,
    error_type: str,
    policy: RetryPolicy | None,
    retry_state: RetryState.ValueType,
) -> None:
    workflow_id = unique("wf-noretry")
    async with running_worker(client, task_queue, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(
            FlakyWorkflow.run,
            args=[99, error_type],
            id=workflow_id,
            task_queue=task_queue,
            retry_policy=policy,
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    cause = exc_info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type
    last_attempt = 2 if retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED else 1
    assert cause.message == f"attempt {last_attempt} failed"
    events = await history_events(handle)
    assert [event_type_name(e) for e in events] == FAILED_RUN_TYPES
    assert events[0].workflow_execution_started_event_attributes.attempt == last_attempt
    failed = events[-1].workflow_execution_failed_event_attributes
    assert failed.retry_state == retry_state
    assert failed.new_execution_run_id == ""


async def test_cron_workflow_fires_at_least_twice(client: Client, task_queue: str) -> None:
    workflow_id = unique("cron")
    async with running_worker(client, task_queue, workflows=[CronWorkflow]):
        handle = await client.start_workflow(
            CronWorkflow.run, id=workflow_id, task_queue=task_queue, cron_schedule="@every 1s"
        )
        first_run = handle.first_execution_run_id
        assert first_run is not None
        first_events = await history_events(
            client.get_workflow_handle(workflow_id, run_id=first_run)
        )
        started = first_events[0].workflow_execution_started_event_attributes
        assert started.cron_schedule == "@every 1s"
        # The first run waits for the schedule's first tick before its first task.
        assert started.HasField("first_workflow_task_backoff")
        assert started.first_workflow_task_backoff.ToTimedelta() <= timedelta(seconds=1)

        async def completed_runs() -> list[str] | None:
            runs = [run async for run in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
            done = [r.run_id for r in runs if r.status == WorkflowExecutionStatus.COMPLETED]
            return done if len(done) >= 2 else None

        await wait_for(completed_runs, within=15, message="two cron runs completed")
        pinned = client.get_workflow_handle(workflow_id, run_id=first_run)
        # Following runs would chase the schedule forever; without following, the
        # completed-with-next-run close event is rewritten to CONTINUED_AS_NEW.
        with pytest.raises(WorkflowContinuedAsNewError):
            await pinned.result(follow_runs=False)
        await handle.terminate(reason="cron test over")

    first_events = await history_events(client.get_workflow_handle(workflow_id, run_id=first_run))
    completed = first_events[-1].workflow_execution_completed_event_attributes
    assert event_type_name(first_events[-1]) == "WORKFLOW_EXECUTION_COMPLETED"
    second_run = completed.new_execution_run_id
    assert second_run
    second = await history_events(client.get_workflow_handle(workflow_id, run_id=second_run))
    attrs = second[0].workflow_execution_started_event_attributes
    assert attrs.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
    assert attrs.continued_execution_run_id == first_run
    assert attrs.first_execution_run_id == first_run
    assert attrs.cron_schedule == "@every 1s"
    assert attrs.last_completion_result.payloads[0].data == b'"@every 1s -"'
    assert event_type_name(second[-1]) == "WORKFLOW_EXECUTION_COMPLETED"
    # The second run saw the first run as the one it continued from.
    assert second[-1].workflow_execution_completed_event_attributes.result.payloads[0].data == (
        f'"@every 1s {first_run}"'.encode()
    )


@pytest.mark.parametrize("which", ["run", "execution"])
async def test_workflow_timeout(client: Client, task_queue: str, which: str) -> None:
    timeout = timedelta(seconds=1)
    kwargs = {"run_timeout": timeout} if which == "run" else {"execution_timeout": timeout}
    async with running_worker(client, task_queue, workflows=[SleepingWorkflow]):
        handle = await client.start_workflow(
            SleepingWorkflow.run,
            60.0,
            id=unique(f"timeout-{which}"),
            task_queue=task_queue,
            **kwargs,
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    cause = exc_info.value.cause
    assert isinstance(cause, TimeoutError)
    # The SDK synthesises this from the TIMED_OUT event, whatever timeout fired.
    assert cause.message == "Workflow timed out"
    assert cause.type == TimeoutType.START_TO_CLOSE
    events = await history_events(handle)
    assert [event_type_name(e) for e in events] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "WORKFLOW_EXECUTION_TIMED_OUT",
    ]
    timed_out = events[-1].workflow_execution_timed_out_event_attributes
    # A run timeout without a retry policy has nothing to retry; an execution timeout
    # reports TIMEOUT.
    assert timed_out.retry_state == (
        RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
        if which == "run"
        else RetryState.RETRY_STATE_TIMEOUT
    )
    assert timed_out.new_execution_run_id == ""
    elapsed = events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()
    assert timedelta(seconds=1) <= elapsed < timedelta(seconds=3)
    started = events[0].workflow_execution_started_event_attributes
    if which == "run":
        assert started.workflow_run_timeout.ToTimedelta() == timeout
        assert started.workflow_execution_timeout.ToTimedelta() == timedelta(0)
    else:
        assert started.workflow_execution_timeout.ToTimedelta() == timeout
        # An execution timeout alone caps the run timeout too.
        assert started.workflow_run_timeout.ToTimedelta() == timeout
    assert (await handle.describe()).status == WorkflowExecutionStatus.TIMED_OUT


async def test_run_timeout_is_retried_under_a_retry_policy(client: Client, task_queue: str) -> None:
    # A run that times out is retried like a failed one; the execution timeout caps
    # the whole chain.
    workflow_id = unique("timeout-retry")
    async with running_worker(client, task_queue, workflows=[SleepingWorkflow]):
        handle = await client.start_workflow(
            SleepingWorkflow.run,
            60.0,
            id=workflow_id,
            task_queue=task_queue,
            run_timeout=timedelta(seconds=1),
            retry_policy=FAST_WORKFLOW_RETRY,
        )
        first_run = handle.first_execution_run_id
        assert first_run is not None

        async def second_run_started() -> str | None:
            events = await run_events(client, workflow_id, first_run)
            last = events[-1]
            if event_type_name(last) != "WORKFLOW_EXECUTION_TIMED_OUT":
                return None
            return last.workflow_execution_timed_out_event_attributes.new_execution_run_id

        second_run = await wait_for(second_run_started, within=5, message="first run timed out")
        first_events = await run_events(client, workflow_id, first_run)
        timed_out = first_events[-1].workflow_execution_timed_out_event_attributes
        assert timed_out.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
        second = await run_events(client, workflow_id, second_run)
        attrs = second[0].workflow_execution_started_event_attributes
        assert attrs.attempt == 2
        assert attrs.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
        assert attrs.continued_failure.timeout_failure_info.timeout_type == (
            TimeoutType.START_TO_CLOSE.value
        )
        await handle.terminate()
