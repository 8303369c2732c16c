"""Workflow tasks: started by a poller, completed or failed by the worker."""

from __future__ import annotations

import dataclasses
import logging
import uuid

from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    SuggestContinueAsNewReason,
    TaskQueueKind,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure, ServerFailureInfo
from temporalio.api.history.v1 import History
from temporalio.api.protocol.v1 import Message
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
)

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.common.protoutil import ts
from pytemporal.history.api import eager_activities, queries, read
from pytemporal.history.engine import Entry, HistoryEngine
from pytemporal.history.tokens import TaskToken, decode
from pytemporal.history.workflow import commands, lifecycle, versioning
from pytemporal.history.workflow import updates as upd
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.limits import WorkflowLimits
from pytemporal.history.workflow.state import MutableState
from pytemporal.matching.queues import TaskRef

# Events in a poll response's first page (Temporal's frontend.historyMaxPageSize
# default); the worker fetches the rest with GetWorkflowExecutionHistory.
POLL_PAGE_SIZE = 256


async def record_started(
    engine: HistoryEngine, ref: TaskRef, req: PollWorkflowTaskQueueRequest
) -> PollWorkflowTaskQueueResponse | None:
    """Start the workflow task `ref` names; None if it went stale in the queue."""
    try:
        async with engine.locked((ref.namespace_id, ref.workflow_id, ref.run_id)) as entry:
            ms = entry.ms
            wft = ms.wft
            if not ms.is_open or wft is None or wft.scheduled_event_id != ref.scheduled_event_id:
                return None
            if not wft.started_event_id and not versioning.accepts(
                ms, versioning.poller_version(req.deployment_options)
            ):
                # A pinned run's task reached another version's poller (a re-read of the
                # backlog does not know the pin): offer it to its own version.
                engine.tasks.dispatch(
                    entry, "workflow", wft.scheduled_event_id, wft.attempt, ms.task_queue, False
                )
                return None
            if wft.started_event_id:
                # The same offer again: its first start committed but the reply was lost.
                if not ref.request_id or wft.request_id != ref.request_id:
                    return None
            else:
                _start(engine, entry, req.identity, ref.request_id)
                if engine.metrics is not None:
                    latency = engine.clock.now() - wft.scheduled_time
                    engine.metrics.task_started(ms.namespace, ms.task_queue, "workflow", latency)
            await engine.commit_one(entry)
            sticky = req.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
            return await build_response(engine, entry, sticky=sticky)
    except NotFound:
        return None


def _start(engine: HistoryEngine, entry: Entry, identity: str, request_id: str = "") -> None:
    ms = entry.ms
    deployment = engine.deployment_target
    target = (
        "" if deployment is None else deployment(ms.namespace_id, ms.task_queue, ms.workflow_id)
    )
    start_task(engine.limits.workflow, ms, identity, request_id, target)


def start_task(
    limits: WorkflowLimits,
    ms: MutableState,
    identity: str,
    request_id: str = "",
    target: str = "",
) -> None:
    """Start the run's scheduled workflow task, suggesting continue-as-new when the
    history has grown past the limits; `target` is the worker deployment version the
    run's queue now sends new runs to (a pinned run elsewhere is told it changed)."""
    reasons: list[int] = []
    if ms.history_size_bytes >= limits.suggest_can_bytes:
        reasons.append(
            SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_HISTORY_SIZE_TOO_LARGE
        )
    if ms.next_event_id >= limits.suggest_can_events:
        reasons.append(
            SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS
        )
    changed = versioning.target_changed(ms, target)
    wt.start(
        ms,
        request_id=request_id or str(uuid.uuid4()),
        identity=identity,
        suggest_can=reasons,
        target_changed=changed,
    )


