"""Signal, cancel request and terminate of a running workflow."""

from __future__ import annotations

from temporalio.api.workflowservice.v1 import (
    RequestCancelWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.history.engine import Entry, HistoryEngine, Key
from pytemporal.history.workflow import lifecycle

MAX_SIGNALS = 10_000
_CLOSED = "workflow execution already completed"


async def signal(engine: HistoryEngine, key: Key, req: SignalWorkflowExecutionRequest) -> None:
    def apply(entry: Entry) -> None:
        ms = entry.ms
        if not ms.is_open:
            raise NotFound(_CLOSED)
        if req.request_id and req.request_id in ms.signal_request_ids:
            return
        if ms.signal_count >= MAX_SIGNALS:
            raise InvalidArgument("exceeded workflow execution limit for signal events")
        lifecycle.signal(
            ms,
            req.signal_name,
            req.input if req.HasField("input") else None,
            req.identity,
            req.header if req.HasField("header") else None,
            req.request_id,
        )

    await engine.update(key, apply)


async def request_cancel(
    engine: HistoryEngine, key: Key, req: RequestCancelWorkflowExecutionRequest
) -> None:
    def apply(entry: Entry) -> None:
        ms = entry.ms
        if req.first_execution_run_id and req.first_execution_run_id != ms.first_execution_run_id:
            raise NotFound("workflow execution not found")
        if ms.is_open and not ms.cancel_requested:
            lifecycle.request_cancel(ms, req.reason, req.identity)

    await engine.update(key, apply)


async def terminate(
    engine: HistoryEngine, key: Key, req: TerminateWorkflowExecutionRequest
) -> None:
    def apply(entry: Entry) -> None:
        ms = entry.ms
        if req.first_execution_run_id and req.first_execution_run_id != ms.first_execution_run_id:
            raise NotFound("workflow execution not found")
        if not ms.is_open:
            raise NotFound(_CLOSED)
        lifecycle.terminate(
            ms,
            req.reason or "terminated by user via frontend",
            req.details if req.HasField("details") else None,
            req.identity,
        )

    await engine.update(key, apply)
