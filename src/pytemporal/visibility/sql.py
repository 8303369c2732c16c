"""A list filter AST -> parameterised SQL over the `executions` table, per dialect.

Pure: builds text and parameter lists, runs nothing. Both stores keep the visibility
fields in the same columns (start/close/execution times as REAL unix seconds, status
as the enum's int) and the search attributes as a JSON object in TEXT, so the
dialects differ only in placeholders, JSON access and casts.

Approximations of Temporal: Text `=` is a case-insensitive substring match instead
of a full-text token match; on SQLite, custom Datetime attributes compare at
millisecond precision (what julianday() keeps).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pytemporal.visibility import attributes as sa
from pytemporal.visibility.attributes import Attribute, Value
from pytemporal.visibility.query import (
    And,
    Between,
    Compare,
    Expr,
    In,
    IsNull,
    Not,
    Or,
    OrderItem,
    StartsWith,
)

DialectName = Literal["sqlite", "postgres"]

_COLUMNS = {
    "WorkflowId": "workflow_id",
    "RunId": "run_id",
    "WorkflowType": "workflow_type",
    "TaskQueue": "task_queue",
    "ExecutionStatus": "status",
    "StartTime": "start_time",
    "ExecutionTime": "execution_time",
    "CloseTime": "close_time",
    "HistoryLength": "history_length",
    "HistorySizeBytes": "history_size_bytes",
    "StateTransitionCount": "state_transition_count",
    "ParentWorkflowId": "parent_workflow_id",
    "ParentRunId": "parent_run_id",
    "RootWorkflowId": "root_workflow_id",
    "RootRunId": "root_run_id",
}
_DURATION_NS = "((close_time - execution_time) * 1e9)"
# System attributes the table has no column for (yet).
UNSUPPORTED = frozenset(sa.SYSTEM) - set(_COLUMNS) - {sa.EXECUTION_DURATION}

# Open runs sort first (as if closing at the end of time), then the newest.
OPEN_CLOSE_TIME = 1e18
SORT_KEY = f"COALESCE(close_time, {OPEN_CLOSE_TIME})"
ORDER_BY = f"{SORT_KEY} DESC, start_time DESC, run_id"
ROW_COLUMNS = "workflow_id, run_id, status, start_time, close_time, state"

# Longer IN lists are bound as one array parameter: a placeholder per value would run
# into the databases' parameter limits (32766 on SQLite, 32767 through asyncpg).
MAX_INLINE_VALUES = 64


def unsupported_attributes(e: Expr | None) -> list[str]:
    """Attributes in `e` this store cannot filter on (the frontend rejects those)."""
    if e is None:
        return []
    if isinstance(e, And | Or):
        return unsupported_attributes(e.left) + unsupported_attributes(e.right)
    if isinstance(e, Not):
        return unsupported_attributes(e.operand)
    return [e.attr.name] if e.attr.name in UNSUPPORTED else []


@dataclass
class Statement:
    dialect: DialectName
    params: list[object] = field(default_factory=list)

    def bind(self, value: object, cast: str = "") -> str:
        """A placeholder for `value`; `cast` is the PostgreSQL type it must be read as."""
        self.params.append(value)
        if self.dialect == "sqlite":
            return "?"
        return f"${len(self.params)}::{cast}" if cast else f"${len(self.params)}"


# -- whole statements ------------------------------------------------------------------


def select_page(
    dialect: DialectName,
    namespace_id: str,
    where: Expr | None,
    *,
    limit: int,
    after: tuple[float | None, float, str] | None,
    order_by: Sequence[OrderItem] = (),
    offset: int = 0,
) -> tuple[str, list[object]]:
    """One page of rows (ROW_COLUMNS) in visibility order, after the keyset `after`
    = (close_time, start_time, run_id) of the previous page's last row. With
    `order_by` (a query's ORDER BY), rows come in that order (missing values last,
    visibility order breaking ties) and pages by `offset` instead."""
    st = Statement(dialect)
    conds = [f"namespace_id = {st.bind(namespace_id, 'text')}"]
    if where is not None:
        conds.append(condition(st, where))
    if order_by:
        keys = [_order_key(st, item) for item in order_by]
        sql = (
            f"SELECT {ROW_COLUMNS} FROM executions WHERE {' AND '.join(conds)}"
            f" ORDER BY {', '.join(keys)}, {ORDER_BY} LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        return sql, st.params
    if after is not None:
        close, start, run_id = after
        key = OPEN_CLOSE_TIME if close is None else close
        k1, k2 = st.bind(key, "float8"), st.bind(key, "float8")
        s1, s2 = st.bind(start, "float8"), st.bind(start, "float8")
        conds.append(
            f"({SORT_KEY} < {k1} OR ({SORT_KEY} = {k2} AND (start_time < {s1}"
            f" OR (start_time = {s2} AND run_id > {st.bind(run_id, 'text')}))))"
        )
    sql = (
        f"SELECT {ROW_COLUMNS} FROM executions WHERE {' AND '.join(conds)}"
        f" ORDER BY {ORDER_BY} LIMIT {int(limit)}"
    )
    return sql, st.params


def _order_key(st: Statement, item: OrderItem) -> str:
    col = _column(st, item.attr)
    # NULLs last in both dialects (they disagree on the default).
    return f"({col} IS NULL), {col} {'DESC' if item.desc else 'ASC'}"


def select_count(
    dialect: DialectName, namespace_id: str, where: Expr | None, *, group_by_status: bool
) -> tuple[str, list[object]]:
    """`SELECT count` (with `status` first when grouped) of the matching rows."""
    st = Statement(dialect)
    conds = [f"namespace_id = {st.bind(namespace_id, 'text')}"]
    if where is not None:
        conds.append(condition(st, where))
    cols = "status, COUNT(*)" if group_by_status else "COUNT(*)"
    sql = f"SELECT {cols} FROM executions WHERE {' AND '.join(conds)}"
    if group_by_status:
        sql += " GROUP BY status ORDER BY status"
    return sql, st.params


# -- conditions --------------------------------------------------------------------------


def condition(st: Statement, e: Expr) -> str:
    """`e` as a boolean SQL expression; its values are appended to `st.params`."""
    if isinstance(e, And | Or):
        # One flat chain per operator run: SQLite's parser has room for only ~100
        # nested parentheses, and chains come here as balanced trees.
        joiner = " AND " if isinstance(e, And) else " OR "
        return f"({joiner.join(condition(st, t) for t in _chain(e))})"
    if isinstance(e, Not):
        # NOT NOT x is x, NULL included: a run of NOTs costs SQLite's parser one level.
        negated = False
        while isinstance(e, Not):
            negated, e = not negated, e.operand
        return f"(NOT {condition(st, e)})" if negated else condition(st, e)
    if isinstance(e, IsNull):
        return f"({_column(st, e.attr)} IS {'NOT ' if e.negated else ''}NULL)"
    if e.attr.type == sa.KEYWORD_LIST:
        return _keyword_list(st, e)
    if e.attr.type == sa.TEXT:
        return _text(st, e)
    return _scalar(st, e)


def _json(values: list[object]) -> str:
    """A JSON array for SQLite's json_each, which reads 9e999 as infinity (Python would
    write the non-JSON `Infinity`)."""

    def one(v: object) -> str:
        if isinstance(v, float) and math.isinf(v):
            return "9e999" if v > 0 else "-9e999"
        return json.dumps(v)

    return f"[{', '.join(one(v) for v in values)}]"


def _chain(e: And | Or) -> list[Expr]:
    """The operands of the run of `type(e)` operators rooted at `e`, in order."""
    out: list[Expr] = []
    todo: list[Expr] = [e]
    while todo:
        t = todo.pop()
        if type(t) is type(e):
            assert isinstance(t, And | Or)
            todo += [t.right, t.left]
        else:
            out.append(t)
    return out


def _scalar(st: Statement, e: Compare | In | Between | StartsWith) -> str:
    col = _column(st, e.attr)
    cast = _cast(e.attr)
    neg = "NOT " if not isinstance(e, Compare) and e.negated else ""
    if isinstance(e, Compare):
        return f"({col} {e.op} {st.bind(_param(st, e.attr, e.value), cast)})"
    if isinstance(e, In):
        values = [_param(st, e.attr, v) for v in e.values]
        if len(values) > MAX_INLINE_VALUES:
            if st.dialect == "postgres":
                arr = st.bind(values, f"{cast}[]")
                return f"({col} <> ALL({arr}))" if neg else f"({col} = ANY({arr}))"
            return f"({col} {neg}IN (SELECT value FROM json_each({st.bind(_json(values))})))"
        marks = ", ".join(st.bind(v, cast) for v in values)
        return f"({col} {neg}IN ({marks}))"
    if isinstance(e, Between):
        low, high = (
            st.bind(_param(st, e.attr, e.low), cast),
            st.bind(_param(st, e.attr, e.high), cast),
        )
        return f"({col} {neg}BETWEEN {low} AND {high})"
    if st.dialect == "postgres":
        return f"({neg}starts_with({col}, {st.bind(e.prefix, 'text')}))"
    n, p = st.bind(len(e.prefix)), st.bind(e.prefix)
    return f"({neg}substr({col}, 1, {n}) = {p})"


def _keyword_list(st: Statement, e: Compare | In | Between | StartsWith) -> str:
    """KeywordList `=`/`IN` mean "contains any of"; `!=`/`NOT IN` "contains none of"."""
    values = [e.value] if isinstance(e, Compare) else list(getattr(e, "values", ()))
    negated = (isinstance(e, Compare) and e.op == "!=") or getattr(e, "negated", False)
    if st.dialect == "postgres":
        path = _json_path(st, e.attr.name)
        arr = st.bind([str(v) for v in values], "text[]")
        contains = f"COALESCE((search_attributes::jsonb -> {path}) ?| {arr}, FALSE)"
    else:
        source = _sqlite_list(st, e.attr.name)
        if len(values) > MAX_INLINE_VALUES:
            marks = f"SELECT value FROM json_each({st.bind(_json(values))})"
        else:
            marks = ", ".join(st.bind(v) for v in values)
        contains = f"EXISTS (SELECT 1 FROM json_each({source}) WHERE value IN ({marks}))"
    return f"(NOT {contains})" if negated else f"({contains})"


def _text(st: Statement, e: Compare | In | Between | StartsWith) -> str:
    assert isinstance(e, Compare) and isinstance(e.value, str)
    col = _column(st, e.attr)
    find = "strpos" if st.dialect == "postgres" else "instr"
    match = f"{find}(lower({col}), lower({st.bind(e.value, 'text')})) > 0"
    return f"(NOT ({match}))" if e.op == "!=" else f"({match})"


def _column(st: Statement, attr: Attribute) -> str:
    if attr.system:
        if attr.name == sa.EXECUTION_DURATION:
            return _DURATION_NS
        return _COLUMNS[attr.name]
    if st.dialect == "sqlite":
        raw = _sqlite_value(st, attr.name)
        if attr.type == sa.DATETIME:
            # julianday() counts whole milliseconds: compare at that precision.
            return f"round((julianday({raw}) - 2440587.5) * 86400.0, 3)"
        return raw
    raw = f"(search_attributes::jsonb ->> {_json_path(st, attr.name)})"
    if attr.type == sa.DATETIME:
        return f"EXTRACT(EPOCH FROM {raw}::timestamptz)::float8"
    if attr.type in (sa.INT, sa.DOUBLE):
        return f"{raw}::float8"
    if attr.type == sa.BOOL:
        return f"{raw}::boolean"
    return raw


def _json_path(st: Statement, name: str) -> str:
    """PostgreSQL: the search attribute's key, as a parameter."""
    return st.bind(name, "text")