async def build_response(
    engine: HistoryEngine, entry: Entry, *, sticky: bool
) -> PollWorkflowTaskQueueResponse:
    """The poll response for the run's started task (the caller holds the run's lock,
    after the commit). A sticky worker gets only the events since its last task; a long
    history comes in pages that the worker fetches with the `next_page_token`."""
    ms = entry.ms
    wft = ms.wft
    assert wft is not None
    token = TaskToken(
        *entry.key,
        scheduled_event_id=wft.scheduled_event_id,
        started_event_id=wft.started_event_id,
        attempt=wft.attempt,
    )
    first = (ms.previous_started_event_id if sticky else 0) + 1
    # A speculative task's Scheduled/Started events are not stored: they end the history.
    stored_last = wft.pending_events[0].event_id - 1 if wft.pending_events else wft.started_event_id
    next_page = b""
    if not wft.pending_events and stored_last - first + 1 > POLL_PAGE_SIZE:
        events = await engine.read_events(entry.key, first, first + POLL_PAGE_SIZE - 1)
        next_page = read.page_token(ms.run_id, first + POLL_PAGE_SIZE, stored_last)
    else:
        events = await engine.read_events(entry.key, first, stored_last) + wft.pending_events
    resp = PollWorkflowTaskQueueResponse(
        task_token=token.encode(),
        workflow_execution=WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id),
        workflow_type=WorkflowType(name=ms.workflow_type),
        previous_started_event_id=ms.previous_started_event_id,
        started_event_id=wft.started_event_id,
        attempt=wft.attempt,
        history=History(events=events),
        next_page_token=next_page,
        workflow_execution_task_queue=TaskQueue(
            name=ms.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
        ),
        scheduled_time=ts(wft.scheduled_time),
        started_time=ts(wft.started_time),
    )
    for q in engine.queries.unsent(entry.key):
        q.sent = True
        resp.queries[q.id].CopyFrom(q.query)
    for u in engine.updates.unsent(entry.key):
        u.sent = True
        body = AnyProto()
        body.Pack(u.request, type_url_prefix="type.googleapis.com/")
        resp.messages.append(
            Message(
                id=f"{u.update_id}/request",
                protocol_instance_id=u.update_id,
                event_id=wft.started_event_id - 1,
                body=body,
            )
        )
    return resp


def _validate(entry: Entry, token: TaskToken) -> None:
    ms = entry.ms
    wft = ms.wft
    if (
        not ms.is_open
        or wft is None
        or wft.scheduled_event_id != token.scheduled_event_id
        or wft.started_event_id != token.started_event_id
        or not wft.started_event_id
        or wft.attempt != token.attempt
    ):
        raise NotFound("Workflow task not found.")


async def complete(
    engine: HistoryEngine, req: RespondWorkflowTaskCompletedRequest
) -> RespondWorkflowTaskCompletedResponse:
    token = decode(req.task_token)
    try:
        return await _complete(engine, token, req)
    except BadCommand as e:
        msg = commands.failure_message(e.cause, e.message)
        await _fail(
            engine, token, e.cause, _server_failure(msg), req.identity, terminate=e.terminate
        )
        raise InvalidArgument(msg) from e
    except commands.UnsupportedCommand as e:
        cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED
        await _fail(engine, token, cause, _server_failure(str(e)), req.identity)
        raise InvalidArgument(str(e)) from e
    except commands.InvalidCommandSequence as e:
        raise InvalidArgument(str(e)) from e


