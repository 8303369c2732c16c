"""Rebuild a run's mutable state from a prefix of its history (pure), for reset."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.history.v1 import HistoryEvent

from pytemporal.common.protoutil import dur_seconds, ts_seconds
from pytemporal.history.workflow import lifecycle
from pytemporal.history.workflow.commands import _merge
from pytemporal.history.workflow.state import (
    ActivityInfo,
    ChildInfo,
    ExternalInfo,
    MutableState,
    TimerInfo,
    Transfer,
    WorkflowTaskInfo,
)

E = EventType


def rebuild(
    events: list[HistoryEvent],
    *,
    namespace_id: str,
    namespace: str,
    run_id: str,
    request_id: str,
) -> MutableState:
    """State after `events` (a forked prefix), as run `run_id`. `new_events` holds the
    copied events, so committing the state writes the new run's whole history."""
    first = events[0]
    started = first.workflow_execution_started_event_attributes
    ms = lifecycle.new_run(
        namespace_id=namespace_id,
        namespace=namespace,
        run_id=run_id,
        request_id=request_id,
        attrs=started,
        now=ts_seconds(first.event_time),
        start_delay=dur_seconds(started.first_workflow_task_backoff),
    )
    ms.first_execution_run_id = started.first_execution_run_id or started.original_execution_run_id
    ms.new_events = [HistoryEvent.FromString(e.SerializeToString()) for e in events]
    ms.next_event_id = len(events) + 1
    ms.history_size_bytes = sum(e.ByteSize() for e in events)
    for ev in events[1:]:
        _apply(ms, ev)
    # Work towards other workflows that had no outcome yet is delivered again.
    ms.outbox = [
        Transfer("start_child", c.initiated_event_id) for c in ms.children.values() if not c.run_id
    ]
    ms.outbox += [
        Transfer(
            "signal_external" if x.kind == "signal" else "cancel_external", x.initiated_event_id
        )
        for x in ms.externals.values()
    ]
    return ms


def _apply(ms: MutableState, ev: HistoryEvent) -> None:
    t = ev.event_type
    when = ts_seconds(ev.event_time)
    if t == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        a = ev.workflow_task_scheduled_event_attributes
        ms.first_wft_backoff_until = 0.0
        ms.wft = WorkflowTaskInfo(
            scheduled_event_id=ev.event_id,
            attempt=a.attempt,
            scheduled_time=when,
            original_scheduled_time=when,
            task_queue=a.task_queue.name,
            sticky=a.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY,
            timeout=dur_seconds(a.start_to_close_timeout),
        )
    elif t == E.EVENT_TYPE_WORKFLOW_TASK_STARTED and ms.wft is not None:
        ms.wft.started_event_id = ev.event_id
        ms.wft.started_time = when
    elif t == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and ms.wft is not None:
        ms.previous_started_event_id = ms.wft.started_event_id
        ms.last_completed_wft_event_id = ev.event_id
        ms.wft_completed_count += 1
        ms.wft = None
    elif t in (E.EVENT_TYPE_WORKFLOW_TASK_FAILED, E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT):
        ms.wft = None
    elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        ms.signal_count += 1
        if ev.workflow_execution_signaled_event_attributes.request_id:
            ms.signal_request_ids.add(ev.workflow_execution_signaled_event_attributes.request_id)
    elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        ms.cancel_requested = True
    elif t == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        sa = ev.upsert_workflow_search_attributes_event_attributes.search_attributes
        _merge(ms.started.search_attributes.indexed_fields, sa.indexed_fields)
    elif t == E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        memo = ev.workflow_properties_modified_event_attributes.upserted_memo
        _merge(ms.started.memo.fields, memo.fields)
    elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        ms.updates[ev.workflow_execution_update_accepted_event_attributes.protocol_instance_id] = [
            ev.event_id,
            0,
        ]
    elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        uid = ev.workflow_execution_update_completed_event_attributes.meta.update_id
        ms.updates.setdefault(uid, [0, 0])[1] = ev.event_id
    else:
        _apply_pending_work(ms, ev, when)


