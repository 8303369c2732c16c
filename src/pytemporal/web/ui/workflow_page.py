"""One run: summary, input and result, history, pending work, relatives, queries, and
the actions (signal, cancel, terminate, reset), each behind a confirmation page that
asks for a reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
from aiohttp import web
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState, ResetReapplyType
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest,
    QueryWorkflowRequest,
    RequestCancelWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)

from pytemporal.web.ui import decode, history_view
from pytemporal.web.ui.app import calls, render, see_other, workflow_url
from pytemporal.web.ui.backend import IDENTITY, QUERY_TIMEOUT, Calls, UIError

routes = web.RouteTableDef()

# The page reads at most this many events (the table says when there are more).
MAX_EVENTS = 2000
MAX_RUNS = 20
_RUN = "/namespaces/{namespace}/workflows/{workflow_id}/{run_id}"
ACTIONS = ("signal", "cancel", "terminate", "reset")
_DONE = {
    "signal": "Signal sent.",
    "cancel": "Cancellation requested.",
    "terminate": "Workflow terminated.",
    "reset": "Workflow reset: this is the new run.",
}


def _execution(request: web.Request) -> WorkflowExecution:
    return WorkflowExecution(
        workflow_id=request.match_info["workflow_id"], run_id=request.match_info.get("run_id", "")
    )


async def _history(
    c: Calls, namespace: str, execution: WorkflowExecution
) -> tuple[list[Any], bool]:
    events: list[Any] = []
    token = b""
    while len(events) < MAX_EVENTS:
        reply = await c.wf(
            "GetWorkflowExecutionHistory",
            GetWorkflowExecutionHistoryRequest(
                namespace=namespace, execution=execution, next_page_token=token
            ),
        )
        events.extend(reply.history.events)
        token = reply.next_page_token
        if not token:
            break
    return events[:MAX_EVENTS], bool(token) or len(events) > MAX_EVENTS


def _pending_activities(describe: Any) -> list[dict[str, Any]]:
    rows = []
    for a in describe.pending_activities:
        rows.append(
            {
                "id": a.activity_id,
                "type": a.activity_type.name,
                "state": decode.enum_name(
                    PendingActivityState.Name(a.state), "PENDING_ACTIVITY_STATE_"
                ),
                "attempt": a.attempt,
                "maximum_attempts": a.maximum_attempts or "unlimited",
                "scheduled": decode.format_time(a.scheduled_time),
                "last_started": decode.format_time(a.last_started_time),
                "last_heartbeat": decode.format_time(a.last_heartbeat_time),
                "heartbeat_details": decode.payloads_value(a.heartbeat_details.payloads)
                if a.HasField("heartbeat_details")
                else None,
                "last_failure": a.last_failure.message if a.HasField("last_failure") else "",
                "last_worker": a.last_worker_identity,
            }
        )
    return rows


def _events(events: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        attributes = decode.event_attributes(e)
        rows.append(
            {
                "id": e.event_id,
                "time": decode.format_time(e.event_time),
                "type": decode.event_type_name(e.event_type),
                "summary": decode.compact(attributes, 140),
                "details": decode.pretty(attributes),
            }
        )
    return rows


async def _runs(c: Calls, namespace: str, workflow_id: str) -> list[dict[str, Any]]:
    """Every run of this workflow id, newest first (the run chain with any earlier
    chains of the same id)."""
    escaped = workflow_id.replace("\\", "\\\\").replace("'", "\\'")
    try:
        reply = await c.wf(
            "ListWorkflowExecutions",
            ListWorkflowExecutionsRequest(
                namespace=namespace, query=f"WorkflowId = '{escaped}'", page_size=MAX_RUNS
            ),
        )
    except grpc.aio.AioRpcError:
        return []  # the chain from the history still shows
    runs = [
        {
            "run_id": i.execution.run_id,
            "status": decode.status_name(i.status),
            "start": decode.format_time(i.start_time),
            "close": decode.format_time(i.close_time),
        }
        for i in reply.executions
    ]
    return sorted(runs, key=lambda r: r["start"], reverse=True)


def _outcome(view: history_view.HistoryView) -> dict[str, str] | None:
    """How the run ended, for the panel beside the input."""
    if not view.close_type:
        return None
    return {"message": "", "type": "", "stack": "", **_ending(view)}


def _ending(view: history_view.HistoryView) -> dict[str, str]:
    close = view.close
    if view.close_type == "WorkflowExecutionCompleted":
        return {"title": "Result", "json": decode.pretty(close.get("result"))}
    if isinstance(close.get("failure"), dict):
        failure = close["failure"]
        return {
            "title": "Failure",
            "message": str(failure.get("message", "")),
            "type": str(failure.get("applicationFailureInfo", {}).get("type", "")),
            "stack": str(failure.get("stackTrace", "")),
            # The stack trace has its own panel; causes and retry state stay here.
            "json": decode.pretty(
                {**close, "failure": {k: v for k, v in failure.items() if k != "stackTrace"}}
            ),
        }
    if view.close_type == "WorkflowExecutionTerminated":
        return {
            "title": "Terminated",
            "message": str(close.get("reason", "")),
            "json": decode.pretty(close),
        }
    title = view.close_type.removeprefix("WorkflowExecution")
    return {"title": title, "json": decode.pretty(close)}


@routes.get("/namespaces/{namespace}/workflows/{workflow_id}")
async def latest_run(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    describe = await calls(request).wf(
        "DescribeWorkflowExecution",
        DescribeWorkflowExecutionRequest(namespace=namespace, execution=_execution(request)),
    )
    run_id = describe.workflow_execution_info.execution.run_id
    raise web.HTTPFound(workflow_url(namespace, request.match_info["workflow_id"], run_id))


@routes.get(_RUN)
async def workflow(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    execution = _execution(request)
    c = calls(request)
    describe = await c.wf(
        "DescribeWorkflowExecution",
        DescribeWorkflowExecutionRequest(namespace=namespace, execution=execution),
    )
    events, truncated = await _history(c, namespace, execution)
    now = datetime.now(UTC)
    view = history_view.build(events, now)
    info = describe.workflow_execution_info
    status = decode.status_name(info.status)
    start = decode.when(info.start_time)
    end = decode.when(info.close_time) or now
    return render(
        request,
        "workflow.html",
        info=info,
        status_name=status,
        running=status == "Running",
        task_queue=describe.execution_config.task_queue.name or info.task_queue,
        duration=decode.format_duration((end - start).total_seconds()) if start else "",
        view=view,
        input_json=decode.pretty(view.input) if view.has_input else "",
        outcome=_outcome(view),
        events=_events(events),
        truncated=truncated,
        max_events=MAX_EVENTS,
        pending=_pending_activities(describe),
        runs=await _runs(c, namespace, execution.workflow_id),
        done=_DONE.get(request.query.get("done", ""), ""),
        actions=ACTIONS,
    )


async def _query(request: web.Request, query_type: str) -> tuple[Any, str]:
    """(decoded answer, "") or (None, why there is none)."""
    try:
        reply = await calls(request).wf(
            "QueryWorkflow",
            QueryWorkflowRequest(
                namespace=request.match_info["namespace"],
                execution=_execution(request),
                query=WorkflowQuery(query_type=query_type),
            ),
            timeout=QUERY_TIMEOUT,
        )
    except grpc.aio.AioRpcError as e:
        if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return None, (
                f"No worker answered within {QUERY_TIMEOUT:.0f} s: is a worker polling this"
                " workflow's task queue?"
            )
        if e.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
            raise
        return None, e.details() or e.code().name
    if reply.HasField("query_rejected"):
        return None, "The query was rejected (the workflow is closed)."
    return decode.payloads_value(reply.query_result.payloads), ""


@routes.get(_RUN + "/stack")
async def stack(request: web.Request) -> web.Response:
    answer, problem = await _query(request, "__stack_trace")
    return render(
        request, "query_result.html", title="Call stack", text=answer or "", problem=problem
    )


@routes.get(_RUN + "/metadata")
async def metadata(request: web.Request) -> web.Response:
    answer, problem = await _query(request, "__temporal_workflow_metadata")
    definition = answer.get("definition", {}) if isinstance(answer, dict) else {}
    return render(
        request,
        "metadata.html",
        title="Workflow metadata",
        definition=definition,
        details=answer.get("currentDetails", "") if isinstance(answer, dict) else "",
        problem=problem,
    )


async def _confirm_context(request: web.Request, action: str) -> dict[str, Any]:
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    context: dict[str, Any] = {"action": action, "reset_points": [], "signals": []}
    if action == "reset":
        events, _ = await _history(
            calls(request), request.match_info["namespace"], _execution(request)
        )
        context["reset_points"] = history_view.build(events, datetime.now(UTC)).reset_points
    return context


@routes.get(_RUN + "/{action}")
async def confirm(request: web.Request) -> web.Response:
    context = await _confirm_context(request, request.match_info["action"])
    return render(request, "confirm.html", error="", form={}, **context)


def _signal_input(text: str) -> Payloads | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UIError(400, "Bad request", f"The input is not JSON: {e}") from None
    data = json.dumps(value, separators=(",", ":")).encode()
    return Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=data)])


async def _act(
    c: Calls, namespace: str, action: str, execution: WorkflowExecution, form: Any
) -> str:
    """Run the action; the run id to show afterwards."""
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise UIError(400, "Bad request", "Give a reason.")
    if action == "signal":
        name = str(form.get("name", "")).strip()
        if not name:
            raise UIError(400, "Bad request", "Give the signal's name.")
        payloads = _signal_input(str(form.get("input", "")))
        await c.wf(
            "SignalWorkflowExecution",
            SignalWorkflowExecutionRequest(
                namespace=namespace,
                workflow_execution=execution,
                signal_name=name,
                input=payloads,
                # The signal request has no reason field; the Signaled event keeps identity.
                identity=f"{IDENTITY}: {reason}",
                request_id=str(uuid.uuid4()),
            ),
        )
    elif action == "cancel":
        await c.wf(
            "RequestCancelWorkflowExecution",
            RequestCancelWorkflowExecutionRequest(
                namespace=namespace,
                workflow_execution=execution,
                reason=reason,
                identity=IDENTITY,
                request_id=str(uuid.uuid4()),
            ),
        )
    elif action == "terminate":
        await c.wf(
            "TerminateWorkflowExecution",
            TerminateWorkflowExecutionRequest(
                namespace=namespace, workflow_execution=execution, reason=reason, identity=IDENTITY
            ),
        )
    else:
        return await _reset(c, namespace, execution, reason, form)
    return execution.run_id


async def _reset(
    c: Calls, namespace: str, execution: WorkflowExecution, reason: str, form: Any
) -> str:
    try:
        event_id = int(str(form.get("event_id", "")))
    except ValueError:
        raise UIError(400, "Bad request", "Choose the event to reset to.") from None
    reapply = (
        ResetReapplyType.RESET_REAPPLY_TYPE_NONE
        if form.get("reapply_signals") is None
        else ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL
    )
    reply = await c.wf(
        "ResetWorkflowExecution",
        ResetWorkflowExecutionRequest(
            namespace=namespace,
            workflow_execution=execution,
            reason=reason,
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),
            reset_reapply_type=reapply,
            identity=IDENTITY,
        ),
    )
    return str(reply.run_id)


@routes.post(_RUN + "/{action}")
async def act(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    namespace = request.match_info["namespace"]
    execution = _execution(request)
    form = await request.post()
    try:
        run_id = await _act(calls(request), namespace, action, execution, form)
    except (UIError, grpc.aio.AioRpcError) as e:
        if isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.PERMISSION_DENIED:
            raise
        message = e.message if isinstance(e, UIError) else (e.details() or e.code().name)
        context = await _confirm_context(request, action)
        return render(request, "confirm.html", status=400, error=message, form=form, **context)
    url = workflow_url(namespace, execution.workflow_id, run_id)
    return see_other(f"{url}?done={action}")