async def _complete(
    engine: HistoryEngine, token: TaskToken, req: RespondWorkflowTaskCompletedRequest
) -> RespondWorkflowTaskCompletedResponse:
    async with engine.locked(token.key) as entry:
        _validate(entry, token)
        ms = entry.ms
        sent = [u.update_id for u in engine.updates.pending(token.key) if u.sent]
        outcome = commands.complete(ms, req, _limits_for(engine, ms.namespace_id))
        _enforce_history_limits(ms, engine.limits.workflow)
        resp = RespondWorkflowTaskCompletedResponse()
        if outcome.discarded:
            resp.reset_history_event_id = ms.previous_started_event_id
        _settle_updates(engine, entry, sent)
        inline = (
            req.return_new_workflow_task
            and ms.wft is not None
            and not ms.wft.started_event_id
            and ms.wft.sticky
        )
        if inline:
            # Hand the next task straight back instead of through the sticky queue.
            ms.tasks = [t for t in ms.tasks if t.kind != "workflow"]
            _start(engine, entry, req.identity)
        eager = eager_activities.start(entry, req) if engine.limits.eager_activities else []
        queries.answer_buffered(engine, entry, req.query_results)
        await engine.commit_one(entry)
        if inline:
            resp.workflow_task.CopyFrom(await build_response(engine, entry, sticky=True))
        resp.activity_tasks.extend(eager_activities.responses(entry, eager))
        return resp


def _limits_for(engine: HistoryEngine, namespace_id: str) -> WorkflowLimits:
    limits = engine.limits.workflow
    namespaces = engine.namespaces
    if namespaces is None:
        return limits
    ns = namespaces.by_id(namespace_id)

    def check(names: list[str]) -> str | None:
        unknown = ns.unknown_search_attribute(names)
        return None if unknown is None else ns.no_mapping(unknown)

    return dataclasses.replace(limits, check_search_attribute=check)


def _enforce_history_limits(ms: MutableState, limits: WorkflowLimits) -> None:
    """A history past its hard limit ends the run: it could never be replayed."""
    if not ms.is_open:
        return
    count = ms.next_event_id - 1
    if count >= limits.history_count_warn or ms.history_size_bytes >= limits.history_size_warn:
        log.warning(
            "history of workflow %s (run %s) is large: %d events, %d bytes; it is terminated "
            "at %d events or %d bytes",
            ms.workflow_id,
            ms.run_id,
            count,
            ms.history_size_bytes,
            limits.history_count_error,
            limits.history_size_error,
        )
    if count >= limits.history_count_error:
        reason = "Workflow history count exceeds limit."
    elif ms.history_size_bytes >= limits.history_size_error:
        reason = "Workflow history size exceeds limit."
    else:
        return
    if ms.wft is not None:
        ms.wft = None
    lifecycle.terminate(ms, reason, None, SERVER_IDENTITY)


def _settle_updates(engine: HistoryEngine, entry: Entry, sent: list[str]) -> None:
    """Reject what the worker ignored; give updates that arrived meanwhile a task."""
    ms = entry.ms
    if not ms.is_open:
        return
    handled = {e.update_id for e in ms.update_effects}
    for uid in sent:
        if uid not in handled:
            ms.update_effects.append(
                upd.Effect(
                    uid, upd.COMPLETED, upd.server_rejection(upd.UNPROCESSED, "UnprocessedUpdate")
                )
            )
    if ms.wft is None and engine.updates.unsent(entry.key):
        wt.schedule(ms, speculative=True)


SERVER_IDENTITY = "history-service"
log = logging.getLogger(__name__)


def _server_failure(message: str) -> Failure:
    return Failure(message=message, source="", server_failure_info=ServerFailureInfo())


async def _fail(
    engine: HistoryEngine,
    token: TaskToken,
    cause: int,
    failure: Failure,
    identity: str,
    *,
    terminate: bool = False,
) -> None:
    async with engine.locked(token.key) as entry:
        _validate(entry, token)
        wt.fail(entry.ms, cause, failure, identity=identity, reschedule=not terminate)
        if terminate:
            # Temporal's identity for what the history service does on its own.
            lifecycle.terminate(entry.ms, failure.message, None, "history-service")
        await engine.commit_one(entry)


async def fail(engine: HistoryEngine, req: RespondWorkflowTaskFailedRequest) -> None:
    token = decode(req.task_token)
    failure = req.failure if req.HasField("failure") else None
    async with engine.locked(token.key) as entry:
        _validate(entry, token)
        wt.fail(entry.ms, req.cause, failure, identity=req.identity)
        await engine.commit_one(entry)
