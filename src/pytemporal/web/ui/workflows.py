"""The workflow list: a query in Temporal's list filter language, status chips with
counts, paging and sorting, all held in the URL so a view can be saved and shared.

The visibility store returns runs in one order (open runs first, then by close time,
newest first; Temporal's SQL visibility does the same and refuses ORDER BY), pages of
which follow `next_page_token`. The other orders are the UI's: it reads at most
`SORT_WINDOW` matching runs, sorts them and pages through them by offset, and says so
on the page when there were more.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import grpc
from aiohttp import web
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
)

from pytemporal.web.ui import decode
from pytemporal.web.ui.app import calls, render
from pytemporal.web.ui.backend import Calls, UIError

routes = web.RouteTableDef()

STATUSES = (
    "Running",
    "Completed",
    "Failed",
    "Canceled",
    "Terminated",
    "ContinuedAsNew",
    "TimedOut",
)
SORTS = {
    "": "Open first, then by close time (newest first)",
    "start-desc": "Start time, newest first",
    "start-asc": "Start time, oldest first",
    "close-desc": "Close time, newest first",
    "close-asc": "Close time, oldest first",
}
PAGE_SIZE = 20
MAX_PAGE_SIZE = 200
SORT_WINDOW = 1000


@dataclass
class ListState:
    """What the URL says."""

    query: str
    status: str
    sort: str
    token: bytes
    offset: int
    size: int = PAGE_SIZE

    @classmethod
    def of(cls, request: web.Request) -> ListState:
        status = request.query.get("status", "")
        sort = request.query.get("sort", "")
        if status and status not in STATUSES:
            raise UIError(400, "Bad request", f"Unknown status {status!r}.")
        if sort not in SORTS:
            raise UIError(400, "Bad request", f"Unknown sort order {sort!r}.")
        try:
            token = base64.b64decode(request.query.get("next", ""), altchars=b"-_", validate=True)
            offset = int(request.query.get("offset", "0"))
            size = int(request.query.get("size", str(PAGE_SIZE)))
        except (binascii.Error, ValueError):
            raise UIError(400, "Bad request", "The page link is damaged.") from None
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise UIError(400, "Bad request", f"The page size must be 1 to {MAX_PAGE_SIZE}.")
        query = request.query.get("query", "").strip()
        return cls(query, status, sort, token, max(offset, 0), size)

    def effective(self) -> str:
        if not self.status:
            return self.query
        condition = f"ExecutionStatus = '{self.status}'"
        return f"({self.query}) AND {condition}" if self.query else condition

    def url(self, base: str, **changes: Any) -> str:
        params: dict[str, Any] = {"query": self.query, "status": self.status, "sort": self.sort}
        params["size"] = "" if self.size == PAGE_SIZE else self.size
        params.update(changes)
        kept = {k: v for k, v in params.items() if v not in ("", None, 0)}
        return f"{base}?{urlencode(kept)}" if kept else base


def _row(info: WorkflowExecutionInfo) -> dict[str, Any]:
    return {
        "status": decode.status_name(info.status),
        "workflow_id": info.execution.workflow_id,
        "run_id": info.execution.run_id,
        "type": info.type.name,
        "start": decode.format_time(info.start_time),
        "close": decode.format_time(info.close_time),
        "task_queue": info.task_queue,
        "history_length": info.history_length,
    }


async def _counts(c: Calls, namespace: str, query: str) -> dict[str, int]:
    reply = await c.wf(
        "CountWorkflowExecutions",
        CountWorkflowExecutionsRequest(
            namespace=namespace, query=f"{query} GROUP BY ExecutionStatus".strip()
        ),
    )
    counts = dict.fromkeys(STATUSES, 0)
    for group in reply.groups:
        value = decode.payloads_value(group.group_values)
        if isinstance(value, str):
            counts[value] = counts.get(value, 0) + group.count
    return counts


def _sort_key(sort: str) -> Any:
    field = "start_time" if sort.startswith("start") else "close_time"
    late = datetime.max.replace(tzinfo=None)

    def key(info: WorkflowExecutionInfo) -> datetime:
        moment = decode.when(getattr(info, field))
        return moment.replace(tzinfo=None) if moment else late

    return key


async def _sorted_page(
    c: Calls, namespace: str, state: ListState
) -> tuple[list[WorkflowExecutionInfo], bool, bool]:
    """(page, more pages, window cut short)."""
    found: list[WorkflowExecutionInfo] = []
    token = b""
    while len(found) < SORT_WINDOW:
        reply = await c.wf(
            "ListWorkflowExecutions",
            ListWorkflowExecutionsRequest(
                namespace=namespace, query=state.effective(), page_size=200, next_page_token=token
            ),
        )
        found.extend(reply.executions)
        token = reply.next_page_token
        if not token:
            break
    cut = bool(token) or len(found) > SORT_WINDOW
    found = found[:SORT_WINDOW]
    found.sort(key=_sort_key(state.sort), reverse=state.sort.endswith("desc"))
    if state.sort == "close-desc":  # open runs (no close time) last, not first
        found.sort(key=lambda i: decode.when(i.close_time) is None)
    page = found[state.offset : state.offset + state.size]
    return page, state.offset + state.size < len(found), cut


@routes.get("/namespaces/{namespace}/workflows")
async def workflow_list(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    state = ListState.of(request)
    base = request.path
    c = calls(request)
    error = ""
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    next_url = ""
    cut = False
    try:
        counts = await _counts(c, namespace, state.query)
        if state.sort:
            page, more, cut = await _sorted_page(c, namespace, state)
            next_url = state.url(base, offset=state.offset + state.size) if more else ""
        else:
            reply = await c.wf(
                "ListWorkflowExecutions",
                ListWorkflowExecutionsRequest(
                    namespace=namespace,
                    query=state.effective(),
                    page_size=state.size,
                    next_page_token=state.token,
                ),
            )
            page = list(reply.executions)
            if reply.next_page_token:
                token = base64.urlsafe_b64encode(reply.next_page_token).decode()
                next_url = state.url(base, next=token)
        rows = [_row(info) for info in page]
    except grpc.aio.AioRpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        error = e.details() or "invalid query"
    paged = bool(state.token) or state.offset > 0
    return render(
        request,
        "workflows.html",
        status=400 if error else 200,
        state=state,
        base=base,
        rows=rows,
        counts=counts,
        total=sum(counts.values()),
        statuses=STATUSES,
        sorts=SORTS,
        default_size=PAGE_SIZE,
        error=error,
        next_url=next_url,
        first_url=state.url(base) if paged else "",
        cut=cut,
        window=SORT_WINDOW,
        live=any(r["status"] == "Running" for r in rows) and not paged,
    )
