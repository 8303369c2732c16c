"""Operator control of a pending activity: pause, unpause, reset, update options (pure).

As Temporal's `service/history/workflow/activity.go`: none of these writes an event.
A paused activity that is not running gets no task; one that is running goes on, and
its heartbeat's reply says it was paused (the SDK then cancels it, and its failure
counts an attempt without scheduling the next one). Unpausing schedules the next
attempt at once (plus jitter). Resetting sets the attempt back to 1 and schedules it
at once, unless it is running (its heartbeat's reply says so) or stays paused.
"""

from __future__ import annotations

from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.command.v1 import ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, RetryPolicy
from temporalio.api.history.v1 import ActivityTaskScheduledEventAttributes
from temporalio.api.taskqueue.v1 import TaskQueue

from pytemporal.common.errors import FailedPrecondition, InvalidArgument, NotFound
from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.workflow import activities, retry
from pytemporal.history.workflow.state import ActivityInfo, MutableState

ACTIVITY_NOT_FOUND = (
    "Can't find pending activity with such ID. Invalid activityID or activity already completed"
)
WORKFLOW_COMPLETED = "workflow execution already completed"


def select(
    ms: MutableState, *, activity_id: str = "", activity_type: str = "", all_: bool = False
) -> list[ActivityInfo]:
    """The pending activities a request names (by id, by type, or all); NotFound when none."""
    if not ms.is_open:
        raise NotFound(WORKFLOW_COMPLETED)
    if activity_id:
        sched = ms.activity_ids.get(activity_id)
        found = [] if sched is None else [ms.activities[sched]]
    else:
        found = [
            ai
            for ai in ms.activities.values()
            if all_ or (activity_type and ai.activity_type == activity_type)
        ]
    if not found:
        raise NotFound(ACTIVITY_NOT_FOUND)
    return found


def _withdraw(ms: MutableState, ai: ActivityInfo) -> None:
    """Take back the unstarted attempt's task: a poll of it is dropped, and its backlog
    row goes at the next commit (`dispatch.pending_task_rows` skips a paused one)."""
    ms.dispatched.discard((ai.scheduled_event_id, ai.attempt))


def _schedule_now(ms: MutableState, ai: ActivityInfo, delay: float) -> None:
    """Schedule the unstarted attempt again, `delay` seconds from now."""
    _withdraw(ms, ai)
    ai.attempt_scheduled_time = ms.now + delay
    if delay <= 0:
        activities.dispatch(ms, ai)
    # else the run's timer dispatches it (`activities.deadlines`, kind 0)


def pause(ms: MutableState, ai: ActivityInfo, identity: str, reason: str, request_id: str) -> None:
    if ai.paused:
        if ai.pause_request_id == request_id:
            return
        raise FailedPrecondition("activity is already paused")
    ms.dirty = True
    ai.paused = True
    ai.pause_time = ms.now
    ai.pause_identity = identity
    ai.pause_reason = reason
    ai.pause_request_id = request_id
    if not ai.started:
        _withdraw(ms, ai)


def _clear_pause(ai: ActivityInfo) -> None:
    ai.paused = False
    ai.pause_time = 0.0
    ai.pause_identity = ""
    ai.pause_reason = ""
    ai.pause_request_id = ""


def _clear_heartbeat(ai: ActivityInfo) -> None:
    ai.heartbeat_details = None
    ai.last_heartbeat_time = 0.0


def unpause(
    ms: MutableState,
    ai: ActivityInfo,
    *,
    reset_attempts: bool,
    reset_heartbeat: bool,
    delay: float,
) -> None:
    if not ai.paused:
        return
    ms.dirty = True
    _clear_pause(ai)
    if ai.started:
        if reset_attempts:
            ai.attempt = 1
        if reset_heartbeat:
            _clear_heartbeat(ai)
        return
    _withdraw(ms, ai)
    if reset_attempts:
        ai.attempt = 1
    if reset_heartbeat:
        _clear_heartbeat(ai)
    _schedule_now(ms, ai, delay)


def reset(
    ms: MutableState,
    ai: ActivityInfo,
    *,
    reset_heartbeat: bool,
    keep_paused: bool,
    restore_original: bool,
    delay: float,
) -> None:
    ms.dirty = True
    if not ai.started:
        _withdraw(ms, ai)
    ai.attempt = 1
    if restore_original:
        reset_options(ms, ai)
    if ai.paused and not keep_paused:
        _clear_pause(ai)
    if ai.started:
        # The running attempt goes on; its heartbeat's reply tells the worker.
        ai.reset_requested = True
        ai.reset_heartbeats = ai.reset_heartbeats or reset_heartbeat
        return
    if reset_heartbeat:
        _clear_heartbeat(ai)
    if ai.paused:
        return
    _schedule_now(ms, ai, delay)


def reset_options(ms: MutableState, ai: ActivityInfo) -> None:
    """Back to the options the activity was scheduled with."""
    if ai.original_attrs is None:
        return
    original = ai.original_attrs
    _apply_attrs(ms, ai, original)
    ai.original_attrs = None


def options_of(ai: ActivityInfo) -> ActivityOptions:
    a = ai.attrs
    return ActivityOptions(
        task_queue=TaskQueue(name=ai.task_queue),
        schedule_to_close_timeout=a.schedule_to_close_timeout,
        schedule_to_start_timeout=a.schedule_to_start_timeout,
        start_to_close_timeout=a.start_to_close_timeout,
        heartbeat_timeout=a.heartbeat_timeout,
        retry_policy=RetryPolicy(
            initial_interval=a.retry_policy.initial_interval,
            backoff_coefficient=a.retry_policy.backoff_coefficient,
            maximum_interval=a.retry_policy.maximum_interval,
            maximum_attempts=a.retry_policy.maximum_attempts,
        ),
        priority=a.priority,
    )


