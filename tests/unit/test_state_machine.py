"""The workflow state machine driven directly: no server, no clock, no store.

Time is whatever each step says (`Run.at(now)`), so every timeout is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from temporalio.api.command.v1 import (
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import ActivityType, Payload, Payloads, RetryPolicy, WorkflowType
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    RetryState,
    TaskQueueKind,
    TimeoutType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.api.start import started_attributes
from pytemporal.history.workflow import activities, commands, deadlines, lifecycle
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.state import ActivityInfo, MutableState, Task

E = EventType
T0 = 1000.0


def payloads(text: str) -> Payloads:
    return Payloads(payloads=[Payload(data=text.encode())])


def app_failure(message: str = "boom", *, non_retryable: bool = False) -> Failure:
    return Failure(
        message=message,
        application_failure_info=ApplicationFailureInfo(type="Err", non_retryable=non_retryable),
    )


class Run:
    """One run's mutable state plus every event it has written, in order."""

    def __init__(self, *, start_delay: float = 0.0, **start: object) -> None:
        req = StartWorkflowExecutionRequest(
            namespace="default",
            workflow_id="wf-1",
            workflow_type=WorkflowType(name="Greeter"),
            task_queue=TaskQueue(name="tq"),
            workflow_task_timeout=dur(10),
            identity="client",
            request_id="req-1",
            **start,  # type: ignore[arg-type]
        )
        attrs = started_attributes(req, "run-1", T0)
        self.ms = lifecycle.new_run(
            namespace_id="ns-id",
            namespace="default",
            run_id="run-1",
            request_id="req-1",
            attrs=attrs,
            now=T0,
            start_delay=start_delay,
        )
        if not start_delay:
            wt.schedule(self.ms)  # as history/api/start.py does
        self.events: list[HistoryEvent] = list(self.ms.new_events)
        self.tasks: list[Task] = list(self.ms.tasks)

    @contextmanager
    def at(self, now: float) -> Iterator[MutableState]:
        """One mutation at time `now`; its events and tasks are collected afterwards."""
        self.ms.begin(now)
        yield self.ms
        self.events.extend(self.ms.new_events)
        self.tasks = list(self.ms.tasks)

    # -- steps -----------------------------------------------------------------------

    def start_wft(self, now: float) -> None:
        with self.at(now) as ms:
            wt.start(ms, request_id=f"poll-{now}", identity="worker", suggest_can=False)

    def complete_wft(
        self, now: float, *cmds: Command, sticky_queue: str = "", sticky_timeout: float = 5
    ) -> commands.Outcome:
        req = RespondWorkflowTaskCompletedRequest(commands=list(cmds), identity="worker")
        if sticky_queue:
            req.sticky_attributes.CopyFrom(
                StickyExecutionAttributes(
                    worker_task_queue=TaskQueue(
                        name=sticky_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY
                    ),
                    schedule_to_start_timeout=dur(sticky_timeout),
                )
            )
        with self.at(now) as ms:
            return commands.complete(ms, req)

    def fire(self, now: float) -> None:
        with self.at(now) as ms:
            deadlines.fire_due(ms)

    def activity(self, activity_id: str = "a1") -> ActivityInfo:
        return self.ms.activities[self.ms.activity_ids[activity_id]]

    # -- views -----------------------------------------------------------------------

    def types(self, start: int = 0) -> list[int]:
        return [e.event_type for e in self.events[start:]]

    def ids_are_contiguous(self) -> bool:
        return [e.event_id for e in self.events] == list(range(1, len(self.events) + 1))


def schedule_activity(
    activity_id: str = "a1",
    *,
    start_to_close: float = 10,
    schedule_to_start: float = 0,
    heartbeat: float = 0,
    retry: RetryPolicy | None = None,
) -> Command:
    a = ScheduleActivityTaskCommandAttributes(
        activity_id=activity_id,
        activity_type=ActivityType(name="Charge"),
        task_queue=TaskQueue(name="tq"),
        start_to_close_timeout=dur(start_to_close),
    )
    if schedule_to_start:
        a.schedule_to_start_timeout.CopyFrom(dur(schedule_to_start))
    if heartbeat:
        a.heartbeat_timeout.CopyFrom(dur(heartbeat))
    if retry is not None:
        a.retry_policy.CopyFrom(retry)
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=a,
    )


