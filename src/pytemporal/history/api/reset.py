"""ResetWorkflowExecution: a new run that replays history up to a workflow task, fails
that task, and carries on (signals after the reset point re-applied by default)."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import (
    EventType,
    ResetReapplyExcludeType,
    ResetReapplyType,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure, ResetWorkflowFailureInfo
from temporalio.api.history.v1 import HistoryEvent, WorkflowTaskStartedEventAttributes
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.common.ids import uuid7
from pytemporal.history.engine import Change, HistoryEngine, Key
from pytemporal.history.workflow import activities, lifecycle, rebuild
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import MutableState
from pytemporal.persistence.api import CurrentMode, CurrentUpdate

E = EventType
RESETTER_IDENTITY = "history-resetter"
SERVER_IDENTITY = "history-service"


def _check_point(events: list[HistoryEvent], event_id: int, next_event_id: int) -> None:
    """The point must fall inside a workflow task: after its Scheduled event, at most
    just after its Started event."""
    if event_id <= 1 or event_id >= next_event_id:
        raise InvalidArgument("Workflow task finish ID must be > 1 && <= workflow last event ID.")
    for ev in events[:event_id]:
        if ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled = ev.workflow_task_started_event_attributes.scheduled_event_id
            if scheduled + 1 <= event_id <= ev.event_id + 1:
                return
    if events[event_id - 2].event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        raise InvalidArgument(
            f"StateRebuilder unable to Rebuild mutable state to event ID: {event_id - 1}, "
            "no pending workflow task at that point"
        )
    raise InvalidArgument(
        "Can only reset workflow to event ID in range"
        f" [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: {event_id}"
    )


def _reapplied(
    events: list[HistoryEvent], req: ResetWorkflowExecutionRequest
) -> list[HistoryEvent]:
    if req.reset_reapply_type == ResetReapplyType.RESET_REAPPLY_TYPE_NONE:
        return []
    if ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL in req.reset_reapply_exclude_types:
        return []
    return [e for e in events if e.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]


async def reset(engine: HistoryEngine, key: Key, req: ResetWorkflowExecutionRequest) -> str:
    ns_id, wf_id, base_run = key
    async with engine.workflow_id_lock(ns_id, wf_id):
        # The base run first: a run id from another namespace or workflow is NotFound.
        async with engine.reading(key) as base:
            events = await engine.read_events(key, 1, base.ms.next_event_id - 1)
        current = await engine.store.get_current_run(ns_id, wf_id)
        if current is None:
            raise NotFound(f"workflow not found for ID: {wf_id}")
        if req.request_id and req.request_id == current.create_request_id:
            return current.run_id
        point = req.workflow_task_finish_event_id
        _check_point(events, point, base.ms.next_event_id)
        now = engine.clock.now()
        new_run = uuid7(now)
        ms = rebuild.rebuild(
            events[: point - 1],
            namespace_id=ns_id,
            namespace=base.ms.namespace,
            run_id=new_run,
            request_id=req.request_id or str(uuid.uuid4()),
        )
        ms.begin(now)
        ms.new_events = [
            HistoryEvent.FromString(e.SerializeToString()) for e in events[: point - 1]
        ]
        ms.start_time = base.ms.start_time
        ms.last_reset_time = now
        _fail_reset_task(ms, req.reason, base_run, new_run)
        ms.defer_schedule = True
        for sig in _reapplied(events[point - 1 :], req):
            a = sig.workflow_execution_signaled_event_attributes
            lifecycle.signal(
                ms,
                a.signal_name,
                a.input if a.HasField("input") else None,
                a.identity,
                a.header if a.HasField("header") else None,
                a.request_id,
            )
        ms.defer_schedule = False
        wt.schedule(ms)
        for ai in ms.activities.values():
            activities.dispatch(ms, ai)
        async with engine.locked((ns_id, wf_id, current.run_id)) as old:
            changes = []
            if old.ms.is_open:
                lifecycle.terminate(old.ms, req.reason, None, RESETTER_IDENTITY)
            if current.run_id == base_run or old.ms.is_open:
                old.ms.reset_run_id = new_run
                old.ms.dirty = True
                changes.append(Change(old))
            update = CurrentUpdate(
                CurrentMode.REPLACE,
                ms.start_request_id,
                ms.status,
                ms.first_execution_run_id,
                expected_run_id=current.run_id,
            )
            changes.append(Change(engine.new_entry(ms), current=update, created=True))
            await engine.commit(changes)
        if current.run_id != base_run:
            async with engine.locked(key) as b:
                b.ms.reset_run_id = new_run
                b.ms.dirty = True
                await engine.commit_one(b)
    return new_run


def _fail_reset_task(ms: MutableState, reason: str, base_run: str, new_run: str) -> None:
    wft = ms.wft
    assert wft is not None
    if not wft.started_event_id:
        # Reset to just after a scheduled task: it gets the Started event it never had.
        ev = ms.add_event(
            E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            WorkflowTaskStartedEventAttributes(scheduled_event_id=wft.scheduled_event_id),
        )
        wft.started_event_id = ev.event_id
        wft.started_time = ms.now
    failure = Failure(message=reason, reset_workflow_failure_info=ResetWorkflowFailureInfo())
    wt.fail(
        ms,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
        failure,
        identity=SERVER_IDENTITY,
        reschedule=False,
        base_run_id=base_run,
        new_run_id=new_run,
    )