# The update-mask paths Temporal accepts (`common/activityoptions/merge.go`), camelCase.
_SIMPLE = (
    "scheduleToCloseTimeout",
    "scheduleToStartTimeout",
    "startToCloseTimeout",
    "heartbeatTimeout",
)
_RETRY_FIELDS = ("initialInterval", "backoffCoefficient", "maximumInterval", "maximumAttempts")


def camel_path(path: str) -> str:
    """`start_to_close_timeout` → `startToCloseTimeout`, part by part, as Temporal."""
    parts = []
    for part in path.split("."):
        head, *rest = part.split("_")
        parts.append(head + "".join(w[:1].upper() + w[1:] for w in rest))
    return ".".join(parts)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def merge_options(into: ActivityOptions, src: ActivityOptions, paths: set[str]) -> None:
    if "taskQueue.name" in paths:
        if not src.HasField("task_queue"):
            raise InvalidArgument("TaskQueue is not provided")
        into.task_queue.name = src.task_queue.name
    for name in _SIMPLE:
        if name in paths:
            field = _snake(name)
            into.ClearField(field)  # type: ignore[arg-type]
            if src.HasField(field):  # type: ignore[arg-type]
                getattr(into, field).CopyFrom(getattr(src, field))
    if "priority" in paths:
        into.priority.CopyFrom(src.priority)
    for sub in ("priorityKey", "fairnessKey", "fairnessWeight"):
        if f"priority.{sub}" in paths:
            if not src.HasField("priority"):
                raise InvalidArgument("Priority is not provided")
            setattr(into.priority, _snake(sub), getattr(src.priority, _snake(sub)))
    if "retryPolicy" in paths:
        if not src.HasField("retry_policy"):
            raise InvalidArgument("RetryPolicy is not provided")
        into.retry_policy.CopyFrom(src.retry_policy)
    for sub in _RETRY_FIELDS:
        if f"retryPolicy.{sub}" in paths:
            if not src.HasField("retry_policy"):
                raise InvalidArgument("RetryPolicy is not provided")
            field = _snake(sub)
            if field in ("initial_interval", "maximum_interval"):
                getattr(into.retry_policy, field).CopyFrom(getattr(src.retry_policy, field))
            else:
                setattr(into.retry_policy, field, getattr(src.retry_policy, field))


def update_options(ms: MutableState, ai: ActivityInfo, options: ActivityOptions) -> ActivityOptions:
    """Apply merged options: normalized as a ScheduleActivityTask command's, and an
    unstarted attempt is scheduled again on its (maybe new) queue."""
    if not options.task_queue.name:
        options.task_queue.name = ai.task_queue
    command = ScheduleActivityTaskCommandAttributes(
        activity_id=ai.activity_id,
        activity_type=ActivityType(name=ai.activity_type),
        task_queue=options.task_queue,
        schedule_to_close_timeout=options.schedule_to_close_timeout,
        schedule_to_start_timeout=options.schedule_to_start_timeout,
        start_to_close_timeout=options.start_to_close_timeout,
        heartbeat_timeout=options.heartbeat_timeout,
    )
    try:
        s2c, s2s, stc, hb = activities.normalize_timeouts(ms, command)
        policy = retry.normalize(options.retry_policy)
    except activities.BadCommand as e:
        raise InvalidArgument(e.message) from e
    except Exception as e:  # retry.normalize's ValueErrors
        raise InvalidArgument(str(e)) from e
    if ai.original_attrs is None:
        ai.original_attrs = ActivityTaskScheduledEventAttributes()
        ai.original_attrs.CopyFrom(ai.attrs)
    attrs = ActivityTaskScheduledEventAttributes()
    attrs.CopyFrom(ai.attrs)
    attrs.task_queue.name = options.task_queue.name
    attrs.retry_policy.CopyFrom(policy)
    attrs.priority.CopyFrom(options.priority)
    _set_timeouts(attrs, s2c, s2s, stc, hb)
    _apply_attrs(ms, ai, attrs)
    return options_of(ai)


def _set_timeouts(
    attrs: ActivityTaskScheduledEventAttributes, s2c: float, s2s: float, stc: float, hb: float
) -> None:
    attrs.schedule_to_close_timeout.CopyFrom(dur(s2c))
    attrs.schedule_to_start_timeout.CopyFrom(dur(s2s))
    attrs.start_to_close_timeout.CopyFrom(dur(stc))
    attrs.heartbeat_timeout.CopyFrom(dur(hb))


def _apply_attrs(
    ms: MutableState, ai: ActivityInfo, attrs: ActivityTaskScheduledEventAttributes
) -> None:
    ms.dirty = True
    queue_changed = attrs.task_queue.name != ai.task_queue
    ai.attrs = attrs
    ai.task_queue = attrs.task_queue.name
    ai.schedule_to_close = dur_seconds(attrs.schedule_to_close_timeout)
    ai.schedule_to_start = dur_seconds(attrs.schedule_to_start_timeout)
    ai.start_to_close = dur_seconds(attrs.start_to_close_timeout)
    ai.heartbeat = dur_seconds(attrs.heartbeat_timeout)
    dispatched = (ai.scheduled_event_id, ai.attempt) in ms.dispatched
    if queue_changed and dispatched and not ai.started and not ai.paused:
        _withdraw(ms, ai)
        activities.dispatch(ms, ai)
