"""List/Count/Scan workflow executions: parse the filter, ask the store, shape replies.

Called by `WorkflowService` with the store, seen only through `VisibilityStore`: the
visibility records are the `executions` rows, written in the same transaction as
every workflow change, so a list sees a change as soon as the RPC that made it has
returned, and any process can answer from the shared database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

from temporalio.api.common.v1 import Payload
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument
from pytemporal.history.workflow.info import execution_info
from pytemporal.history.workflow.state import decode
from pytemporal.namespaces import Namespace
from pytemporal.persistence.api import (
    VisibilityCounts,
    VisibilityCursor,
    VisibilityRow,
)
from pytemporal.visibility import attributes as sa
from pytemporal.visibility import sql
from pytemporal.visibility.query import And, Between, Compare, Expr, OrderItem, Query, parse

MAX_PAGE_SIZE = 1000


class VisibilityStore(Protocol):
    """The two reads of `persistence.api.Store` that visibility needs."""

    async def list_executions(
        self,
        namespace_id: str,
        where: Expr | None,
        *,
        page_size: int,
        after: VisibilityCursor | None = None,
        order_by: Sequence[OrderItem] = (),
    ) -> list[VisibilityRow]: ...

    async def count_executions(
        self, namespace_id: str, where: Expr | None, *, group_by_status: bool = False
    ) -> VisibilityCounts: ...


def parse_filter(ns: Namespace, text: str) -> Query:
    # Relative times in the filter count from the time the query arrives.
    q = parse(text, ns.search_attributes, now=time.time())
    unsupported = sql.unsupported_attributes(q.where)
    if unsupported:
        raise sa.not_supported(f"search attribute {unsupported[0]} is not supported by pytemporal")
    return q


async def list_page(
    store: VisibilityStore,
    ns: Namespace,
    where: Expr | None,
    page_size: int,
    token: bytes,
    order_by: Sequence[OrderItem] = (),
) -> tuple[list[WorkflowExecutionInfo], bytes]:
    """One page of runs matching `where`, and the token of the next page (b"" if none)."""
    size = page_size if 0 < page_size <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
    after = _parse_token(token) if token else None
    if after is not None and bool(after.offset) != bool(order_by):
        raise InvalidArgument("Invalid NextPageToken.")  # a token of another kind of list
    rows = await store.list_executions(
        ns.id, where, page_size=size + 1, after=after, order_by=order_by
    )
    more = len(rows) > size
    rows = rows[:size]
    infos = [_info(ns, r) for r in rows]
    if not more:
        return infos, b""
    if order_by:
        # Sorted pages go by position (a keyset over any attribute would need its values).
        skipped = after.offset if after is not None else 0
        return infos, json.dumps({"offset": skipped + size}).encode()
    return infos, _token(rows[-1].cursor)


async def list_executions(
    store: VisibilityStore, ns: Namespace, req: Any
) -> rr.ListWorkflowExecutionsResponse:
    q = parse_filter(ns, req.query)
    infos, token = await list_page(
        store, ns, q.filter(), req.page_size, req.next_page_token, q.order_by
    )
    return rr.ListWorkflowExecutionsResponse(executions=infos, next_page_token=token)


async def count_executions(
    store: VisibilityStore, ns: Namespace, req: Any
) -> rr.CountWorkflowExecutionsResponse:
    q = parse_filter(ns, req.query)
    grouped = q.group_by is not None
    counts = await store.count_executions(ns.id, q.filter(), group_by_status=grouped)
    resp = rr.CountWorkflowExecutionsResponse(count=counts.total)
    for status, n in counts.by_status.items():
        name = sa.STATUS_BY_VALUE.get(status, str(status))
        resp.groups.append(
            rr.CountWorkflowExecutionsResponse.AggregationGroup(
                group_values=[keyword_payload(name)], count=n
            )
        )
    return resp


def keyword_payload(value: str) -> Payload:
    return Payload(
        metadata={"encoding": b"json/plain", "type": sa.KEYWORD.encode()},
        data=json.dumps(value).encode(),
    )


def _info(ns: Namespace, row: VisibilityRow) -> WorkflowExecutionInfo:
    info = execution_info(decode(row.state))
    # Typed search-attribute decoding in the SDKs needs each payload's `type`.
    for name, payload in info.search_attributes.indexed_fields.items():
        if "type" not in payload.metadata:
            typ = ns.search_attributes.get(name) or sa.PREDEFINED.get(name)
            if typ:
                payload.metadata["type"] = typ.encode()
    return info


def _token(c: VisibilityCursor) -> bytes:
    return json.dumps({"close": c.close_time, "start": c.start_time, "run": c.run_id}).encode()


def _parse_token(data: bytes) -> VisibilityCursor:
    try:
        d = json.loads(data)
        if "offset" in d:
            offset = int(d["offset"])
            if offset <= 0:
                raise ValueError
            return VisibilityCursor(None, 0.0, "", offset=offset)
        close = None if d["close"] is None else float(d["close"])
        return VisibilityCursor(close, float(d["start"]), str(d["run"]))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidArgument("Invalid NextPageToken.") from e


# -- the deprecated ListOpen/ListClosed RPCs: typed filters instead of a query ---------


def _system(name: str) -> sa.Attribute:
    return sa.Attribute(name, sa.SYSTEM[name], system=True)


_LAST_RFC3339_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z


def _filter_time(t: Any) -> float:
    """A filter bound as unix seconds. Temporal does not validate the Timestamp (it
    normalizes nanos and accepts any year from 1), but writes it into a list filter
    as RFC 3339 text, so a time past year 9999 fails as an unparsable datetime."""
    seconds = float(t.seconds + t.nanos / 1e9)
    if seconds >= _LAST_RFC3339_SECOND + 1:
        raise sa.invalid_expression(f"unable to parse datetime '{_rfc3339(seconds)}'")
    return seconds


def _rfc3339(seconds: float) -> str:
    """UTC date-time of any year, as Go formats it (datetime stops at 9999)."""
    whole = int(seconds // 1)
    days, rest = divmod(whole, 86_400)
    # Days to a civil date (H. Hinnant's algorithm), valid for any year.
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    h, m, s = rest // 3600, rest // 60 % 60, rest % 60
    return f"{year:04d}-{month:02d}-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z"


def legacy_filter(req: Any, *, closed: bool) -> Expr:
    """ListOpen/ListClosedWorkflowExecutions filters as an AST. As in Temporal, the
    time filter applies to the start time of open runs and the close time of closed ones."""
    running = sa.STATUS_NAMES["Running"]
    status_op: Any = "!=" if closed else "="
    conds: list[Expr] = [Compare(_system(sa.EXECUTION_STATUS), status_op, running)]
    window = req.start_time_filter
    if window.HasField("earliest_time") or window.HasField("latest_time"):
        latest = _filter_time(window.latest_time) if window.HasField("latest_time") else 0
        conds.append(
            Between(
                _system("CloseTime" if closed else "StartTime"),
                _filter_time(window.earliest_time),
                latest or sql.OPEN_CLOSE_TIME,
            )
        )
    if req.HasField("execution_filter") and req.execution_filter.workflow_id:
        conds.append(Compare(_system("WorkflowId"), "=", req.execution_filter.workflow_id))
    if req.HasField("type_filter") and req.type_filter.name:
        conds.append(Compare(_system("WorkflowType"), "=", req.type_filter.name))
    if closed and req.HasField("status_filter") and req.status_filter.status:
        conds.append(Compare(_system(sa.EXECUTION_STATUS), "=", int(req.status_filter.status)))
    where = conds[0]
    for c in conds[1:]:
        where = And(where, c)
    return where
