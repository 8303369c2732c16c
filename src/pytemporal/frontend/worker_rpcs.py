"""RecordWorkerHeartbeat, ListWorkers, CountWorkers, DescribeWorker: a mixin of
`WorkflowService` over matching's `WorkerRegistry`. In a cluster every call of a
namespace is routed to one process (`routing.WORKERS_QUEUE`), so that one registry
holds the namespace's workers.

ListWorkers filters with Temporal's worker query language
(`service/matching/workers/worker_query_engine.go`): the columns below, compared with
`=`, `!=`, `<`, `>`, `<=`, `>=`, `IN`, `STARTS_WITH` (`IN` beyond Temporal), joined by AND / OR / NOT."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.worker.v1 import WorkerHeartbeat, WorkerInfo, WorkerListInfo
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.frontend.errors import handled
from pytemporal.visibility.lexer import tokenize
from pytemporal.visibility.rawquery import (
    Col,
    Lit,
    Predicate,
    RawAnd,
    RawExpr,
    RawNot,
    RawOr,
    parse_raw,
)

if TYPE_CHECKING:
    from pytemporal.matching.workers import WorkerRegistry
    from pytemporal.namespaces import NamespaceRegistry

_STRING_COLUMNS: dict[str, Callable[[WorkerHeartbeat], str]] = {
    "WorkerInstanceKey": lambda hb: hb.worker_instance_key,
    "WorkerIdentity": lambda hb: hb.worker_identity,
    "HostName": lambda hb: hb.host_info.host_name,
    "TaskQueue": lambda hb: hb.task_queue,
    "DeploymentName": lambda hb: hb.deployment_version.deployment_name,
    "BuildId": lambda hb: hb.deployment_version.build_id,
    "SdkName": lambda hb: hb.sdk_name,
    "SdkVersion": lambda hb: hb.sdk_version,
    # By the enum's full name, as Temporal: WorkerStatus = 'WORKER_STATUS_RUNNING'.
    "WorkerStatus": lambda hb: WorkerStatus.Name(hb.status),
    "status": lambda hb: WorkerStatus.Name(hb.status),
}
_TIME_COLUMNS: dict[str, Callable[[WorkerHeartbeat], datetime]] = {
    "StartTime": lambda hb: hb.start_time.ToDatetime(tzinfo=UTC),
    "HeartbeatTime": lambda hb: hb.heartbeat_time.ToDatetime(tzinfo=UTC),
}


def _bad(reason: str) -> InvalidArgument:
    return InvalidArgument(f"invalid expression: {reason}")


def _operand(column: str, lit: Any) -> Any:
    if not isinstance(lit, Lit) or lit.value is None:
        raise _bad(f"{column} must be compared with a value")
    value = lit.value
    if column in _TIME_COLUMNS:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as e:
            raise _bad(f"invalid time for {column}: {value}") from e
    return str(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    match op:
        case "=":
            return bool(left == right)
        case "!=":
            return bool(left != right)
        case "<":
            return bool(left < right)
        case ">":
            return bool(left > right)
        case "<=":
            return bool(left <= right)
        case ">=":
            return bool(left >= right)
    raise _bad(f"operator {op} is not supported")


def _predicate(p: Predicate) -> Callable[[WorkerHeartbeat], bool]:
    if not isinstance(p.left, Col):
        raise _bad("the left side must be a column")
    column = p.left.name.strip("`")
    get: Callable[[WorkerHeartbeat], Any]
    if column in _STRING_COLUMNS:
        get = _STRING_COLUMNS[column]
    elif column in _TIME_COLUMNS:
        get = _TIME_COLUMNS[column]
    else:
        return lambda hb: False  # as Temporal: a column it does not know matches nothing
    values = [_operand(column, o) for o in p.right]
    if p.op in ("IN", "NOT IN"):
        keep = p.op == "IN"
        return lambda hb: (get(hb) in values) == keep
    if p.op == "STARTS_WITH":
        return lambda hb: str(get(hb)).startswith(values[0])
    if len(values) != 1:
        raise _bad(f"operator {p.op} is not supported")
    return lambda hb: _compare(p.op, get(hb), values[0])


def _matcher(e: RawExpr) -> Callable[[WorkerHeartbeat], bool]:
    if isinstance(e, RawAnd):
        left, right = _matcher(e.left), _matcher(e.right)
        return lambda hb: left(hb) and right(hb)
    if isinstance(e, RawOr):
        left, right = _matcher(e.left), _matcher(e.right)
        return lambda hb: left(hb) or right(hb)
    if isinstance(e, RawNot):
        inner = _matcher(e.operand)
        return lambda hb: not inner(hb)
    if isinstance(e, Predicate):
        return _predicate(e)
    raise _bad("a condition was expected")


def worker_filter(query: str) -> Callable[[WorkerHeartbeat], bool]:
    """The heartbeats a ListWorkers/CountWorkers query keeps (all when it is empty)."""
    if not query.strip():
        return lambda hb: True
    raw = parse_raw(tokenize(query))
    if raw.where is None or raw.group_by or raw.order_by or raw.limit:
        raise InvalidArgument("operation is not supported: only a filter is allowed")
    return _matcher(raw.where)


def list_info(hb: WorkerHeartbeat) -> WorkerListInfo:
    return WorkerListInfo(
        worker_instance_key=hb.worker_instance_key,
        worker_identity=hb.worker_identity,
        task_queue=hb.task_queue,
        deployment_version=hb.deployment_version,
        sdk_name=hb.sdk_name,
        sdk_version=hb.sdk_version,
        status=hb.status,
        start_time=hb.start_time,
        host_name=hb.host_info.host_name,
        worker_grouping_key=hb.host_info.worker_grouping_key,
        process_id=hb.host_info.process_id,
        plugins=hb.plugins,
    )


def _page(
    workers: list[WorkerHeartbeat], size: int, token: bytes
) -> tuple[list[WorkerHeartbeat], bytes]:
    """Temporal's paging: by instance key, the token naming the last one returned."""
    if not size and not token:
        return workers, b""
    workers.sort(key=lambda hb: hb.worker_instance_key)
    if token:
        try:
            after = json.loads(base64.b64decode(token, validate=True))["last"]
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidArgument("invalid next_page_token") from e
        workers = [hb for hb in workers if hb.worker_instance_key > after]
    page = workers[:size] if size > 0 else workers
    more = len(page) < len(workers)
    next_token = (
        base64.b64encode(json.dumps({"last": page[-1].worker_instance_key}).encode())
        if more
        else b""
    )
    return page, next_token


