"""The SQL compiler's text and parameters (results are checked per backend in
tests/persistence/test_visibility.py)."""

from __future__ import annotations

import sqlite3

from pytemporal.visibility import sql
from pytemporal.visibility.query import parse

CUSTOM = {"CKw": "Keyword", "CKwl": "KeywordList", "CInt": "Int", "Odd\"Name'": "Keyword"}


def compile_(dialect: sql.DialectName, text: str) -> tuple[str, list[object]]:
    st = sql.Statement(dialect)
    where = parse(text, CUSTOM).where
    assert where is not None
    return sql.condition(st, where), st.params


def test_sqlite_uses_question_marks_and_json_extract() -> None:
    text, params = compile_("sqlite", "WorkflowType = 'A' AND CKw IN ('x', 'y')")
    assert text == "((workflow_type = ?) AND (json_extract(search_attributes, ?) IN (?, ?)))"
    assert params == ["A", '$."CKw"', "x", "y"]


def test_postgres_numbers_parameters_and_casts() -> None:
    text, params = compile_("postgres", "ExecutionStatus = 'Running' OR CInt > 3")
    assert text == (
        "((status = $1::float8) OR ((search_attributes::jsonb ->> $2::text)::float8 > $3::float8))"
    )
    assert params == [1.0, "CInt", 3.0]


def test_keyword_list_means_contains_any() -> None:
    text, params = compile_("sqlite", "CKwl NOT IN ('a', 'b')")
    assert text == (
        "(NOT EXISTS (SELECT 1 FROM json_each(search_attributes, ?) WHERE value IN (?, ?)))"
    )
    assert params == ['$."CKwl"', "a", "b"]
    text, params = compile_("postgres", "CKwl = 'a'")
    assert text == "(COALESCE((search_attributes::jsonb -> $1::text) ?| $2::text[], FALSE))"
    assert params == ["CKwl", ["a"]]


def test_names_are_parameters_never_sql_text() -> None:
    text, params = compile_("sqlite", "`Odd\"Name'` = 'v'")
    assert "Odd" not in text
    db = sqlite3.connect(":memory:")
    try:
        sa_json = '{"Odd\\"Name\'": "v", "CKw": "w"}'
        match = db.execute(
            f"SELECT {text} FROM (SELECT ? AS search_attributes)", [*params, sa_json]
        )
        assert match.fetchone() == (1,)
    finally:
        db.close()


def test_select_page_keyset_after_an_open_run() -> None:
    text, params = sql.select_page("sqlite", "ns", None, limit=3, after=(None, 10.0, "r"))
    assert text.endswith(f"ORDER BY {sql.ORDER_BY} LIMIT 3")
    assert params == ["ns", sql.OPEN_CLOSE_TIME, sql.OPEN_CLOSE_TIME, 10.0, 10.0, "r"]


def test_select_count_groups_by_status() -> None:
    text, params = sql.select_count("postgres", "ns", None, group_by_status=True)
    assert text == (
        "SELECT status, COUNT(*) FROM executions WHERE namespace_id = $1::text"
        " GROUP BY status ORDER BY status"
    )
    assert params == ["ns"]


def test_every_system_attribute_has_a_column() -> None:
    q = parse("ParentWorkflowId = 'p' OR NOT RootRunId IS NULL OR CKw = 'x'", CUSTOM)
    assert sql.unsupported_attributes(q.where) == []
    text, params = compile_(
        "sqlite",
        "ParentRunId = 'r' AND RootWorkflowId = 'w' AND HistorySizeBytes > 10"
        " AND StateTransitionCount >= 2",
    )
    assert text == (
        "((parent_run_id = ?) AND (root_workflow_id = ?) AND (history_size_bytes > ?)"
        " AND (state_transition_count >= ?))"
    )
    assert params == ["r", "w", 10, 2]


def test_chains_are_flat_and_not_runs_collapse() -> None:
    """Kept shallow for SQLite's parser, which holds ~100 nested parentheses."""
    text, _ = compile_("sqlite", " OR ".join(["WorkflowId = 'a'"] * 8))
    assert text == f"({' OR '.join(['(workflow_id = ?)'] * 8)})"
    text, _ = compile_("sqlite", "NOT NOT NOT CInt = 1")
    assert text == "(NOT (json_extract(search_attributes, ?) = ?))"
    assert compile_("sqlite", "NOT (NOT CInt = 1)")[0] == "(json_extract(search_attributes, ?) = ?)"


def test_long_in_lists_are_one_array_parameter() -> None:
    values = ",".join(str(i) for i in range(sql.MAX_INLINE_VALUES + 1))
    text, params = compile_("sqlite", f"CInt NOT IN ({values})")
    assert text == ("(json_extract(search_attributes, ?) NOT IN (SELECT value FROM json_each(?)))")
    assert params[1] == f"[{values.replace(',', ', ')}]"
    text, params = compile_("postgres", f"CInt IN ({values})")
    assert text == "((search_attributes::jsonb ->> $1::text)::float8 = ANY($2::float8[]))"
    assert params[1] == [float(i) for i in range(sql.MAX_INLINE_VALUES + 1)]


def test_order_by_sorts_missing_values_last_and_pages_by_offset() -> None:
    q = parse("WorkflowType = 'A' ORDER BY CInt DESC, StartTime", CUSTOM)
    for dialect in ("sqlite", "postgres"):
        text, _ = sql.select_page(
            dialect, "ns", q.where, limit=3, after=None, order_by=q.order_by, offset=6
        )
        assert "(start_time IS NULL), start_time ASC" in text
        assert text.endswith(f", {sql.ORDER_BY} LIMIT 3 OFFSET 6")
        assert " IS NULL), " in text.split("ORDER BY")[1]
