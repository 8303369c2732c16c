"""Standalone activity RPCs (`StartActivityExecution` and its family), a mixin of
`WorkflowService`: validate, resolve the namespace and the activity's run, forward to
history's `ActivityExecutions` (`history/public_activities.py`).

List and Count are workflow visibility over the activities' hidden rows
(`history/workflow/standalone.py`), where `ActivityId` and `ActivityType` are the
rows' workflow id and type.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from temporalio.api.activity.v1 import ActivityExecutionListInfo
from temporalio.api.common.v1 import ActivityType
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, Unimplemented
from pytemporal.common.protoutil import copy_present, dur, ts
from pytemporal.frontend import validation, visibility_service
from pytemporal.frontend.errors import handled
from pytemporal.frontend.visibility_service import VisibilityStore, page_token, parse_page_token
from pytemporal.history.public_activities import ActivityExecutions
from pytemporal.history.workflow import standalone
from pytemporal.history.workflow.state import decode
from pytemporal.matching.client import TaskQueuePolls
from pytemporal.matching.queues import TaskRef
from pytemporal.matching.stats import Poller
from pytemporal.namespaces import Namespace, NamespaceRegistry

LONG_POLL = 20.0
# Identifiers of the activities' visibility, as the workflow columns that hold them.
_COLUMNS = {"ActivityId": "WorkflowId", "ActivityType": "WorkflowType"}
# A quoted literal (kept as is) or a bare word (maybe one of the names above).
_TOKENS = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)|(\b\w+\b)""")


