"""Standalone activities: Start, Describe, Poll, RequestCancel, Terminate.

Each activity is a hidden run (`workflow/standalone.py`); these are the RPCs' history
side. Starting one is a workflow start under the same id policies (the activity id
policies have the workflow ones' numbering), whose first work is the activity instead
of a workflow task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from google.protobuf.duration_pb2 import Duration
from temporalio.api.activity.v1 import ActivityExecutionInfo, ActivityExecutionOutcome
from temporalio.api.command.v1 import ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, WorkflowType
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    DescribeActivityExecutionRequest,
    DescribeActivityExecutionResponse,
    PollActivityExecutionResponse,
    StartActivityExecutionRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.errors import (
    ActivityAlreadyStarted,
    InvalidArgument,
    NotFound,
    WorkflowAlreadyStarted,
)
from pytemporal.common.protoutil import copy_present, dur, dur_seconds, ts
from pytemporal.history.api import start
from pytemporal.history.engine import Entry, HistoryEngine, Key
from pytemporal.history.workflow import activities, lifecycle, standalone
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.state import ActivityInfo, MutableState
from pytemporal.namespaces import Namespace

TERMINATE_IDENTITY = "history-service"


def _start_request(req: StartActivityExecutionRequest) -> StartWorkflowExecutionRequest:
    out = StartWorkflowExecutionRequest(
        namespace=req.namespace,
        workflow_id=req.activity_id,
        workflow_type=WorkflowType(name=req.activity_type.name),
        task_queue=req.task_queue,
        identity=req.identity,
        request_id=req.request_id,
        workflow_id_reuse_policy=req.id_reuse_policy,  # type: ignore[arg-type]
        workflow_id_conflict_policy=req.id_conflict_policy,  # type: ignore[arg-type]
    )
    copy_present(out, req, "search_attributes", "user_metadata", "priority")
    return out


def _schedule(req: StartActivityExecutionRequest) -> Callable[[MutableState], None]:
    attrs = ScheduleActivityTaskCommandAttributes(
        activity_id=req.activity_id,
        activity_type=req.activity_type,
        task_queue=req.task_queue,
    )
    copy_present(
        attrs,
        req,
        "header",
        "input",
        "schedule_to_close_timeout",
        "schedule_to_start_timeout",
        "start_to_close_timeout",
        "heartbeat_timeout",
        "retry_policy",
        "priority",
    )
    delay = dur_seconds(req.start_delay)

    def first_task(ms: MutableState) -> None:
        activities.schedule(ms, attrs, 0)
        if delay > 0:
            # Held back: the timer queue dispatches the first attempt at its time.
            ai = next(iter(ms.activities.values()))
            ms.tasks = [t for t in ms.tasks if t.kind != "activity"]
            ms.dispatched.discard((ai.scheduled_event_id, ai.attempt))
            ai.attempt_scheduled_time = ms.now + delay

    return first_task


async def start_activity(
    engine: HistoryEngine, ns: Namespace, req: StartActivityExecutionRequest
) -> tuple[str, bool]:
    """(run id, started) of the activity execution."""
    hidden = _hidden(ns)
    try:
        res = await start.start(
            engine,
            hidden,
            _start_request(req),
            first_task=_schedule(req),  # type: ignore[arg-type]
        )
    except BadCommand as e:
        raise InvalidArgument(e.message) from e
    except WorkflowAlreadyStarted as e:
        raise ActivityAlreadyStarted(
            f"Activity execution is already running. ActivityId: {req.activity_id},"
            f" RunId: {e.run_id}.",
            start_request_id=e.start_request_id,
            run_id=e.run_id,
            first_execution_run_id=e.first_execution_run_id,
        ) from e
    return res.run_id, res.started


def _hidden(ns: Namespace) -> Namespace:
    return Namespace(
        id=standalone.row_namespace(ns.id),
        name=ns.name,
        retention_seconds=ns.retention_seconds,
        search_attributes=ns.search_attributes,
    )


async def key_of(engine: HistoryEngine, ns: Namespace, activity_id: str, run_id: str) -> Key:
    if not activity_id:
        raise InvalidArgument("ActivityId is not set on request.")
    hidden_id = standalone.row_namespace(ns.id)
    if run_id:
        return hidden_id, activity_id, run_id
    current = await engine.store.get_current_run(hidden_id, activity_id)
    if current is None:
        raise NotFound(f"activity execution not found: {activity_id}")
    return hidden_id, activity_id, current.run_id


async def request_cancel(engine: HistoryEngine, key: Key, identity: str) -> None:
    async with engine.locked(key) as entry:
        ms = entry.ms
        if not ms.is_open:
            raise _closed(key)
        ai = _pending(ms)
        if ai is None or ai.cancel_requested:
            return
        ai.cancel_requested = True
        ms.dirty = True
        if not ai.started:
            activities.cancel_done(ms, ai, None, identity)
        await engine.commit_one(entry)


async def terminate(engine: HistoryEngine, key: Key, identity: str, reason: str) -> None:
    async with engine.locked(key) as entry:
        if not entry.ms.is_open:
            raise _closed(key)
        lifecycle.terminate(entry.ms, reason, None, identity or TERMINATE_IDENTITY)
        await engine.commit_one(entry)


def _closed(key: Key) -> NotFound:
    return NotFound(f"activity execution already completed: {key[1]}")


def _pending(ms: MutableState) -> ActivityInfo | None:
    return next(iter(ms.activities.values()), None)


async def poll(engine: HistoryEngine, key: Key, timeout: float) -> PollActivityExecutionResponse:
    """The outcome once the activity has ended, waiting up to `timeout` for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with engine.reading(key) as entry:
            if not entry.ms.is_open:
                outcome = await _outcome(engine, entry)
                return PollActivityExecutionResponse(run_id=key[2], outcome=outcome)
            changed = entry.changed
        remaining = deadline - loop.time()
        if remaining <= 0:
            return PollActivityExecutionResponse(run_id=key[2])
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            pass


