"""Activity transitions: schedule, start, heartbeat, complete, fail, cancel, time out."""

from __future__ import annotations

from temporalio.api.command.v1 import ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, RetryState, TaskQueueKind, TimeoutType
from temporalio.api.enums.v1 import WorkflowTaskFailedCause as Cause
from temporalio.api.failure.v1 import Failure, TimeoutFailureInfo
from temporalio.api.history.v1 import (
    ActivityTaskCanceledEventAttributes,
    ActivityTaskCompletedEventAttributes,
    ActivityTaskFailedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    ActivityTaskTimedOutEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue

from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.workflow import durations, retry, standalone
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import BUFFERED_ID, ActivityInfo, MutableState, Task


class BadCommand(Exception):
    """A command the workflow task cannot apply; the task fails with `cause`."""

    def __init__(self, cause: int, message: str, *, terminate: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        # Temporal terminates the run as well when retrying the task cannot help.
        self.terminate = terminate


_BAD_ATTRS = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
_DUPLICATE_ID = Cause.WORKFLOW_TASK_FAILED_CAUSE_SCHEDULE_ACTIVITY_DUPLICATE_ID
_PENDING_LIMIT = Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED
MAX_PENDING = 2000


_TIMEOUTS = (
    "schedule_to_close_timeout",
    "schedule_to_start_timeout",
    "start_to_close_timeout",
    "heartbeat_timeout",
)


def normalize_timeouts(
    ms: MutableState, c: ScheduleActivityTaskCommandAttributes
) -> tuple[float, float, float, float]:
    timeouts = []
    for field in _TIMEOUTS:
        d = getattr(c, field)
        found = durations.problem(d)
        if found is not None:
            raise BadCommand(_BAD_ATTRS, f"invalid {durations.camel(field)}: {found}")
        timeouts.append(min(dur_seconds(d), durations.MAX_SECONDS))
    s2c, s2s, stc, hb = timeouts
    run = ms.run_timeout
    if s2c > 0:
        s2s = s2c if s2s == 0 else min(s2s, s2c)
        stc = s2c if stc == 0 else min(stc, s2c)
    elif stc > 0:
        s2c = run
        if s2s == 0:
            s2s = run
    else:
        raise BadCommand(
            _BAD_ATTRS,
            "A valid StartToClose or ScheduleToCloseTimeout is not set on command. "
            f"ActivityId={c.activity_id} ActivityType={c.activity_type.name}",
        )
    if run > 0:
        s2c, s2s, stc = (min(x, run) if x else run for x in (s2c, s2s, stc))
    if hb > stc > 0:
        hb = stc
    return s2c, s2s, stc, hb


def schedule(
    ms: MutableState,
    c: ScheduleActivityTaskCommandAttributes,
    wft_completed_id: int,
    limit: int = MAX_PENDING,
) -> None:
    if not c.activity_id:
        raise BadCommand(_BAD_ATTRS, "ActivityId is not set on command.")
    if not c.activity_type.name:
        raise BadCommand(_BAD_ATTRS, "ActivityType is not set on command.")
    if c.activity_id in ms.activity_ids:
        raise BadCommand(_DUPLICATE_ID, f"Activity ID already exists: {c.activity_id}")
    if len(ms.activities) >= limit:
        raise BadCommand(
            _PENDING_LIMIT,
            f"the number of pending activities, {len(ms.activities)}, has reached the "
            f"per-workflow limit of {limit}",
        )
    s2c, s2s, stc, hb = normalize_timeouts(ms, c)
    try:
        policy = retry.normalize(c.retry_policy)
    except Exception as e:
        raise BadCommand(_BAD_ATTRS, str(e)) from e
    queue = c.task_queue.name or ms.task_queue
    attrs = ActivityTaskScheduledEventAttributes(
        activity_id=c.activity_id,
        activity_type=c.activity_type,
        task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        header=c.header,
        input=c.input,
        schedule_to_close_timeout=dur(s2c),
        schedule_to_start_timeout=dur(s2s),
        start_to_close_timeout=dur(stc),
        heartbeat_timeout=dur(hb),
        workflow_task_completed_event_id=wft_completed_id,
        retry_policy=policy,
        priority=c.priority,
    )
    ev = ms.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, attrs)
    ms.activities[ev.event_id] = ActivityInfo(
        scheduled_event_id=ev.event_id,
        activity_id=c.activity_id,
        activity_type=c.activity_type.name,
        task_queue=queue,
        attrs=attrs,
        schedule_to_close=s2c,
        schedule_to_start=s2s,
        start_to_close=stc,
        heartbeat=hb,
        scheduled_time=ms.now,
        attempt_scheduled_time=ms.now,
    )
    ms.activity_ids[c.activity_id] = ev.event_id
    dispatch(ms, ms.activities[ev.event_id])


def dispatch(ms: MutableState, ai: ActivityInfo) -> None:
    ms.tasks.append(Task("activity", ai.scheduled_event_id, ai.attempt, ai.task_queue))
    ms.dispatched.add((ai.scheduled_event_id, ai.attempt))


def start(ms: MutableState, ai: ActivityInfo, *, request_id: str, identity: str) -> None:
    ms.dirty = True
    ai.started = True
    ai.started_time = ms.now
    ai.started_identity = identity
    ai.last_worker_identity = identity
    ai.request_id = request_id


def heartbeat(ms: MutableState, ai: ActivityInfo, details: Payloads | None) -> None:
    ms.dirty = True
    ai.last_heartbeat_time = ms.now
    if details is not None:
        ai.heartbeat_details = details


def _write_started(ms: MutableState, ai: ActivityInfo) -> int:
    """Write the attempt's Started event, deferred until the attempt ends."""
    attrs = ActivityTaskStartedEventAttributes(
        scheduled_event_id=ai.scheduled_event_id,
        identity=ai.started_identity,
        request_id=ai.request_id,
        attempt=ai.attempt,
    )
    if ai.last_failure is not None:
        attrs.last_failure.CopyFrom(ai.last_failure)
    ev = ms.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, attrs, bufferable=True)
    return ev.event_id or BUFFERED_ID