def _sqlite_value(st: Statement, name: str) -> str:
    """SQLite: the attribute's value (NULL when absent). A JSON path cannot quote `"`,
    so such a name is looked up by key instead."""
    if '"' in name:
        return f"(SELECT value FROM json_each(search_attributes) WHERE key = {st.bind(name)})"
    return f"json_extract(search_attributes, {st.bind(f'$.{_quoted(name)}')})"


def _sqlite_list(st: Statement, name: str) -> str:
    """SQLite: json_each() arguments iterating a KeywordList attribute's values."""
    if '"' in name:
        return _sqlite_value(st, name)  # an array comes back as JSON text
    return f"search_attributes, {st.bind(f'$.{_quoted(name)}')}"


def _quoted(name: str) -> str:
    return f'"{name}"'


def _cast(attr: Attribute) -> str:
    if attr.name == sa.EXECUTION_STATUS:  # queried by name, stored as the enum's int
        return "float8"
    if attr.type == sa.BOOL:
        return "boolean"
    if attr.type in (sa.INT, sa.DOUBLE, sa.DATETIME):
        return "float8"
    return "text"


def _param(st: Statement, attr: Attribute, v: Value) -> object:
    if st.dialect == "sqlite":
        if attr.type == sa.DATETIME and not attr.system and isinstance(v, float):
            return round(v, 3)  # as the column side (see _column)
        return v
    # asyncpg binds float8 parameters from floats only.
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v
