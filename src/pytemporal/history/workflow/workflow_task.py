"""Workflow-task transitions: schedule, start, fail, time out (pure)."""

from __future__ import annotations

from temporalio.api.enums.v1 import (
    EventType,
    TaskQueueKind,
    TimeoutType,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    WorkflowTaskFailedEventAttributes,
    WorkflowTaskScheduledEventAttributes,
    WorkflowTaskStartedEventAttributes,
    WorkflowTaskTimedOutEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue

from pytemporal.common.protoutil import dur
from pytemporal.history.workflow.state import MutableState, Task, WorkflowTaskInfo

MAX_TASK_TIMEOUT = 600.0


def task_timeout_for_attempt(base: float, attempt: int) -> float:
    """From attempt 4 the timeout grows, since the timer is then the only retry path."""
    if attempt < 4:
        return base
    return min(base + 5.0 * 2.0 ** (attempt - 4), MAX_TASK_TIMEOUT)


def schedule(
    ms: MutableState, *, attempt: int = 1, force_normal: bool = False, speculative: bool = False
) -> bool:
    """Schedule a workflow task unless one is pending or the run cannot take one.

    A speculative task (for an update) writes no event: if the worker rejects the
    update and sends nothing else, it leaves no trace in history.
    """
    if not ms.is_open or ms.wft is not None or ms.defer_schedule:
        return False
    if ms.first_wft_backoff_until and ms.now < ms.first_wft_backoff_until:
        return False
    sticky = bool(ms.sticky_queue) and not force_normal
    queue = ms.sticky_queue if sticky else ms.task_queue
    tq = TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL)
    if sticky:
        tq = TaskQueue(
            name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=ms.task_queue
        )
    timeout = task_timeout_for_attempt(ms.task_timeout, attempt)
    attrs = WorkflowTaskScheduledEventAttributes(
        task_queue=tq, start_to_close_timeout=dur(timeout), attempt=attempt
    )
    if speculative:
        ev = ms.new_event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, attrs)
        ev.event_id = ev.task_id = ms.next_event_id
    else:
        ev = ms.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, attrs)
    ms.wft = WorkflowTaskInfo(
        scheduled_event_id=ev.event_id,
        attempt=attempt,
        scheduled_time=ms.now,
        original_scheduled_time=ms.now,
        task_queue=queue,
        sticky=sticky,
        timeout=timeout,
        speculative=speculative,
        pending_events=[ev] if speculative else [],
    )
    ms.tasks.append(Task("workflow", ev.event_id, attempt, queue, sticky))
    return True


def start(
    ms: MutableState,
    *,
    request_id: str,
    identity: str,
    suggest_can: list[int] | None = None,
    target_changed: bool = False,
) -> None:
    wft = ms.wft
    assert wft is not None and not wft.started_event_id
    attrs = WorkflowTaskStartedEventAttributes(
        scheduled_event_id=wft.scheduled_event_id,
        identity=identity,
        request_id=request_id,
        history_size_bytes=ms.history_size_bytes,
        suggest_continue_as_new=bool(suggest_can),
        suggest_continue_as_new_reasons=suggest_can or [],  # type: ignore[arg-type]
        target_worker_deployment_version_changed=target_changed,
    )
    if wft.speculative:
        ev = ms.new_event(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, attrs)
        ev.event_id = ev.task_id = wft.scheduled_event_id + 1
        wft.pending_events.append(ev)
    else:
        ev = ms.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, attrs)
    wft.started_event_id = ev.event_id
    wft.started_time = ms.now
    wft.request_id = request_id
    wft.identity = identity


def fail(
    ms: MutableState,
    cause: int,
    failure: Failure | None,
    *,
    identity: str = "",
    reschedule: bool = True,
    base_run_id: str = "",
    new_run_id: str = "",
) -> None:
    """Record a failed workflow task, flush what was buffered, and schedule the next."""
    wft = ms.wft
    assert wft is not None
    attrs = WorkflowTaskFailedEventAttributes(
        scheduled_event_id=wft.scheduled_event_id,
        started_event_id=wft.started_event_id,
        cause=cause,  # type: ignore[arg-type]
        identity=identity,
        base_run_id=base_run_id,
        new_run_id=new_run_id,
    )
    if failure is not None:
        attrs.failure.CopyFrom(failure)
    ms.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, attrs)
    _after_failure(ms, wft, reschedule=reschedule, unhandled=cause == _UNHANDLED)


_UNHANDLED = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND


def time_out(ms: MutableState, timeout_type: int) -> None:
    wft = ms.wft
    assert wft is not None
    ms.add_event(
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        WorkflowTaskTimedOutEventAttributes(
            scheduled_event_id=wft.scheduled_event_id,
            started_event_id=wft.started_event_id,
            timeout_type=timeout_type,  # type: ignore[arg-type]
        ),
    )
    _after_failure(
        ms,
        wft,
        reschedule=True,
        unhandled=False,
        keep_attempt=timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
    )


def _after_failure(
    ms: MutableState,
    wft: WorkflowTaskInfo,
    *,
    reschedule: bool,
    unhandled: bool,
    keep_attempt: bool = False,
) -> None:
    ms.wft = None
    ms.flush_buffer()
    # A sticky worker that failed may have lost its cache: go back to the normal queue
    # with full history, without counting it as another attempt.
    attempt = wft.attempt if (wft.sticky or keep_attempt) else wft.attempt + 1
    if unhandled:
        attempt = 1
    ms.sticky_queue = ""
    if reschedule:
        schedule(ms, attempt=attempt)