def start_timer(timer_id: str, seconds: float) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id=timer_id, start_to_fire_timeout=dur(seconds)
        ),
    )


def complete_workflow(result: str = "done") -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(
            result=payloads(result)
        ),
    )


def retry_policy(*, attempts: int = 0, initial: float = 1) -> RetryPolicy:
    return RetryPolicy(initial_interval=dur(initial), maximum_attempts=attempts)


def signal(run: Run, now: float, name: str = "go") -> None:
    with run.at(now) as ms:
        lifecycle.signal(ms, name, payloads(name), "client", None, f"sig-{name}-{now}")


def run_with_activity(**kw: object) -> Run:
    """A run whose first workflow task scheduled activity "a1" at T0 + 2."""
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, schedule_activity(**kw))  # type: ignore[arg-type]
    return run


def start_activity(run: Run, now: float) -> ActivityInfo:
    ai = run.activity()
    with run.at(now) as ms:
        activities.start(ms, ai, request_id=f"act-{now}", identity="act-worker")
    return ai


# -- a run end to end ------------------------------------------------------------


def test_start_writes_started_and_schedules_the_first_workflow_task() -> None:
    run = Run()
    assert run.types() == [
        E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.tasks == [Task("workflow", 2, 1, "tq")]
    assert run.ms.wft is not None and run.ms.wft.timeout == 10
    assert run.ms.is_open and run.ms.next_event_id == 3


def test_a_run_from_start_to_completion() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, schedule_activity(), start_timer("t1", 30))
    assert run.tasks == [Task("activity", 5, 1, "tq")]
    ai = start_activity(run, T0 + 3)
    assert run.ms.new_events == [] and run.ms.dirty  # starting an activity writes no event
    with run.at(T0 + 4) as ms:
        activities.complete(ms, ai, payloads("charged"), "act-worker")
    assert run.tasks == [Task("workflow", 9, 1, "tq")]
    run.start_wft(T0 + 5)
    out = run.complete_wft(T0 + 6, complete_workflow())
    assert not out.new_wft
    assert run.types() == [
        E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        E.EVENT_TYPE_TIMER_STARTED,
        E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]
    assert run.ids_are_contiguous()
    ev = run.events
    assert ev[6].activity_task_started_event_attributes.scheduled_event_id == 5
    completed = ev[7].activity_task_completed_event_attributes
    assert (completed.scheduled_event_id, completed.started_event_id) == (5, 7)
    assert ev[9].workflow_task_started_event_attributes.scheduled_event_id == 9
    assert (
        ev[11].workflow_execution_completed_event_attributes.workflow_task_completed_event_id == 11
    )
    assert run.ms.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    assert (run.ms.close_time, run.ms.close_event_id) == (T0 + 6, 12)
    assert deadlines.next_deadline(run.ms) is None


def test_event_times_come_from_the_step() -> None:
    run = Run()
    run.start_wft(T0 + 1.5)
    assert run.events[-1].event_time.ToNanoseconds() == int((T0 + 1.5) * 1e9)


def test_activity_timeouts_are_normalized_into_the_scheduled_event() -> None:
    run = Run(workflow_run_timeout=dur(60))
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, schedule_activity(start_to_close=10, heartbeat=30))
    a = run.events[-1].activity_task_scheduled_event_attributes
    got = [
        dur_seconds(x)
        for x in (
            a.schedule_to_close_timeout,
            a.schedule_to_start_timeout,
            a.start_to_close_timeout,
            a.heartbeat_timeout,
        )
    ]
    assert got == [60, 60, 10, 10]  # capped by the run timeout; heartbeat by start-to-close
    assert dur_seconds(a.retry_policy.maximum_interval) == 100  # defaults filled in