def activity_query(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        return _COLUMNS.get(m.group(2), m.group(2))

    return _TOKENS.sub(swap, text)


def _hidden(ns: Namespace) -> Namespace:
    return Namespace(
        id=standalone.row_namespace(ns.id), name=ns.name, search_attributes=ns.search_attributes
    )


def _list_info(ns: Namespace, state: bytes) -> ActivityExecutionListInfo:
    ms = decode(state)
    info = ActivityExecutionListInfo(
        activity_id=ms.workflow_id,
        run_id=ms.run_id,
        activity_type=ActivityType(name=ms.workflow_type),
        schedule_time=ts(ms.start_time),
        status=standalone.status(ms),  # type: ignore[arg-type]
        task_queue=ms.task_queue,
        execution_time=ts(ms.execution_time),
    )
    copy_present(info, ms.started, "search_attributes")
    if ms.close_time:
        info.close_time.CopyFrom(ts(ms.close_time))
        info.execution_duration.CopyFrom(dur(max(0.0, ms.close_time - ms.start_time)))
        info.state_transition_count = ms.db_version
    return info


class ActivityExecutionRPCs:
    """Mixed into `WorkflowService`, whose `namespaces`, `visibility` and `limits` it uses;
    `server.py` sets `activity_executions` (None: the RPCs answer UNIMPLEMENTED)."""

    activity_executions: ActivityExecutions | None = None
    namespaces: NamespaceRegistry
    visibility: VisibilityStore
    matching: TaskQueuePolls

    def _activities(self) -> ActivityExecutions:
        if self.activity_executions is None:
            raise Unimplemented("standalone activities are not enabled on this server")
        return self.activity_executions

    async def _activity_key(self, request: Any) -> tuple[Namespace, Any]:
        ns = self.namespaces.get(request.namespace)
        validation.run_id(request.run_id, validation.RUN_ID_NOT_UUID)
        key = await self._activities().key(ns, request.activity_id, request.run_id)
        return ns, key

    async def _poll_activity(
        self,
        namespace_id: str,
        queue: str,
        timeout: float,
        poller: Poller | None = None,
        version: str = "",
    ) -> TaskRef | None:
        """The next activity task of the queue: a workflow's, or a standalone activity's,
        whose backlog is kept under its hidden row namespace (both polled at once). A
        worker deployment `version` applies to workflows' activities only: standalone
        ones are unversioned."""
        if self.activity_executions is None:
            return await self.matching.poll(
                namespace_id, queue, "activity", timeout, poller, version=version
            )
        polls = [
            asyncio.ensure_future(
                self.matching.poll(ns_id, queue, "activity", timeout, poller, version=v)
            )
            for ns_id, v in (
                (namespace_id, version),
                (standalone.row_namespace(namespace_id), ""),
            )
        ]
        try:
            await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for p in polls:
                p.cancel()
            await asyncio.gather(*polls, return_exceptions=True)
        refs: list[TaskRef] = []
        for p in polls:
            if not p.cancelled() and p.exception() is None and (ref := p.result()) is not None:
                refs.append(ref)
        for extra in refs[1:]:  # both matched at once: the other goes back, first in line
            self.matching.requeue(
                extra, queue, "activity", version if extra.namespace_id == namespace_id else ""
            )
        return refs[0] if refs else None

    @handled
    async def StartActivityExecution(self, request: Any, context: Any) -> Any:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.activity_id, "ActivityId")
        validation.require(request.activity_type.name, "ActivityType")
        if not request.task_queue.name:
            raise InvalidArgument("TaskQueue is not set on request.")
        validation.require(request.request_id, "RequestId")
        validation.search_attributes(ns, request.search_attributes)
        run_id, started = await self._activities().start(ns, request)
        return rr.StartActivityExecutionResponse(run_id=run_id, started=started)

    @handled
    async def DescribeActivityExecution(self, request: Any, context: Any) -> Any:
        _, key = await self._activity_key(request)
        timeout = _remaining(context, LONG_POLL)
        return await self._activities().describe(key, request, timeout)

    @handled
    async def PollActivityExecution(self, request: Any, context: Any) -> Any:
        _, key = await self._activity_key(request)
        return await self._activities().poll(key, _remaining(context, LONG_POLL))

    @handled
    async def RequestCancelActivityExecution(self, request: Any, context: Any) -> Any:
        _, key = await self._activity_key(request)
        await self._activities().request_cancel(key, request.identity)
        return rr.RequestCancelActivityExecutionResponse()

    @handled
    async def TerminateActivityExecution(self, request: Any, context: Any) -> Any:
        _, key = await self._activity_key(request)
        await self._activities().terminate(key, request.identity, request.reason)
        return rr.TerminateActivityExecutionResponse()

    @handled
    async def ListActivityExecutions(self, request: Any, context: Any) -> Any:
        self._activities()
        ns = _hidden(self.namespaces.get(request.namespace))
        q = visibility_service.parse_filter(ns, activity_query(request.query))
        size = request.page_size
        size = size if 0 < size <= visibility_service.MAX_PAGE_SIZE else 1000
        after = parse_page_token(request.next_page_token) if request.next_page_token else None
        rows = await self.visibility.list_executions(
            ns.id, q.filter(), page_size=size + 1, after=after
        )
        more = len(rows) > size
        rows = rows[:size]
        return rr.ListActivityExecutionsResponse(
            executions=[_list_info(ns, r.state) for r in rows],
            next_page_token=page_token(rows[-1].cursor) if more else b"",
        )

    @handled
    async def CountActivityExecutions(self, request: Any, context: Any) -> Any:
        self._activities()
        ns = _hidden(self.namespaces.get(request.namespace))
        req = rr.CountWorkflowExecutionsRequest(query=activity_query(request.query))
        counted = await visibility_service.count_executions(self.visibility, ns, req)
        resp = rr.CountActivityExecutionsResponse(count=counted.count)
        for g in counted.groups:
            resp.groups.append(
                rr.CountActivityExecutionsResponse.AggregationGroup(
                    group_values=g.group_values, count=g.count
                )
            )
        return resp


def _remaining(context: Any, cap: float) -> float:
    left: float | None = context.time_remaining()
    if left is None:
        return cap
    return max(0.0, min(cap, left - min(1.0, left * 0.05)))