def _close(ms: MutableState, ai: ActivityInfo) -> None:
    del ms.activities[ai.scheduled_event_id]
    ms.activity_ids.pop(ai.activity_id, None)
    if standalone.is_standalone(ms):
        standalone.finish(ms)  # no workflow to tell: the activity's run ends with it
        return
    wt.schedule(ms)


def complete(ms: MutableState, ai: ActivityInfo, result: Payloads | None, identity: str) -> None:
    started_id = _write_started(ms, ai)
    attrs = ActivityTaskCompletedEventAttributes(
        scheduled_event_id=ai.scheduled_event_id, started_event_id=started_id, identity=identity
    )
    if result is not None:
        attrs.result.CopyFrom(result)
    ms.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, attrs, bufferable=True)
    _close(ms, ai)


def cancel_done(
    ms: MutableState, ai: ActivityInfo, details: Payloads | None, identity: str
) -> None:
    started_id = _write_started(ms, ai) if ai.started else 0
    attrs = ActivityTaskCanceledEventAttributes(
        scheduled_event_id=ai.scheduled_event_id,
        started_event_id=started_id,
        latest_cancel_requested_event_id=ai.cancel_requested_event_id,
        identity=identity,
    )
    if details is not None:
        attrs.details.CopyFrom(details)
    ms.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED, attrs, bufferable=True)
    _close(ms, ai)


def _expiration(ai: ActivityInfo) -> float:
    return ai.scheduled_time + ai.schedule_to_close if ai.schedule_to_close else 0.0


def _try_retry(ms: MutableState, ai: ActivityInfo, failure: Failure) -> int:
    """Schedule the next attempt if the policy allows; returns the RetryState."""
    if ai.cancel_requested:
        return RetryState.RETRY_STATE_CANCEL_REQUESTED
    ms.dirty = True
    state, delay = retry.next_delay(
        ai.attrs.retry_policy, ai.attempt, failure, now=ms.now, expiration=_expiration(ai)
    )
    if ai.paused and state != RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE:
        # As Temporal: the attempt is counted, and the next waits for the unpause.
        _next_attempt(ai, failure)
        ai.attempt_scheduled_time = ms.now
        return RetryState.RETRY_STATE_IN_PROGRESS
    if state != RetryState.RETRY_STATE_IN_PROGRESS:
        return state
    _next_attempt(ai, failure)
    ai.attempt_scheduled_time = ms.now + delay
    if delay <= 0:
        dispatch(ms, ai)
    return state


def _next_attempt(ai: ActivityInfo, failure: Failure) -> None:
    ai.attempt += 1
    ai.started = False
    ai.started_time = 0.0
    ai.started_identity = ""
    ai.request_id = ""
    ai.last_failure = failure
    if ai.reset_heartbeats:
        ai.heartbeat_details = None
        ai.last_heartbeat_time = 0.0
    ai.reset_requested = False
    ai.reset_heartbeats = False