class WorkerRpcs:
    namespaces: NamespaceRegistry
    workers: WorkerRegistry

    @handled
    async def RecordWorkerHeartbeat(
        self, request: Any, context: Any
    ) -> rr.RecordWorkerHeartbeatResponse:
        ns = self.namespaces.get(request.namespace)
        self.workers.record(ns.id, list(request.worker_heartbeat))
        return rr.RecordWorkerHeartbeatResponse()

    @handled
    async def ListWorkers(self, request: Any, context: Any) -> rr.ListWorkersResponse:
        ns = self.namespaces.get(request.namespace)
        keep = worker_filter(request.query)
        found = [hb for hb in self.workers.all(ns.id) if keep(hb)]
        page, token = _page(found, request.page_size, request.next_page_token)
        return rr.ListWorkersResponse(
            workers_info=[WorkerInfo(worker_heartbeat=hb) for hb in page],
            workers=[list_info(hb) for hb in page],
            next_page_token=token,
        )

    @handled
    async def CountWorkers(self, request: Any, context: Any) -> rr.CountWorkersResponse:
        ns = self.namespaces.get(request.namespace)
        keep = worker_filter(request.query)
        return rr.CountWorkersResponse(count=sum(1 for hb in self.workers.all(ns.id) if keep(hb)))

    @handled
    async def DescribeWorker(self, request: Any, context: Any) -> rr.DescribeWorkerResponse:
        ns = self.namespaces.get(request.namespace)
        hb = self.workers.get(ns.id, request.worker_instance_key)
        if hb is None:
            raise NotFound(f"Worker {request.worker_instance_key} not found")
        return rr.DescribeWorkerResponse(worker_info=WorkerInfo(worker_heartbeat=hb))