def _apply_pending_work(ms: MutableState, ev: HistoryEvent, when: float) -> None:
    t = ev.event_type
    if t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        a = ev.activity_task_scheduled_event_attributes
        ms.activities[ev.event_id] = ActivityInfo(
            scheduled_event_id=ev.event_id,
            activity_id=a.activity_id,
            activity_type=a.activity_type.name,
            task_queue=a.task_queue.name,
            attrs=a,
            schedule_to_close=dur_seconds(a.schedule_to_close_timeout),
            schedule_to_start=dur_seconds(a.schedule_to_start_timeout),
            start_to_close=dur_seconds(a.start_to_close_timeout),
            heartbeat=dur_seconds(a.heartbeat_timeout),
            scheduled_time=when,
            attempt_scheduled_time=when,
        )
        ms.activity_ids[a.activity_id] = ev.event_id
    elif t == E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
        ai = ms.activities.get(
            ev.activity_task_cancel_requested_event_attributes.scheduled_event_id
        )
        if ai is not None:
            ai.cancel_requested = True
            ai.cancel_requested_event_id = ev.event_id
    elif t in (
        E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        E.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    ):
        field = E.Name(t)[len("EVENT_TYPE_") :].lower() + "_event_attributes"
        ai = ms.activities.pop(getattr(ev, field).scheduled_event_id, None)
        if ai is not None:
            ms.activity_ids.pop(ai.activity_id, None)
    elif t == E.EVENT_TYPE_TIMER_STARTED:
        a2 = ev.timer_started_event_attributes
        ms.timers[a2.timer_id] = TimerInfo(
            a2.timer_id, ev.event_id, when + dur_seconds(a2.start_to_fire_timeout)
        )
    elif t == E.EVENT_TYPE_TIMER_FIRED:
        ms.timers.pop(ev.timer_fired_event_attributes.timer_id, None)
    elif t == E.EVENT_TYPE_TIMER_CANCELED:
        ms.timers.pop(ev.timer_canceled_event_attributes.timer_id, None)
    else:
        _apply_children(ms, ev)


def _apply_children(ms: MutableState, ev: HistoryEvent) -> None:
    t = ev.event_type
    if t == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        a = ev.start_child_workflow_execution_initiated_event_attributes
        ms.children[ev.event_id] = ChildInfo(
            ev.event_id,
            a.namespace,
            a.namespace_id,
            a.workflow_id,
            a.workflow_type.name,
            a.parent_close_policy,
        )
    elif t == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
        c = ev.child_workflow_execution_started_event_attributes
        child = ms.children.get(c.initiated_event_id)
        if child is not None:
            child.run_id = c.workflow_execution.run_id
            child.started_event_id = ev.event_id
    elif t in (
        E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ):
        field = E.Name(t)[len("EVENT_TYPE_") :].lower() + "_event_attributes"
        ms.children.pop(getattr(ev, field).initiated_event_id, None)
    elif t == E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        s = ev.signal_external_workflow_execution_initiated_event_attributes
        ms.externals[ev.event_id] = ExternalInfo(
            ev.event_id,
            "signal",
            s.namespace,
            s.namespace_id,
            s.workflow_execution.workflow_id,
            s.workflow_execution.run_id,
            s.control,
        )
    elif t == E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        r = ev.request_cancel_external_workflow_execution_initiated_event_attributes
        ms.externals[ev.event_id] = ExternalInfo(
            ev.event_id,
            "cancel",
            r.namespace,
            r.namespace_id,
            r.workflow_execution.workflow_id,
            r.workflow_execution.run_id,
            r.control,
        )
    elif t in (
        E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
        E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
        E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
    ):
        field = E.Name(t)[len("EVENT_TYPE_") :].lower() + "_event_attributes"
        ms.externals.pop(getattr(ev, field).initiated_event_id, None)