def fail(
    ms: MutableState,
    ai: ActivityInfo,
    failure: Failure,
    identity: str,
    last_heartbeat_details: Payloads | None,
) -> None:
    if last_heartbeat_details is not None:
        ai.heartbeat_details = last_heartbeat_details
    ai.last_worker_identity = identity
    state = _try_retry(ms, ai, failure)
    if state == RetryState.RETRY_STATE_IN_PROGRESS:
        return
    started_id = _write_started(ms, ai)
    ms.add_event(
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        ActivityTaskFailedEventAttributes(
            failure=failure,
            scheduled_event_id=ai.scheduled_event_id,
            started_event_id=started_id,
            identity=identity,
            retry_state=state,  # type: ignore[arg-type]
        ),
        bufferable=True,
    )
    _close(ms, ai)


_NO_TIME_LEFT = (
    "Not enough time to schedule next retry before activity ScheduleToClose timeout, "
    "giving up retrying"
)
_TIMEOUT_NAMES: dict[int, str] = {
    TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE: "StartToClose",
    TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START: "ScheduleToStart",
    TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: "ScheduleToClose",
    TimeoutType.TIMEOUT_TYPE_HEARTBEAT: "Heartbeat",
}


def _timeout_failure(ai: ActivityInfo, timeout_type: int) -> Failure:
    f = Failure(
        message=f"activity {_TIMEOUT_NAMES[timeout_type]} timeout",
        source="Server",
        timeout_failure_info=TimeoutFailureInfo(timeout_type=timeout_type),  # type: ignore[arg-type]
    )
    if ai.heartbeat_details is not None:
        f.timeout_failure_info.last_heartbeat_details.CopyFrom(ai.heartbeat_details)
    return f


def _out_of_time(ai: ActivityInfo) -> Failure:
    """What Temporal reports when a timeout leaves no time for another attempt."""
    f = Failure(
        message=_NO_TIME_LEFT,
        source="Server",
        timeout_failure_info=TimeoutFailureInfo(
            timeout_type=TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
        ),
    )
    if ai.heartbeat_details is not None:
        f.timeout_failure_info.last_heartbeat_details.CopyFrom(ai.heartbeat_details)
    if ai.last_failure is not None:
        f.cause.CopyFrom(ai.last_failure)
    return f


def time_out(ms: MutableState, ai: ActivityInfo, timeout_type: int) -> None:
    failure = _timeout_failure(ai, timeout_type)
    state: int = RetryState.RETRY_STATE_TIMEOUT
    if timeout_type in (
        TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
        TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
    ):
        state = _try_retry(ms, ai, failure)
        if state == RetryState.RETRY_STATE_IN_PROGRESS:
            return
    if state == RetryState.RETRY_STATE_TIMEOUT and (
        timeout_type != TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    ):
        failure = _out_of_time(ai)
    started_id = _write_started(ms, ai) if ai.started else 0
    ms.add_event(
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ActivityTaskTimedOutEventAttributes(
            failure=failure,
            scheduled_event_id=ai.scheduled_event_id,
            started_event_id=started_id,
            retry_state=state,  # type: ignore[arg-type]
        ),
        bufferable=True,
    )
    _close(ms, ai)


def deadlines(ai: ActivityInfo) -> list[tuple[float, int]]:
    """(time, timeout type or 0 for "dispatch the next attempt") pairs for this activity."""
    out: list[tuple[float, int]] = []
    if ai.schedule_to_close:
        out.append(
            (ai.scheduled_time + ai.schedule_to_close, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)
        )
    if ai.started:
        if ai.start_to_close:
            out.append(
                (ai.started_time + ai.start_to_close, TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE)
            )
        if ai.heartbeat:
            base = max(ai.started_time, ai.last_heartbeat_time)
            out.append((base + ai.heartbeat, TimeoutType.TIMEOUT_TYPE_HEARTBEAT))
    elif ai.paused:
        pass  # no attempt until unpaused: only the schedule-to-close deadline runs
    else:
        out.append((ai.attempt_scheduled_time, 0))
        if ai.schedule_to_start:
            out.append(
                (
                    ai.attempt_scheduled_time + ai.schedule_to_start,
                    TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
                )
            )
    return out