def test_duplicate_activity_id_is_a_bad_command() -> None:
    run = run_with_activity()
    signal(run, T0 + 3)
    run.start_wft(T0 + 4)
    with pytest.raises(BadCommand) as info:
        run.complete_wft(T0 + 5, schedule_activity("a1"))
    assert (
        info.value.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_SCHEDULE_ACTIVITY_DUPLICATE_ID
    )


# -- buffering -------------------------------------------------------------------


def test_signal_before_the_task_starts_is_written_at_once() -> None:
    run = Run()
    signal(run, T0 + 1)
    assert run.types(2) == [E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert run.tasks == []  # the pending workflow task will carry it


def test_signal_during_a_workflow_task_waits_for_its_completion() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    signal(run, T0 + 2)
    assert run.ms.new_events == [] and len(run.ms.buffered) == 1
    assert run.tasks == []  # no second workflow task while one is in flight
    out = run.complete_wft(T0 + 3, start_timer("t1", 60))
    assert not out.new_wft
    assert run.types(3) == [
        E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        E.EVENT_TYPE_TIMER_STARTED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.ids_are_contiguous()
    assert run.ms.buffered == []
    assert run.tasks == [Task("workflow", 7, 1, "tq")]


def test_close_command_with_buffered_events_is_unhandled() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    signal(run, T0 + 2)
    before = len(run.events)
    with pytest.raises(BadCommand) as info:
        run.complete_wft(T0 + 3, complete_workflow())
    assert info.value.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
    assert commands.failure_message(info.value.cause) == "UnhandledCommand"
    # Nothing was applied: the run is open and the task still in flight.
    assert len(run.events) == before and run.ms.is_open
    assert run.ms.wft is not None and run.ms.wft.started_event_id == 3
    # What the history role then does: fail the task, which flushes the signal.
    with run.at(T0 + 3) as ms:
        wt.fail(ms, info.value.cause, None, identity="worker")
    assert run.types(3) == [
        E.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.ids_are_contiguous()
    assert run.events[-1].workflow_task_scheduled_event_attributes.attempt == 1


def test_buffered_activity_result_follows_the_signal_and_names_its_started_event() -> None:
    run = run_with_activity()
    ai = start_activity(run, T0 + 3)
    signal(run, T0 + 3, "first")
    run.start_wft(T0 + 4)  # the activity finishes while this task is in flight
    with run.at(T0 + 5) as ms:
        activities.complete(ms, ai, payloads("ok"), "act-worker")
    signal(run, T0 + 6, "second")
    assert len(run.ms.buffered) == 3
    run.complete_wft(T0 + 7)
    tail = run.events[-5:]
    # Completions go after the other buffered events (Started is not a completion).
    assert [e.event_type for e in tail] == [
        E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.ids_are_contiguous()
    completed = tail[3].activity_task_completed_event_attributes
    assert completed.started_event_id == tail[1].event_id  # not the BUFFERED_ID placeholder


# -- activity retries ------------------------------------------------------------


def test_failed_attempt_retries_without_an_event() -> None:
    run = run_with_activity(retry=retry_policy(attempts=3, initial=1))
    before = len(run.events)
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activities.fail(ms, ai, app_failure("first"), "act-worker", None)
    assert len(run.events) == before
    assert run.ms.dirty and run.tasks == []  # dispatched only after the backoff
    assert (ai.attempt, ai.started, ai.attempt_scheduled_time) == (2, False, T0 + 5)
    assert ai.last_failure == app_failure("first")
    assert deadlines.next_deadline(run.ms) == T0 + 5
    run.fire(T0 + 5)
    assert run.tasks == [Task("activity", ai.scheduled_event_id, 2, "tq")]


def test_last_attempt_writes_started_and_failed() -> None:
    run = run_with_activity(retry=retry_policy(attempts=3, initial=1))
    sched = run.activity().scheduled_event_id
    now = T0 + 3
    for attempt in (1, 2, 3):
        ai = start_activity(run, now)
        assert ai.attempt == attempt
        with run.at(now + 1) as ms:
            activities.fail(ms, ai, app_failure(f"fail {attempt}"), "act-worker", None)
        now = now + 1 + 2 ** (attempt - 1)
        if attempt < 3:
            run.fire(now)
    assert run.types(-3) == [
        E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.ids_are_contiguous()
    started = run.events[-3].activity_task_started_event_attributes
    assert (started.scheduled_event_id, started.attempt) == (sched, 3)
    assert started.last_failure.message == "fail 2"
    failed = run.events[-2].activity_task_failed_event_attributes
    assert failed.started_event_id == run.events[-3].event_id
    assert failed.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert failed.failure.message == "fail 3"
    assert run.ms.activities == {} and run.ms.activity_ids == {}


def test_non_retryable_failure_ends_the_activity_on_the_first_attempt() -> None:
    run = run_with_activity()
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activities.fail(ms, ai, app_failure(non_retryable=True), "act-worker", None)
    failed = run.events[-2].activity_task_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    assert run.events[-3].activity_task_started_event_attributes.attempt == 1


# -- deadlines -------------------------------------------------------------------


def test_timer_fires_at_its_deadline() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 5))
    assert deadlines.next_deadline(run.ms) == T0 + 7
    before = len(run.events)
    run.fire(T0 + 6.999)
    assert len(run.events) == before
    run.fire(T0 + 7)
    assert run.types(before) == [E.EVENT_TYPE_TIMER_FIRED, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]
    fired = run.events[before].timer_fired_event_attributes
    assert (fired.timer_id, fired.started_event_id) == ("t1", 5)
    assert run.ms.timers == {} and run.ids_are_contiguous()
    assert deadlines.next_deadline(run.ms) is None  # a non-sticky scheduled task never times out


def test_timer_firing_during_a_workflow_task_is_buffered() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 5))
    signal(run, T0 + 3)
    run.start_wft(T0 + 4)
    run.fire(T0 + 7)
    assert run.ms.new_events == [] and len(run.ms.buffered) == 1


def test_activity_start_to_close_timeout_retries() -> None:
    run = run_with_activity(start_to_close=10, retry=retry_policy(attempts=2, initial=1))
    ai = start_activity(run, T0 + 3)
    assert deadlines.next_deadline(run.ms) == T0 + 13
    before = len(run.events)
    run.fire(T0 + 13)
    assert len(run.events) == before  # a retry, not an event
    assert (ai.attempt, ai.attempt_scheduled_time) == (2, T0 + 14)
    assert ai.last_failure is not None
    assert (
        ai.last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    )
    run.fire(T0 + 14)
    assert run.tasks == [Task("activity", ai.scheduled_event_id, 2, "tq")]
    start_activity(run, T0 + 15)
    run.fire(T0 + 25)
    assert run.types(before) == [
        E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    timed_out = run.events[before + 1].activity_task_timed_out_event_attributes
    assert (
        timed_out.failure.timeout_failure_info.timeout_type
        == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    )
    assert timed_out.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert timed_out.started_event_id == run.events[before].event_id


def test_heartbeat_timeout_counts_from_the_last_heartbeat() -> None:
    run = run_with_activity(start_to_close=60, heartbeat=3, retry=retry_policy(attempts=1))
    ai = start_activity(run, T0 + 3)
    assert deadlines.next_deadline(run.ms) == T0 + 6
    with run.at(T0 + 5) as ms:
        activities.heartbeat(ms, ai, payloads("50%"))
    assert deadlines.next_deadline(run.ms) == T0 + 8
    before = len(run.events)
    run.fire(T0 + 7.9)
    assert len(run.events) == before
    run.fire(T0 + 8)
    timed_out = run.events[before + 1].activity_task_timed_out_event_attributes
    info = timed_out.failure.timeout_failure_info
    assert info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    assert info.last_heartbeat_details == payloads("50%")
    assert timed_out.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED


def test_schedule_to_start_timeout_is_not_retried() -> None:
    run = run_with_activity(schedule_to_start=5, start_to_close=10)
    # Dispatched when scheduled, so only the schedule-to-start deadline remains.
    assert deadlines.next_deadline(run.ms) == T0 + 7
    before = len(run.events)
    run.fire(T0 + 7)
    assert run.types(before) == [
        E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    timed_out = run.events[before].activity_task_timed_out_event_attributes
    assert (
        timed_out.failure.timeout_failure_info.timeout_type
        == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    )
    assert timed_out.retry_state == RetryState.RETRY_STATE_TIMEOUT
    assert timed_out.started_event_id == 0  # never started: no Started event
    assert run.ids_are_contiguous()


def test_workflow_task_start_to_close_timeout_increments_the_attempt() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    assert deadlines.next_deadline(run.ms) == T0 + 11
    run.fire(T0 + 11)
    assert run.types(3) == [
        E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    timed_out = run.events[3].workflow_task_timed_out_event_attributes
    assert (timed_out.scheduled_event_id, timed_out.started_event_id) == (2, 3)
    assert timed_out.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    assert run.ms.wft is not None and run.ms.wft.attempt == 2
    assert run.tasks == [Task("workflow", 5, 2, "tq")]
    run.start_wft(T0 + 12)
    run.fire(T0 + 22)
    assert run.ms.wft is not None and run.ms.wft.attempt == 3
    assert run.ids_are_contiguous()


def _sticky_run() -> Run:
    """A run whose second workflow task is scheduled on sticky queue "sticky-q" at T0+7."""
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 5), sticky_queue="sticky-q", sticky_timeout=4)
    run.fire(T0 + 7)
    assert run.tasks == [Task("workflow", 7, 1, "sticky-q", sticky=True)]
    sched = run.events[-1].workflow_task_scheduled_event_attributes
    assert sched.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
    assert sched.task_queue.normal_name == "tq"
    return run


def test_sticky_task_start_to_close_timeout_keeps_the_attempt_and_drops_stickiness() -> None:
    run = _sticky_run()
    run.start_wft(T0 + 8)
    run.fire(T0 + 18)
    assert run.types(-2) == [
        E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
    assert run.ms.sticky_queue == ""
    assert run.ms.wft is not None and (run.ms.wft.attempt, run.ms.wft.sticky) == (1, False)
    assert run.tasks == [Task("workflow", 10, 1, "tq")]


def test_sticky_schedule_to_start_timeout_moves_the_task_to_the_normal_queue() -> None:
    run = _sticky_run()
    assert deadlines.next_deadline(run.ms) == T0 + 11
    run.fire(T0 + 11)
    timed_out = run.events[-2].workflow_task_timed_out_event_attributes
    assert timed_out.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    assert timed_out.started_event_id == 0
    assert run.ms.sticky_queue == ""
    assert run.tasks == [Task("workflow", 9, 1, "tq")]
    assert deadlines.next_deadline(run.ms) is None
    assert run.ids_are_contiguous()


def test_delayed_start_schedules_the_first_task_at_the_delay() -> None:
    run = Run(start_delay=30)
    assert run.types() == [E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED] and run.tasks == []
    assert deadlines.next_deadline(run.ms) == T0 + 30
    run.fire(T0 + 29)
    assert run.tasks == []
    run.fire(T0 + 30)
    assert run.types(1) == [E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]


def test_run_timeout_closes_the_run() -> None:
    run = Run(workflow_run_timeout=dur(60))
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 3600))
    assert deadlines.next_deadline(run.ms) == T0 + 60
    run.fire(T0 + 60)
    assert run.types(-1) == [E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]
    assert run.ms.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
    assert deadlines.next_deadline(run.ms) is None
