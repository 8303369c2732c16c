"""GetWorkflowExecutionHistory (with long poll) and DescribeWorkflowExecution."""

from __future__ import annotations

import asyncio
import contextlib
import json

from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import (
    EventType,
    HistoryEventFilterType,
    PendingActivityState,
    PendingWorkflowTaskState,
    TaskQueueKind,
    VersioningBehavior,
)
from temporalio.api.history.v1 import (
    History,
    HistoryEvent,
    WorkflowExecutionContinuedAsNewEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import (
    PendingActivityInfo,
    PendingChildExecutionInfo,
    PendingWorkflowTaskInfo,
    WorkflowExecutionConfig,
    WorkflowExecutionExtendedInfo,
    WorkflowExecutionOptions,
)
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
)

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import ts
from pytemporal.history import outgoing
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.history.workflow import activity_control, reset_points, versioning
from pytemporal.history.workflow.info import execution_info
from pytemporal.history.workflow.state import ActivityInfo, MutableState, WorkflowTaskInfo

PAGE_SIZE = 256
_MAX_EVENT_ID = 2**63


def page_token(run_id: str, next_event_id: int, last_event_id: int | None = None) -> bytes:
    """Where the next page starts; `last_event_id` bounds a workflow task's history
    (the poll response's pages end at its started event)."""
    tok: dict[str, object] = {"run": run_id, "next": next_event_id}
    if last_event_id is not None:
        tok["last"] = last_event_id
    return json.dumps(tok).encode()


def _parse_token(data: bytes, run_id: str) -> tuple[int, int | None]:
    try:
        tok = json.loads(data)
        if tok["run"] != run_id:
            raise ValueError
        last = tok.get("last")
        start, bound = int(tok["next"]), None if last is None else int(last)
        # Event ids are positive 64-bit integers in every store.
        if not 0 < start < _MAX_EVENT_ID or not (bound is None or 0 <= bound < _MAX_EVENT_ID):
            raise ValueError
        return start, bound
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidArgument("Invalid NextPageToken.") from e


def _legacy_close_event(ev: HistoryEvent) -> HistoryEvent:
    """Clients that cannot follow `new_execution_run_id` (no `follows-next-run-id`
    feature) are told a run with a successor continued as new, as Temporal does, so
    that they look for the next run (cron, retry)."""
    attrs = WorkflowExecutionContinuedAsNewEventAttributes()
    if ev.HasField("workflow_execution_failed_event_attributes"):
        f = ev.workflow_execution_failed_event_attributes
        attrs.new_execution_run_id = f.new_execution_run_id
        attrs.workflow_task_completed_event_id = f.workflow_task_completed_event_id
        attrs.failure.CopyFrom(f.failure)
    elif ev.HasField("workflow_execution_timed_out_event_attributes"):
        attrs.new_execution_run_id = (
            ev.workflow_execution_timed_out_event_attributes.new_execution_run_id
        )
    elif ev.HasField("workflow_execution_completed_event_attributes"):
        c = ev.workflow_execution_completed_event_attributes
        attrs.new_execution_run_id = c.new_execution_run_id
        attrs.workflow_task_completed_event_id = c.workflow_task_completed_event_id
        attrs.last_completion_result.CopyFrom(c.result)
    if not attrs.new_execution_run_id:
        return ev
    return HistoryEvent(
        event_id=ev.event_id,
        event_time=ev.event_time,
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        version=ev.version,
        task_id=ev.task_id,
        workflow_execution_continued_as_new_event_attributes=attrs,
    )


