"""list_executions / count_executions: list filters compiled for each backend's SQL."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pytemporal.persistence.api import Mutation, Store, VisibilityCounts
from pytemporal.visibility.attributes import InvalidQuery
from pytemporal.visibility.query import parse

from .backends import Backend
from .helpers import COMPLETED, NS, RUNNING, create

FAILED = 3
CUSTOM = {
    "CKw": "Keyword",
    "CText": "Text",
    "CInt": "Int",
    "CDouble": "Double",
    "CBool": "Bool",
    "CDt": "Datetime",
    "CKwl": "KeywordList",
}


def _run(
    wf: str,
    *,
    status: int = RUNNING,
    start: float,
    close: float | None = None,
    wf_type: str = "A",
    tq: str = "q1",
    attrs: dict[str, object] | None = None,
    namespace: str = NS,
) -> Mutation:
    m = create(wf, f"run-{wf}", mode=None)
    m.namespace_id = namespace
    m.status = status
    m.start_time = start
    m.execution_time = start + 1
    m.close_time = close
    m.workflow_type = wf_type
    m.task_queue = tq
    m.next_event_id = 10 if close else 3
    m.search_attributes = json.dumps(attrs or {})
    return m


ROWS = [
    _run(
        "w1",
        start=1000,
        attrs={
            "CKw": "red",
            "CInt": 5,
            "CDouble": 1.5,
            "CBool": True,
            "CDt": "2024-01-01T00:00:00Z",
            "CKwl": ["x", "y"],
            "CText": "Hello big World",
        },
    ),
    _run(
        "w2",
        status=COMPLETED,
        start=1100,
        close=2000,
        wf_type="B",
        tq="q2",
        attrs={
            "CKw": "blue",
            "CInt": 10,
            "CBool": False,
            "CDt": "2024-06-01T12:00:00.5+02:00",
            "CKwl": ["y", "z"],
        },
    ),
    _run("w3", status=FAILED, start=900, close=3000),
    _run("w4", start=1200, wf_type="B", attrs={"TemporalNamespaceDivision": "TemporalScheduler"}),
    _run("w5", start=1300, attrs={"CKw": "reddish"}),
    _run("other-ns", start=1000, namespace="another-namespace", attrs={"CKw": "red"}),
]


@pytest.fixture
async def filled(store: Store) -> Store:
    await store.commit(ROWS)
    return store


async def _ids(store: Store, query: str) -> list[str]:
    rows = await store.list_executions(NS, parse(query, CUSTOM).filter(), page_size=100)
    return [r.workflow_id for r in rows]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["w5", "w1", "w3", "w2"]),
        ("WorkflowId = 'w2'", ["w2"]),
        ("WorkflowId != 'w2'", ["w5", "w1", "w3"]),
        ("RunId = 'run-w3'", ["w3"]),
        ("WorkflowType = 'B'", ["w2"]),
        ("TaskQueue = 'q2'", ["w2"]),
        ("ExecutionStatus = 'Running'", ["w5", "w1"]),
        ("ExecutionStatus != 'Running'", ["w3", "w2"]),
        ("ExecutionStatus IN ('Failed', 'Completed')", ["w3", "w2"]),
        ("ExecutionStatus = 3", ["w3"]),
        ("StartTime > '1970-01-01T00:16:40Z'", ["w5", "w2"]),  # 1000 s
        ("StartTime >= '1970-01-01T00:16:40Z'", ["w5", "w1", "w2"]),
        ("StartTime BETWEEN '1970-01-01T00:15:00Z' AND '1970-01-01T00:17:00Z'", ["w1", "w3"]),
        ("StartTime NOT BETWEEN 1000000000000 AND 1100000000000", ["w5", "w3"]),
        ("ExecutionTime = '1970-01-01T00:16:41Z'", ["w1"]),
        ("CloseTime IS NULL", ["w5", "w1"]),
        ("CloseTime IS NOT NULL", ["w3", "w2"]),
        ("CloseTime > '1970-01-01T00:40:00Z'", ["w3"]),
        ("HistoryLength > 5", ["w3", "w2"]),
        ("ExecutionDuration > '30m'", ["w3"]),
        ("ExecutionDuration < 1000000000000", ["w2"]),
        ("WorkflowId STARTS_WITH 'w'", ["w5", "w1", "w3", "w2"]),
        ("WorkflowId NOT STARTS_WITH 'w1'", ["w5", "w3", "w2"]),
        ("CKw = 'red'", ["w1"]),
        ("CKw != 'red'", ["w5", "w2"]),
        ("CKw STARTS_WITH 'red'", ["w5", "w1"]),
        ("CKw > 'blue'", ["w5", "w1"]),
        ("CKw IS NULL", ["w3"]),
        ("CKw IS NOT NULL", ["w5", "w1", "w2"]),
        ("CKw IN ('blue', 'reddish')", ["w5", "w2"]),
        ("CKw NOT IN ('blue', 'reddish')", ["w1"]),
        ("CInt = 5", ["w1"]),
        ("CInt > 5", ["w2"]),
        ("CInt BETWEEN 4 AND 10", ["w1", "w2"]),
        ("CInt = 5.0", ["w1"]),
        ("CDouble < 2", ["w1"]),
        ("CBool = true", ["w1"]),
        ("CBool = false", ["w2"]),
        ("CDt > '2024-03-01T00:00:00Z'", ["w2"]),
        ("CDt = '2024-06-01T10:00:00.5Z'", ["w2"]),
        ("CDt < '2024-01-01T00:00:01+00:00'", ["w1"]),
        ("CKwl = 'x'", ["w1"]),
        ("CKwl = 'y'", ["w1", "w2"]),
        ("CKwl IN ('x', 'z')", ["w1", "w2"]),
        ("CKwl != 'x'", ["w5", "w3", "w2"]),
        ("CKwl NOT IN ('x', 'z')", ["w5", "w3"]),
        ("CText = 'big'", ["w1"]),
        ("CText = 'WORLD'", ["w1"]),
        ("CText != 'big'", []),
        ("CKw = 'red' OR CKw = 'blue'", ["w1", "w2"]),
        ("CKw = 'red' AND WorkflowType = 'B'", []),
        ("NOT CKw = 'red'", ["w5", "w2"]),
        ("(CKw = 'red' OR CInt = 10) AND ExecutionStatus = 'Completed'", ["w2"]),
        ("TemporalNamespaceDivision = 'TemporalScheduler'", ["w4"]),
        ("NamespaceDivision IS NOT NULL", ["w4"]),
    ],
)
async def test_filters(filled: Store, query: str, expected: list[str]) -> None:
    assert await _ids(filled, query) == expected


async def test_rows_carry_state_and_sort_key(filled: Store) -> None:
    rows = await filled.list_executions(
        NS, parse("WorkflowId = 'w2'", CUSTOM).filter(), page_size=5
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row.run_id, row.status, row.start_time, row.close_time) == (
        "run-w2",
        COMPLETED,
        1100.0,
        2000.0,
    )
    assert row.state == b"state v1 run-w2"


async def test_pages_follow_the_cursor(filled: Store) -> None:
    where = parse("", CUSTOM).filter()
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await filled.list_executions(NS, where, page_size=1, after=after)
        if not page:
            break
        seen += [r.workflow_id for r in page]
        after = page[-1].cursor
    assert seen == ["w5", "w1", "w3", "w2"]


async def test_runs_with_equal_times_page_by_run_id(store: Store) -> None:
    await store.commit([_run(f"same-{i}", start=500) for i in range(5)])
    where = parse("WorkflowId STARTS_WITH 'same-'", CUSTOM).filter()
    first = await store.list_executions(NS, where, page_size=3)
    rest = await store.list_executions(NS, where, page_size=3, after=first[-1].cursor)
    assert [r.workflow_id for r in first + rest] == [f"same-{i}" for i in range(5)]


async def test_counts(filled: Store) -> None:
    where = parse("", CUSTOM).filter()
    assert await filled.count_executions(NS, where) == VisibilityCounts(total=4)
    assert await filled.count_executions(NS, where, group_by_status=True) == VisibilityCounts(
        total=4, by_status={RUNNING: 2, COMPLETED: 1, FAILED: 1}
    )
    none = parse("CKw = 'nothing'", CUSTOM).filter()
    assert await filled.count_executions(NS, none, group_by_status=True) == VisibilityCounts(0)
    assert await filled.count_executions(NS, None) == VisibilityCounts(total=5)


# -- the largest queries the parser accepts run on both databases -------------------------

_MANY = 33_000  # past both databases' parameter limits, were each value a placeholder


def _values(prefix: str, n: int = _MANY) -> str:
    return ",".join(f"'{prefix}{i}'" for i in range(n))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"WorkflowId IN ({_values('')},'w2')", ["w2"]),
        (f"WorkflowId NOT IN ({_values('')},'w2')", ["w5", "w1", "w3"]),
        (f"CInt IN ({','.join(str(i + 100) for i in range(_MANY))},5)", ["w1"]),
        (f"ExecutionStatus IN ({','.join(['3'] * 100)})", ["w3"]),
        (f"CBool IN ({','.join(['true'] * 100)})", ["w1"]),
        (f"CKwl IN ({_values('')},'z')", ["w2"]),
        (f"CKwl NOT IN ({_values('')},'z')", ["w5", "w1", "w3"]),
        (" OR ".join(["CKw = 'nothing'"] * 994 + ["WorkflowId = 'w3'"]), ["w3"]),
        (" AND ".join(["CloseTime IS NOT NULL"] * 994 + ["WorkflowId = 'w3'"]), ["w3"]),
        ("(" * 199 + "WorkflowId = 'w1'" + ")" * 199, ["w1"]),
        ("(CKw = 'no' OR " * 15 + "WorkflowId = 'w1'" + ")" * 15, ["w1"]),
        ("(CKw = 'no' OR CKw = 'no' AND " * 10 + "WorkflowId = 'w1'" + ")" * 10, []),
        ("NOT (" * 20 + "WorkflowId = 'w1'" + ")" * 20, ["w1"]),
    ],
)  # fmt: skip
async def test_largest_queries(filled: Store, query: str, expected: list[str]) -> None:
    assert await _ids(filled, query) == expected
    where = parse(query, CUSTOM).filter()
    assert await filled.count_executions(NS, where) == VisibilityCounts(total=len(expected))


async def test_nesting_past_sqlite_parser_is_an_invalid_query(
    filled: Store, backend: Backend
) -> None:
    """SQLite (before 3.46) parses ~100 nested parentheses; PostgreSQL far more."""
    query = "(CKw = 'no' OR CKw = 'no' AND " * 60 + "WorkflowId = 'w1'" + ")" * 60
    if not backend.id.startswith("sqlite") or sqlite3.sqlite_version_info >= (3, 46):
        assert await _ids(filled, query) == []
        return
    with pytest.raises(InvalidQuery, match="^invalid query: query is too complex for the SQLite"):
        await _ids(filled, query)
    with pytest.raises(InvalidQuery, match="too complex"):
        await filled.count_executions(NS, parse(query, CUSTOM).filter())