async def _outcome(engine: HistoryEngine, entry: Entry) -> ActivityExecutionOutcome:
    ms = entry.ms
    events = await engine.read_events(entry.key, max(1, ms.close_event_id - 3))
    out = ActivityExecutionOutcome()
    close = next((e for e in events if e.event_id == ms.close_event_id), None)
    if close is not None and close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        out.failure.CopyFrom(
            standalone.terminated_failure(
                close.workflow_execution_terminated_event_attributes.reason
            )
        )
        return out
    ev = next((e for e in reversed(events) if e.event_type in standalone.CLOSE_EVENTS), None)
    if ev is None:
        return out
    _fill_outcome(out, ev)
    return out


def _fill_outcome(out: ActivityExecutionOutcome, ev: HistoryEvent) -> None:
    t = ev.event_type
    if t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        out.result.CopyFrom(ev.activity_task_completed_event_attributes.result)
    elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        out.failure.CopyFrom(ev.activity_task_failed_event_attributes.failure)
    elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        out.failure.CopyFrom(ev.activity_task_timed_out_event_attributes.failure)
    else:
        c = ev.activity_task_canceled_event_attributes
        f = Failure(message="Activity canceled", source="Server")
        f.canceled_failure_info.SetInParent()
        if c.HasField("details"):
            f.canceled_failure_info.details.CopyFrom(c.details)
        out.failure.CopyFrom(f)


def _state(ai: ActivityInfo) -> int:
    if ai.cancel_requested:
        return PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
    if ai.started:
        return PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    return PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED


def _long_poll_token(ms: MutableState) -> bytes:
    return f"{ms.run_id}:{ms.next_event_id}:{int(ms.is_open)}".encode()


async def describe(
    engine: HistoryEngine, key: Key, req: DescribeActivityExecutionRequest, timeout: float
) -> DescribeActivityExecutionResponse:
    if req.long_poll_token:
        await _wait_for_change(engine, key, req.long_poll_token, timeout)
    async with engine.reading(key) as entry:
        ms = entry.ms
        events = await engine.read_events(entry.key)
        resp = DescribeActivityExecutionResponse(run_id=ms.run_id)
        resp.info.CopyFrom(_info(ms, events, req, engine.clock.now()))
        scheduled = _scheduled_event(events)
        if req.include_input and scheduled is not None:
            resp.input.CopyFrom(scheduled.activity_task_scheduled_event_attributes.input)
        if req.include_outcome and not ms.is_open:
            resp.outcome.CopyFrom(await _outcome(engine, entry))
        resp.long_poll_token = _long_poll_token(ms)
        return resp


async def _wait_for_change(engine: HistoryEngine, key: Key, token: bytes, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with engine.reading(key) as entry:
            if _long_poll_token(entry.ms) != token:
                return
            changed = entry.changed
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            return


def _scheduled_event(events: list[HistoryEvent]) -> HistoryEvent | None:
    return next(
        (e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), None
    )


def _info(
    ms: MutableState,
    events: list[HistoryEvent],
    req: DescribeActivityExecutionRequest,
    now: float,
) -> ActivityExecutionInfo:
    scheduled = _scheduled_event(events)
    info = ActivityExecutionInfo(
        activity_id=ms.workflow_id,
        run_id=ms.run_id,
        activity_type=ActivityType(name=ms.workflow_type),
        status=standalone.status(ms),  # type: ignore[arg-type]
        task_queue=ms.task_queue,
        schedule_time=ts(ms.start_time),
        state_transition_count=ms.db_version,
    )
    s = ms.started
    copy_present(info, s, "search_attributes", "priority")
    if events and events[0].HasField("user_metadata"):
        info.user_metadata.CopyFrom(events[0].user_metadata)
    if scheduled is not None:
        a = scheduled.activity_task_scheduled_event_attributes
        for name in (
            "schedule_to_close_timeout",
            "schedule_to_start_timeout",
            "start_to_close_timeout",
            "heartbeat_timeout",
        ):
            d: Duration = getattr(a, name)
            if dur_seconds(d) > 0:
                getattr(info, name).CopyFrom(d)
        copy_present(info, a, "retry_policy", "header")
    ai = _pending(ms)
    if ai is not None:
        info.run_state = _state(ai)  # type: ignore[assignment]
        info.attempt = ai.attempt
        info.last_worker_identity = ai.last_worker_identity
        if ai.started:
            info.last_started_time.CopyFrom(ts(ai.started_time))
        if ai.last_heartbeat_time:
            info.last_heartbeat_time.CopyFrom(ts(ai.last_heartbeat_time))
        if req.include_heartbeat_details and ai.heartbeat_details is not None:
            info.heartbeat_details.CopyFrom(ai.heartbeat_details)
        if req.include_last_failure and ai.last_failure is not None:
            info.last_failure.CopyFrom(ai.last_failure)
        if ai.attempt_scheduled_time > now:
            info.next_attempt_schedule_time.CopyFrom(ts(ai.attempt_scheduled_time))
        if ai.schedule_to_close:
            info.expiration_time.CopyFrom(ts(ai.scheduled_time + ai.schedule_to_close))
    else:
        info.attempt = max(
            (
                e.activity_task_started_event_attributes.attempt
                for e in events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            ),
            default=1,
        )
    if ms.close_time:
        info.close_time.CopyFrom(ts(ms.close_time))
        info.execution_duration.CopyFrom(dur(max(0.0, ms.close_time - ms.start_time)))
    return info