async def get_history(
    engine: HistoryEngine,
    key: Key,
    req: GetWorkflowExecutionHistoryRequest,
    timeout: float,
    *,
    follows_next_run: bool = True,
) -> GetWorkflowExecutionHistoryResponse:
    close_only = (
        req.history_event_filter_type
        == HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT
    )
    start, bound = _parse_token(req.next_page_token, key[2]) if req.next_page_token else (1, None)
    page = req.maximum_page_size if req.maximum_page_size > 0 else PAGE_SIZE
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(timeout, engine.limits.history_long_poll)
    while True:
        # Under the run's lock: the state read is committed, and so are its events.
        async with engine.reading(key) as entry:
            ms = entry.ms
            is_open, close_id, last = ms.is_open, ms.close_event_id, ms.next_event_id - 1
            changed = entry.changed
            entry.waiters += 1  # keeps the entry cached while we wait on `changed`
        try:
            if bound is not None:
                last = min(last, bound)
            if close_only:
                if not is_open:
                    ev = await engine.read_event(key, close_id)
                    if not follows_next_run:
                        ev = _legacy_close_event(ev)
                    return GetWorkflowExecutionHistoryResponse(history=History(events=[ev]))
            elif last >= start:
                resp = await _page(engine, key, start, page, last, bound)
                if req.wait_new_event and is_open and bound is None and not resp.next_page_token:
                    # As Temporal: the last page of a running run keeps a token, so a
                    # follower (`workflow show --follow`) long-polls for what comes next.
                    resp.next_page_token = page_token(key[2], last + 1)
                return resp
            if not req.wait_new_event:
                if close_only:
                    return GetWorkflowExecutionHistoryResponse()
                return await _page(engine, key, start, page, last, bound)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return GetWorkflowExecutionHistoryResponse(
                    history=History(), next_page_token=page_token(key[2], start, bound)
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await changed.wait()
        finally:
            entry.waiters -= 1


async def _page(
    engine: HistoryEngine, key: Key, start: int, page: int, last: int, bound: int | None
) -> GetWorkflowExecutionHistoryResponse:
    end = min(last, start + page - 1)
    events = await engine.read_events(key, start, end) if end >= start else []
    resp = GetWorkflowExecutionHistoryResponse(history=History(events=events))
    if end < last:
        resp.next_page_token = page_token(key[2], end + 1, bound)
    return resp


async def describe(engine: HistoryEngine, key: Key) -> DescribeWorkflowExecutionResponse:
    async with engine.reading(key) as entry:
        resp = _describe(entry.ms)
        # The start's summary and details live only on the started event, as in Temporal.
        first = await engine.read_events(entry.key, 1, 1)
    if first and first[0].HasField("user_metadata"):
        resp.execution_config.user_metadata.CopyFrom(first[0].user_metadata)
    type_of = engine.search_attribute_types(key[0])
    if type_of is not None:
        outgoing.apply_types(resp.workflow_execution_info.search_attributes, type_of)
    return resp


def _describe(ms: MutableState) -> DescribeWorkflowExecutionResponse:
    s = ms.started
    info = execution_info(ms)
    config = WorkflowExecutionConfig(
        task_queue=TaskQueue(name=ms.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        default_workflow_task_timeout=s.workflow_task_timeout,
    )
    # Unset stays unset, as in Temporal (the constructor would mark them present).
    for name in ("workflow_execution_timeout", "workflow_run_timeout"):
        if s.HasField(name):
            getattr(config, name).CopyFrom(getattr(s, name))
    resp = DescribeWorkflowExecutionResponse(
        execution_config=config,
        workflow_execution_info=info,
        pending_activities=[_pending_activity(ai) for ai in ms.activities.values()],
        pending_children=[
            PendingChildExecutionInfo(
                workflow_id=c.workflow_id,
                run_id=c.run_id,
                workflow_type_name=c.workflow_type,
                initiated_id=c.initiated_event_id,
                parent_close_policy=c.parent_close_policy,  # type: ignore[arg-type]
            )
            for c in ms.children.values()
        ],
        workflow_extended_info=WorkflowExecutionExtendedInfo(
            original_start_time=ts(ms.start_time),
            cancel_requested=ms.cancel_requested,
            reset_run_id=ms.reset_run_id,
        ),
    )
    if (vinfo := versioning.describe(ms)) is not None:
        resp.workflow_execution_info.versioning_info.CopyFrom(vinfo)
    info = resp.workflow_execution_info
    if ms.auto_reset_points:
        info.auto_reset_points.CopyFrom(reset_points.points(ms))
    if ms.execution_options:
        opts = WorkflowExecutionOptions.FromString(ms.execution_options)
        if opts.HasField("versioning_override"):
            override = info.versioning_info.versioning_override
            override.CopyFrom(opts.versioning_override)
            # Temporal fills the deprecated behavior field in for older clients.
            if override.auto_upgrade:
                override.behavior = VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
            elif override.HasField("pinned"):
                override.behavior = VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
        if opts.HasField("priority"):
            info.priority.CopyFrom(opts.priority)
    if ms.last_reset_time:
        resp.workflow_extended_info.last_reset_time.CopyFrom(ts(ms.last_reset_time))
    if ms.run_expiration:
        resp.workflow_extended_info.run_expiration_time.CopyFrom(ts(ms.run_expiration))
    if ms.execution_expiration:
        resp.workflow_extended_info.execution_expiration_time.CopyFrom(ts(ms.execution_expiration))
    if ms.wft is not None:
        resp.pending_workflow_task.CopyFrom(_pending_wft(ms.wft))
    return resp


def _pending_activity(ai: ActivityInfo) -> PendingActivityInfo:
    if ai.cancel_requested:
        state = PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
    elif ai.started:
        state = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    else:
        state = PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
    p = PendingActivityInfo(
        activity_id=ai.activity_id,
        activity_type=ActivityType(name=ai.activity_type),
        state=state,  # type: ignore[arg-type]
        attempt=ai.attempt,
        maximum_attempts=ai.attrs.retry_policy.maximum_attempts,
        scheduled_time=ts(ai.attempt_scheduled_time),
        last_worker_identity=ai.last_worker_identity,
    )
    if ai.heartbeat_details is not None:
        p.heartbeat_details.CopyFrom(ai.heartbeat_details)
    if ai.last_heartbeat_time:
        p.last_heartbeat_time.CopyFrom(ts(ai.last_heartbeat_time))
    if ai.started:
        p.last_started_time.CopyFrom(ts(ai.started_time))
    if ai.last_failure is not None:
        p.last_failure.CopyFrom(ai.last_failure)
    if ai.schedule_to_close:
        p.expiration_time.CopyFrom(ts(ai.scheduled_time + ai.schedule_to_close))
    p.activity_options.CopyFrom(activity_control.options_of(ai))
    p.activity_options.task_queue.normal_name = ai.task_queue
    if ai.paused:
        _paused(p, ai)
    return p


def _paused(p: PendingActivityInfo, ai: ActivityInfo) -> None:
    """As Temporal: PAUSED when no worker runs it, PAUSE_REQUESTED while one does."""
    p.paused = True
    if p.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED:
        p.state = PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
    elif p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
        p.state = PendingActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED
    p.pause_info.pause_time.CopyFrom(ts(ai.pause_time))
    p.pause_info.manual.identity = ai.pause_identity
    p.pause_info.manual.reason = ai.pause_reason


def _pending_wft(wft: WorkflowTaskInfo) -> PendingWorkflowTaskInfo:
    p = PendingWorkflowTaskInfo(
        state=PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
        if wft.started_event_id
        else PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED,
        scheduled_time=ts(wft.scheduled_time),
        original_scheduled_time=ts(wft.original_scheduled_time),
        attempt=wft.attempt,
    )
    if wft.started_event_id:
        p.started_time.CopyFrom(ts(wft.started_time))
    return p
