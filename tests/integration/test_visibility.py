"""List/Count workflow executions through the SDK: filters, grouping, paging, errors.

Every test looks at one batch of six runs tagged with a unique value of a custom
Keyword search attribute: three completed, two running (no worker on their queue),
one terminated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.filter.v1 import StartTimeFilter, WorkflowExecutionFilter
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
    ScanWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from .harness import ServerProcess, is_pytemporal, running_worker, unique, wait_for
from .workflows import HelloWorkflow

BATCH = SearchAttributeKey.for_keyword("PyTemporalVisBatch")


@dataclass
class Batch:
    tag: str
    task_queue: str
    before: datetime
    completed: list[str]
    running: list[str]
    terminated: str

    def query(self, extra: str = "") -> str:
        q = f"{BATCH.name} = '{self.tag}'"
        return f"{q} AND {extra}" if extra else q


async def _register(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={BATCH.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )


async def _ids(client: Client, query: str) -> list[str]:
    return [wf.id async for wf in client.list_workflows(query)]


@pytest.fixture(scope="module")
async def batch(client: Client) -> AsyncIterator[Batch]:
    await _register(client)
    tag, tq, idle_tq = unique("batch"), unique("tq"), unique("idle-tq")
    attrs = TypedSearchAttributes([SearchAttributePair(BATCH, tag)])
    before = datetime.now(UTC) - timedelta(seconds=1)
    b = Batch(tag, tq, before, [], [], "")
    async with running_worker(client, tq, workflows=[HelloWorkflow]):
        for i in range(3):
            handle = await client.start_workflow(
                HelloWorkflow.run,
                f"n{i}",
                id=f"{tag}-done-{i}",
                task_queue=tq,
                search_attributes=attrs,
                memo={"index": i},
            )
            await handle.result()
            b.completed.append(handle.id)
    for i in range(3):
        handle = await client.start_workflow(
            HelloWorkflow.run,
            "idle",
            id=f"{tag}-open-{i}",
            task_queue=idle_tq,
            search_attributes=attrs,
        )
        b.running.append(handle.id)
    b.terminated = b.running.pop()
    await client.get_workflow_handle(b.terminated).terminate("enough")
    # The reference updates its visibility store asynchronously.
    await wait_for(
        lambda: _settled(client, b), within=15, message="visibility caught up with the batch"
    )
    yield b
    for wf_id in b.running:
        await client.get_workflow_handle(wf_id).terminate("cleanup")


async def _settled(client: Client, b: Batch) -> bool:
    closed = await _ids(client, b.query("CloseTime IS NOT NULL"))
    return len(closed) == 4 and len(await _ids(client, b.query())) == 6


async def test_list_filters_by_system_and_custom_attributes(client: Client, batch: Batch) -> None:
    assert sorted(await _ids(client, batch.query())) == sorted(
        [*batch.completed, *batch.running, batch.terminated]
    )
    assert sorted(await _ids(client, batch.query("ExecutionStatus = 'Running'"))) == sorted(
        batch.running
    )
    assert await _ids(client, batch.query("ExecutionStatus = 'Terminated'")) == [batch.terminated]
    assert len(await _ids(client, batch.query("WorkflowType = 'HelloWorkflow'"))) == 6
    assert await _ids(client, batch.query(f"WorkflowId = '{batch.completed[1]}'")) == [
        batch.completed[1]
    ]
    assert sorted(await _ids(client, batch.query(f"TaskQueue = '{batch.task_queue}'"))) == sorted(
        batch.completed
    )
    since = batch.before.isoformat()
    assert len(await _ids(client, batch.query(f"StartTime > '{since}'"))) == 6
    assert await _ids(client, batch.query(f"StartTime < '{since}'")) == []
    assert sorted(
        await _ids(client, batch.query(f"WorkflowId STARTS_WITH '{batch.tag}-open'"))
    ) == (sorted([*batch.running, batch.terminated]))
    in_query = batch.query("ExecutionStatus IN ('Running', 'Terminated')")
    assert len(await _ids(client, in_query)) == 3
    not_query = batch.query("NOT (ExecutionStatus = 'Completed' OR ExecutionStatus = 'Running')")
    assert await _ids(client, not_query) == [batch.terminated]
    assert await _ids(client, f"{BATCH.name} = 'no-such-batch'") == []


async def test_list_returns_open_runs_first_with_full_info(client: Client, batch: Batch) -> None:
    listed = [wf async for wf in client.list_workflows(batch.query())]
    statuses = [wf.status for wf in listed]
    assert statuses[:2] == [WorkflowExecutionStatus.RUNNING] * 2
    assert WorkflowExecutionStatus.RUNNING not in statuses[2:]
    # Closed runs: the most recently closed first.
    closed = [wf for wf in listed if wf.close_time is not None]
    assert [wf.close_time for wf in closed] == sorted(
        (wf.close_time for wf in closed), reverse=True
    )
    done: WorkflowExecution = next(wf for wf in listed if wf.id == batch.completed[0])
    assert done.status == WorkflowExecutionStatus.COMPLETED
    assert done.workflow_type == "HelloWorkflow"
    assert done.task_queue == batch.task_queue
    assert done.history_length >= 5
    assert done.close_time is not None and done.close_time >= done.start_time
    assert done.typed_search_attributes.get(BATCH) == batch.tag
    assert await done.memo_value("index") == 0


async def test_count_and_group_by_execution_status(client: Client, batch: Batch) -> None:
    assert (await client.count_workflows(batch.query())).count == 6
    assert (await client.count_workflows(batch.query("ExecutionStatus = 'Running'"))).count == 2
    grouped = await client.count_workflows(batch.query() + " GROUP BY ExecutionStatus")
    assert grouped.count == 6
    assert sorted((g.group_values[0], g.count) for g in grouped.groups) == [
        ("Completed", 3),
        ("Running", 2),
        ("Terminated", 1),
    ]


async def test_paging_with_small_pages(client: Client, batch: Batch) -> None:
    seen = [wf.id async for wf in client.list_workflows(batch.query(), page_size=2)]
    assert sorted(seen) == sorted([*batch.completed, *batch.running, batch.terminated])

    req = ListWorkflowExecutionsRequest(
        namespace=client.namespace, query=batch.query(), page_size=2
    )
    first = await client.workflow_service.list_workflow_executions(req)
    assert len(first.executions) == 2 and first.next_page_token
    req.next_page_token = first.next_page_token
    second = await client.workflow_service.list_workflow_executions(req)
    assert len(second.executions) == 2
    first_ids = {e.execution.run_id for e in first.executions}
    assert first_ids.isdisjoint(e.execution.run_id for e in second.executions)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("NoSuchAttribute = 'x'", "invalid query: invalid search attribute: NoSuchAttribute"),
        (
            "ExecutionStatus = 'Bogus'",
            "invalid query: invalid expression: invalid ExecutionStatus value 'Bogus'",
        ),
        (
            "WorkflowId = x",
            "invalid query: operation is not supported: column name on the right side of"
            ' comparison expression (did you forget to quote "x"?)',
        ),
        (
            "HistoryLength > 'a'",
            "invalid query: invalid expression: invalid value type for search attribute"
            ' HistoryLength of type Int: "a" (type: string)',
        ),
        (
            "WorkflowId = 'a' AND",
            "invalid query: malformed SQL query: syntax error at position 48",
        ),
        (
            "StartTime > 'yesterday'",
            "invalid query: invalid expression: unable to parse datetime 'yesterday'",
        ),
    ],
)
async def test_bad_queries_are_invalid_arguments(client: Client, query: str, message: str) -> None:
    with pytest.raises(RPCError) as exc_info:
        await _ids(client, query)
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == message
    with pytest.raises(RPCError) as count_exc:
        await client.count_workflows(query)
    assert count_exc.value.message == message


_P = "WorkflowId = 'nothing-matches'"
_MANY_IDS = ",".join(repr(str(i)) for i in range(30_000))


async def _each_visibility_rpc(client: Client, query: str) -> list[tuple[str, object]]:
    """(rpc, status name or "OK") for the query on List, Count and Scan."""
    svc = client.workflow_service
    ns = client.namespace
    calls = {
        "List": lambda: svc.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=ns, query=query)
        ),
        "Count": lambda: svc.count_workflow_executions(
            CountWorkflowExecutionsRequest(namespace=ns, query=query)
        ),
        "Scan": lambda: svc.scan_workflow_executions(
            ScanWorkflowExecutionsRequest(namespace=ns, query=query)
        ),
    }
    out: list[tuple[str, object]] = []
    for name, call in calls.items():
        try:
            await call()
            out.append((name, "OK"))
        except RPCError as e:
            out.append((name, (e.status.name, e.message)))
    return out


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * 200 + _P + ")" * 200, "max nesting level reached at position 228"),
        ("NOT " * 5000 + _P, "max nesting level reached at position 827 near 'not'"),
        (" OR ".join([_P] * 996), "max ast depth reached"),
        (" AND ".join([_P] * 5_000), "max ast depth reached"),
    ],
)
async def test_queries_past_the_parser_limits(client: Client, query: str, message: str) -> None:
    error = ("INVALID_ARGUMENT", f"invalid query: malformed SQL query: {message}")
    assert await _each_visibility_rpc(client, query) == [
        ("List", error),
        ("Count", error),
        ("Scan", error),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "(" * 199 + _P + ")" * 199,
        "NOT (" * 99 + _P + ")" * 99,
        " OR ".join([_P] * 995),
        " AND ".join(["NOT " + _P] * 994),
        f"WorkflowId IN ({_MANY_IDS})",
        f"WorkflowId NOT IN ({_MANY_IDS}) AND {_P}",
    ],
)
async def test_largest_queries_are_answered(client: Client, query: str) -> None:
    assert await _each_visibility_rpc(client, query) == [
        ("List", "OK"),
        ("Count", "OK"),
        ("Scan", "OK"),
    ]


async def test_query_length_limit(client: Client, server: ServerProcess) -> None:
    if not is_pytemporal(server.kind):
        pytest.skip("a pytemporal limit (Temporal parses up to the gRPC message size)")
    query = f"WorkflowId = '{'x' * 300_000}'"
    error = (
        "INVALID_ARGUMENT",
        f"invalid query: query is {len(query)} characters long, more than the maximum of 262144",
    )
    assert await _each_visibility_rpc(client, query) == [
        ("List", error),
        ("Count", error),
        ("Scan", error),
    ]


async def test_group_by_other_than_status_is_rejected(client: Client) -> None:
    with pytest.raises(RPCError) as exc_info:
        await client.count_workflows("GROUP BY WorkflowType")
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == (
        "invalid query: operation is not supported: 'GROUP BY' clause is not supported for"
        " search attribute WorkflowType"
    )


async def test_scan_and_the_deprecated_open_closed_lists(client: Client, batch: Batch) -> None:
    svc = client.workflow_service
    scan = await svc.scan_workflow_executions(
        ScanWorkflowExecutionsRequest(namespace=client.namespace, query=batch.query())
    )
    assert len(scan.executions) == 6
    running_id = batch.running[0]
    open_resp = await svc.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(
            namespace=client.namespace,
            maximum_page_size=10,
            execution_filter=WorkflowExecutionFilter(workflow_id=running_id),
        )
    )
    assert [e.execution.workflow_id for e in open_resp.executions] == [running_id]
    done_id = batch.completed[0]
    closed_resp = await svc.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace=client.namespace,
            maximum_page_size=10,
            execution_filter=WorkflowExecutionFilter(workflow_id=done_id),
        )
    )
    assert [e.execution.workflow_id for e in closed_resp.executions] == [done_id]
    assert closed_resp.executions[0].status == WorkflowExecutionStatus.COMPLETED.value
    not_closed = await svc.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace=client.namespace,
            maximum_page_size=10,
            execution_filter=WorkflowExecutionFilter(workflow_id=running_id),
        )
    )
    assert list(not_closed.executions) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("HistoryLength > 99999999999999999999999", None),  # a float64 past int64
        ("ExecutionDuration > '-5s'", None),
        (
            "ExecutionDuration > '999999999999h'",
            "invalid query: invalid expression: invalid duration value for search attribute"
            " ExecutionDuration: 999999999999h",
        ),
        (
            "ExecutionDuration > 99999999999999999999999",
            "invalid query: invalid expression: unexpected value type float64 for search"
            " attribute ExecutionDuration",
        ),
        (
            "StartTime > 99999999999999999999999",
            "invalid query: invalid expression: invalid value type for search attribute"
            " StartTime of type Datetime: 1e+23 (type: float64)",
        ),
    ],
)
async def test_literals_past_int64(client: Client, query: str, message: str | None) -> None:
    """Found by the fuzz: these answered INTERNAL (SQLite cannot bind such integers)."""
    expected: object = "OK" if message is None else ("INVALID_ARGUMENT", message)
    assert await _each_visibility_rpc(client, query) == [
        ("List", expected),
        ("Count", expected),
        ("Scan", expected),
    ]


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        ({"latest_time": Timestamp(seconds=1, nanos=-5)}, None),
        ({"earliest_time": Timestamp(seconds=-62_135_596_801)}, None),
        (
            {"latest_time": Timestamp(seconds=253_402_300_800)},
            "invalid query: invalid expression: unable to parse datetime '10000-01-01T00:00:00Z'",
        ),
    ],
)
async def test_legacy_list_time_filters_out_of_timestamp_range(
    client: Client, bound: dict[str, Timestamp], message: str | None
) -> None:
    """Found by the fuzz: Timestamps outside protobuf's valid range answered INTERNAL."""
    svc = client.workflow_service
    window = StartTimeFilter(**bound)  # type: ignore[arg-type]
    for call in (
        lambda: svc.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(namespace=client.namespace, start_time_filter=window)
        ),
        lambda: svc.list_closed_workflow_executions(
            ListClosedWorkflowExecutionsRequest(
                namespace=client.namespace, start_time_filter=window
            )
        ),
    ):
        if message is None:
            await call()
            continue
        with pytest.raises(RPCError) as exc_info:
            await call()
        assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert exc_info.value.message == message
