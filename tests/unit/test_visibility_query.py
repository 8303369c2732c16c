"""The list filter parser: AST shapes, value conversion, and Temporal's error messages.

Every error message below was read from Temporal's dev server (CLI 1.9.1, server 1.32).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pytemporal.common.errors import InvalidArgument
from pytemporal.visibility.attributes import Attribute, InvalidQuery, parse_datetime
from pytemporal.visibility.query import (
    And,
    Between,
    Compare,
    In,
    IsNull,
    Not,
    Or,
    Query,
    StartsWith,
    parse,
)

CUSTOM = {
    "CKw": "Keyword",
    "CText": "Text",
    "CInt": "Int",
    "CDouble": "Double",
    "CBool": "Bool",
    "CDt": "Datetime",
    "CKwl": "KeywordList",
}
WF_ID = Attribute("WorkflowId", "Keyword", system=True)
STATUS = Attribute("ExecutionStatus", "Keyword", system=True)
START = Attribute("StartTime", "Datetime", system=True)
CKW = Attribute("CKw", "Keyword", system=False)
CINT = Attribute("CInt", "Int", system=False)
CBOOL = Attribute("CBool", "Bool", system=False)
CDT = Attribute("CDt", "Datetime", system=False)
DIVISION = Attribute("TemporalNamespaceDivision", "Keyword", system=False)


def where(text: str) -> object:
    return parse(text, CUSTOM).where


# -- shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WorkflowId = 'a'", Compare(WF_ID, "=", "a")),
        ('WorkflowId = "a"', Compare(WF_ID, "=", "a")),
        ("`WorkflowId` = 'a'", Compare(WF_ID, "=", "a")),
        ("WorkflowId != 'a'", Compare(WF_ID, "!=", "a")),
        ("WorkflowId <> 'a'", Compare(WF_ID, "!=", "a")),
        ("WorkflowId < 'a'", Compare(WF_ID, "<", "a")),
        ("WorkflowId >= 'a'", Compare(WF_ID, ">=", "a")),
        ("WorkflowId IN ('a', 'b')", In(WF_ID, ("a", "b"))),
        ("WorkflowId not in ('a')", In(WF_ID, ("a",), negated=True)),
        ("WorkflowId BETWEEN 'a' AND 'b'", Between(WF_ID, "a", "b")),
        ("WorkflowId NOT BETWEEN 'a' AND 'b'", Between(WF_ID, "a", "b", negated=True)),
        ("WorkflowId STARTS_WITH 'a'", StartsWith(WF_ID, "a")),
        ("WorkflowId NOT STARTS_WITH 'a'", StartsWith(WF_ID, "a", negated=True)),
        ("WorkflowId IS NULL", IsNull(WF_ID)),
        ("WorkflowId is not null", IsNull(WF_ID, negated=True)),
        ("CKw = 'it''s'", Compare(CKW, "=", "it's")),
        ("CKw = 'it\\'s'", Compare(CKW, "=", "it's")),
        ('CKw = "say \\"hi\\""', Compare(CKW, "=", 'say "hi"')),
        ("CInt = -3", Compare(CINT, "=", -3)),
        ("CInt > +3", Compare(CINT, ">", 3)),
        ("CInt = 1.5", Compare(CINT, "=", 1.5)),
        ("CBool = TRUE", Compare(CBOOL, "=", True)),
        ("CBool != false", Compare(CBOOL, "!=", False)),
        ("ScheduleId = 'a'", Compare(WF_ID, "=", "a")),
        ("TemporalWorkflowId = 'a'", Compare(WF_ID, "=", "a")),
        ("ExecutionStatus = 'Running'", Compare(STATUS, "=", 1)),
        ("ExecutionStatus IN ('Completed', 'TimedOut')", In(STATUS, (2, 7))),
        ("ExecutionStatus = 6", Compare(STATUS, "=", 6)),
        ("StartTime > 0", Compare(START, ">", 0.0)),
        ("StartTime > 1500000000", Compare(START, ">", 1.5)),
        ("CKw = 'a';", Compare(CKW, "=", "a")),
    ],
)
def test_predicates(text: str, expected: object) -> None:
    assert where(text) == expected


def test_precedence_not_binds_tighter_than_and_and_and_than_or() -> None:
    a, b, c = (Compare(CKW, "=", v) for v in "abc")
    assert where("CKw = 'a' OR CKw = 'b' AND CKw = 'c'") == Or(a, And(b, c))
    assert where("(CKw = 'a' OR CKw = 'b') AND CKw = 'c'") == And(Or(a, b), c)
    assert where("NOT CKw = 'a' AND CKw = 'b'") == And(Not(a), b)
    assert where("NOT (CKw = 'a' AND CKw = 'b')") == Not(And(a, b))
    assert where("NOT NOT CKw = 'a'") == Not(Not(a))
    assert where("CKw = 'a' && CKw = 'b' || CKw = 'c'") == Or(And(a, b), c)
    assert where("CKw = 'a' and CKw = 'b' or CKw = 'c'") == Or(And(a, b), c)


def test_empty_query_and_group_by() -> None:
    assert parse("", CUSTOM) == Query(None)
    assert parse("  ", CUSTOM) == Query(None)
    assert parse("GROUP BY ExecutionStatus", CUSTOM) == Query(None, group_by=STATUS)
    q = parse("CKw = 'a' GROUP BY ExecutionStatus", CUSTOM)
    assert q == Query(Compare(CKW, "=", "a"), group_by=STATUS)


def test_filter_hides_namespace_divisions_unless_asked() -> None:
    assert parse("", CUSTOM).filter() == IsNull(DIVISION)
    a = Compare(CKW, "=", "a")
    assert parse("CKw = 'a'", CUSTOM).filter() == And(a, IsNull(DIVISION))
    scheduler = Compare(DIVISION, "=", "TemporalScheduler")
    assert parse("TemporalNamespaceDivision = 'TemporalScheduler'", CUSTOM).filter() == scheduler
    assert parse("NamespaceDivision = 'TemporalScheduler'", CUSTOM).filter() == scheduler


def test_predefined_attributes_take_an_optional_prefix() -> None:
    assert where("ChangeVersion = 'x'") == where("TemporalChangeVersion = 'x'")
    assert where("BuildIds = 'x'") == Compare(
        Attribute("BuildIds", "KeywordList", system=False), "=", "x"
    )


# -- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()),
        ("2024-01-02T03:04:05+01:00", datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC).timestamp()),
        ("2024-01-02T03:04:05-00:30", datetime(2024, 1, 2, 3, 34, 5, tzinfo=UTC).timestamp()),
        ("1970-01-01T00:00:00.123456789Z", 0.123456789),
        ("1970-01-01T00:00:01.5Z", 1.5),
    ],
)
def test_datetime_literals(literal: str, expected: float) -> None:
    assert parse_datetime(literal) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("literal", "ns"),
    [
        ("1000", 1000),
        ("01:30:00", 5400 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("1.5h", 5400 * 10**9),
        ("2d", 2 * 86400 * 10**9),
        ("300ms", 300 * 10**6),
        ("1m30s", 90 * 10**9),
        ("10us", 10_000),
        ("-1s", -(10**9)),
    ],
)
def test_execution_duration_literals(literal: str, ns: int) -> None:
    dur = Attribute("ExecutionDuration", "Int", system=True)
    assert where(f"ExecutionDuration > '{literal}'") == Compare(dur, ">", ns)


def test_numbers() -> None:
    cd = Attribute("CDouble", "Double", system=False)
    assert where("CDouble > 1e3") == Compare(cd, ">", 1000.0)
    assert where("CDouble > .5") == Compare(cd, ">", 0.5)
    assert where("CDouble > -.5e-2") == Compare(cd, ">", -0.005)
    assert where("CDouble = 2") == Compare(cd, "=", 2.0)


# -- errors (Temporal's wording) ---------------------------------------------------------

_TYPE = "invalid query: invalid expression: invalid value type for search attribute"
_OP = "invalid query: operation is not supported: operator"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Foo = 'x'", "invalid query: invalid search attribute: Foo"),
        ("workflowid = 'a'", "invalid query: invalid search attribute: workflowid"),
        ("TemporalCKw = 'a'", "invalid query: invalid search attribute: TemporalCKw"),
        ("`Foo Bar` = 'a'", "invalid query: invalid search attribute: Foo Bar"),
        (
            "WorkflowId = x",
            "invalid query: operation is not supported: column name on the right side of"
            ' comparison expression (did you forget to quote "x"?)',
        ),
        (
            "CKw = `abc`",
            "invalid query: operation is not supported: column name on the right side of"
            ' comparison expression (did you forget to quote "abc"?)',
        ),
        (
            "ORDER BY CText",
            "invalid query: operation is not supported: 'ORDER BY' clause on search"
            " attribute CText of type Text",
        ),
        (
            "WorkflowId = 'a' ORDER BY StartTime DESC, BuildIds",
            "invalid query: operation is not supported: 'ORDER BY' clause on search"
            " attribute BuildIds of type KeywordList",
        ),
        ("Foo = 'x' ORDER BY StartTime", "invalid query: invalid search attribute: Foo"),
        ("WorkflowId = 'a' LIMIT 3", "invalid query: operation is not supported: 'LIMIT' clause"),
        ("Foo = 'x' LIMIT 5", "invalid query: operation is not supported: 'LIMIT' clause"),
        (
            "ExecutionStatus = 'Bogus'",
            "invalid query: invalid expression: invalid ExecutionStatus value 'Bogus'",
        ),
        (
            "ExecutionStatus = 'running'",
            "invalid query: invalid expression: invalid ExecutionStatus value 'running'",
        ),
        (
            "ExecutionStatus = 99",
            "invalid query: invalid expression: invalid ExecutionStatus value 99",
        ),
        (
            "ExecutionStatus STARTS_WITH 'Run'",
            "invalid query: invalid expression: invalid ExecutionStatus value 'Run'",
        ),
        ("StartTime > 'abc'", "invalid query: invalid expression: unable to parse datetime 'abc'"),
        (
            "CDt > '2020-01-01'",
            "invalid query: invalid expression: unable to parse datetime '2020-01-01'",
        ),
        (
            "CDt = '2020-01-01T00:00:00'",
            "invalid query: invalid expression: unable to parse datetime '2020-01-01T00:00:00'",
        ),
        (
            "CDt = '2020-01-01t00:00:00z'",
            "invalid query: invalid expression: unable to parse datetime '2020-01-01t00:00:00z'",
        ),
        (
            "CDt STARTS_WITH '2020'",
            "invalid query: invalid expression: unable to parse datetime '2020'",
        ),
        ("StartTime = 1.5", f"{_TYPE} StartTime of type Datetime: 1.5 (type: float64)"),
        ("HistoryLength > 'a'", f'{_TYPE} HistoryLength of type Int: "a" (type: string)'),
        ("HistoryLength IN (1, '2')", f'{_TYPE} HistoryLength of type Int: "2" (type: string)'),
        ("CInt = true", f"{_TYPE} CInt of type Int: true (type: bool)"),
        ("CInt STARTS_WITH 'a'", f'{_TYPE} CInt of type Int: "a" (type: string)'),
        ("CDouble = 'a'", f'{_TYPE} CDouble of type Double: "a" (type: string)'),
        ("CDouble = true", f"{_TYPE} CDouble of type Double: true (type: bool)"),
        ("CBool = 'true'", f'{_TYPE} CBool of type Bool: "true" (type: string)'),
        ("CBool = 1", f"{_TYPE} CBool of type Bool: 1 (type: int64)"),
        ("CKw = 1", f"{_TYPE} CKw of type Keyword: 1 (type: int64)"),
        ("CKw = -1", f"{_TYPE} CKw of type Keyword: -1 (type: int64)"),
        ("CKw > 5", f"{_TYPE} CKw of type Keyword: 5 (type: int64)"),
        ("CKw IN (1)", f"{_TYPE} CKw of type Keyword: 1 (type: int64)"),
        ("CKw = true", f"{_TYPE} CKw of type Keyword: true (type: bool)"),
        ("WorkflowId = 1", f"{_TYPE} WorkflowId of type Keyword: 1 (type: int64)"),
        ("CText > 'a'", f"{_OP} '>' not supported for Text type search attribute 'CText'"),
        ("CText IN ('a')", f"{_OP} 'IN' not supported for Text type search attribute 'CText'"),
        (
            "CText STARTS_WITH 'a'",
            f"{_OP} 'STARTS_WITH' not supported for Text type search attribute 'CText'",
        ),
        (
            "CKwl > 'a'",
            f"{_OP} '>' not supported for KeywordList type search attribute 'CKwl'",
        ),
        (
            "CKwl STARTS_WITH 'a'",
            f"{_OP} 'STARTS_WITH' not supported for KeywordList type search attribute 'CKwl'",
        ),
        (
            "WorkflowId LIKE 'a%'",
            f"{_OP} 'LIKE' not supported for Keyword type search attribute 'WorkflowId'",
        ),
        (
            "CKw NOT LIKE 'a'",
            f"{_OP} 'NOT LIKE' not supported for Keyword type search attribute 'CKw'",
        ),
        ("CKw REGEXP 'a'", f"{_OP} 'REGEXP' not supported for Keyword type search attribute 'CKw'"),
        (
            "CText BETWEEN 'a' AND 'b'",
            "invalid query: invalid expression: cannot do range condition on search attribute"
            " 'CText' of type Text",
        ),
        (
            "CBool BETWEEN true AND false",
            "invalid query: invalid expression: cannot do range condition on search attribute"
            " 'CBool' of type Bool",
        ),
        (
            "CKwl BETWEEN 'a' AND 'b'",
            "invalid query: invalid expression: cannot do range condition on search attribute"
            " 'CKwl' of type KeywordList",
        ),
        ("WorkflowId", "invalid query: invalid expression: incomplete expression"),
        ("ckw", "invalid query: invalid expression: incomplete expression"),
        (
            "1 = 1",
            "invalid query: invalid expression: must be a column name but was *sqlparser.SQLVal",
        ),
        (
            "CKw = 'a' AND 5",
            "invalid query: operation is not supported: expression of type *sqlparser.SQLVal",
        ),
        (
            "CKw IS TRUE",
            "invalid query: invalid expression: 'IS' operator can only be used as 'IS NULL' or"
            " 'IS NOT NULL'",
        ),
        (
            "CKw = NULL",
            "invalid query: invalid expression: unexpected value type *sqlparser.NullVal",
        ),
        (
            "CKw IN (NULL)",
            "invalid query: invalid expression: unexpected value type *sqlparser.NullVal",
        ),
        (
            "ExecutionDuration > 'abc'",
            "invalid query: invalid expression: invalid duration value for search attribute"
            " ExecutionDuration: abc",
        ),
        (
            "ExecutionDuration > 1.5",
            "invalid query: invalid expression: unexpected value type float64 for search"
            " attribute ExecutionDuration",
        ),
        (
            "GROUP BY WorkflowType",
            "invalid query: operation is not supported: 'GROUP BY' clause is not supported for"
            " search attribute WorkflowType",
        ),
        (
            "GROUP BY ExecutionStatus, WorkflowType",
            "invalid query: operation is not supported: 'GROUP BY' clause supports only a single"
            " field",
        ),
        ("GROUP BY Foo", "invalid query: invalid search attribute: Foo"),
        ("Foo = 1 GROUP BY WorkflowType", "invalid query: invalid search attribute: Foo"),
    ],
)
def test_semantic_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidQuery) as exc_info:
        parse(text, CUSTOM)
    assert exc_info.value.message == message
    assert isinstance(exc_info.value, InvalidArgument)


@pytest.mark.parametrize(
    ("text", "position", "near"),
    [
        ("WorkflowId = 'a' AND", 48, ""),
        ("WorkflowId IN ()", 44, ""),
        ("(CKw = 'a'", 38, ""),
        ("CKw = 'a')", 38, ""),
        ("CKw = 'a' CKw = 'b'", 41, "CKw"),
        ("CKw == 'a'", 34, ""),
        ("CKw IN 'a'", 38, "a"),
        ("select * from t", 34, "select"),
        ("CKw = 'a' AND AND CKw = 'b'", 45, "and"),
        ("NOT", 31, ""),
        ("CKw = 'a' OR", 40, ""),
        ("CKw IN ('a',)", 41, ""),
        ("CKw BETWEEN 'a'", 43, ""),
        ("CKw = 'a' GROUP BY", 46, ""),
        ("CKw = 'abc", 38, "abc"),
        ("CInt = 1.5.5", 40, ".5"),
        ("CInt = 12abc", 37, "12"),
    ],
)
def test_syntax_errors_report_temporals_position(text: str, position: int, near: str) -> None:
    expected = f"invalid query: malformed SQL query: syntax error at position {position}"
    if near:
        expected += f" near '{near}'"
    with pytest.raises(InvalidQuery) as exc_info:
        parse(text, CUSTOM)
    assert exc_info.value.message == expected


@pytest.mark.parametrize(
    "text",
    [
        "CKw = 'a' OR (CInt > 3 AND NOT CBool = false)",
        "CKw NOT  IN ('a')",
        "CKwl != 'a'",
        "CKwl NOT IN ('a')",
        "CBool > true",
        "CBool IN (true)",
        "CDt = 5",
        "CDt > '2020-01-01T00:00:00.123456789Z'",
        "ExecutionStatus > 'Running'",
        "ExecutionStatus IS NULL",
        "ExecutionStatus = 'Paused'",
        "RunId STARTS_WITH 'a'",
        "GROUP BY ExecutionStatus HAVING CKw = 'a'",
        "HistorySizeBytes > 0",
        "TemporalSchedulePaused = true",
        "TemporalScheduledStartTime > '2020-01-01T00:00:00Z'",
    ],
)
def test_accepted_like_temporal(text: str) -> None:
    parse(text, CUSTOM)


# -- size limits (messages and thresholds read from Temporal's dev server 1.32) -----------

P = "WorkflowId = 'a'"


def _error(text: str) -> str:
    with pytest.raises(InvalidQuery) as e:
        parse(text, CUSTOM)
    return str(e.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 200 + P + ")" * 200, "max nesting level reached at position 228"),
        ("(" * 1000 + P + ")" * 1000, "max nesting level reached at position 228"),
        ("NOT " * 1000 + P, "max nesting level reached at position 827 near 'not'"),
        ("NOT (" * 100 + P + ")" * 100, "max nesting level reached at position 528"),
        ("(" * 150 + "NOT " * 50 + P + ")" * 150, "max nesting level reached at position 377 near 'not'"),
        ("NOT " * 150 + "(" * 50 + P + ")" * 50, "max nesting level reached at position 678"),
        ((P + " OR (") * 200 + P + ")" * 200, "max nesting level reached at position 4228"),
        (" OR ".join([P] * 996), "max ast depth reached"),
        (" AND ".join([P] * 50_00), "max ast depth reached"),
        (" OR ".join(["NOT " + P] * 995), "max ast depth reached"),
        (" OR ".join(["(" + P + ")"] * 995), "max ast depth reached"),
        ("(" * 100 + " OR ".join([P] * 896) + ")" * 100, "max ast depth reached"),
    ],
)  # fmt: skip
def test_nesting_and_depth_limits(text: str, message: str) -> None:
    assert _error(text) == f"invalid query: malformed SQL query: {message}"


@pytest.mark.parametrize(
    "text",
    [
        "(" * 199 + P + ")" * 199,
        "NOT " * 199 + P,
        "NOT (" * 99 + P + ")" * 99,
        " OR ".join([P] * 995),
        " AND ".join([P] * 995),
        " OR ".join(["NOT " + P] * 994),
        " OR ".join([P + " AND " + P] * 994),
        "(" * 100 + " OR ".join([P] * 895) + ")" * 100,
        " OR ".join(["(" + P + ")"] * 300),  # nesting is released at each ')'
        " OR ".join(["NOT " + P] * 300),
        f"CInt IN ({','.join(['1'] * 100_000)})",
    ],
)
def test_largest_accepted_queries(text: str) -> None:
    assert parse(text, CUSTOM).where is not None


def test_chains_are_balanced_trees() -> None:
    def depth(e: object) -> int:
        if isinstance(e, And | Or):
            return 1 + max(depth(e.left), depth(e.right))
        return 1 + depth(e.operand) if isinstance(e, Not) else 1

    assert depth(where(" OR ".join([P] * 995))) == 11
    assert depth(where(f"{P} AND {P} AND CInt = 1")) == 3
    assert where("CInt = 1 AND CInt = 2 AND CInt = 3") == And(
        And(Compare(CINT, "=", 1), Compare(CINT, "=", 2)), Compare(CINT, "=", 3)
    )


def test_deep_nesting_of_long_chains_is_refused() -> None:
    """Within Temporal's limits, but its balanced tree would be over 300 deep."""
    text = f"{P} OR {P} OR {P} OR (" * 150 + P + ")" * 150
    assert _error(text) == "invalid query: malformed SQL query: max ast depth reached"


def test_query_length_limit() -> None:
    text = "WorkflowId = '" + "a" * (256 * 1024) + "'"
    assert _error(text) == (
        f"invalid query: query is {len(text)} characters long, more than the maximum of 262144"
    )
    ok = "WorkflowId = '" + "a" * (256 * 1024 - 15) + "'"
    assert parse(ok, CUSTOM).where == Compare(WF_ID, "=", "a" * (256 * 1024 - 15))


def test_long_string_with_escapes() -> None:
    text = "WorkflowId = '" + "ab\\'c''d" * 10_000 + "\\\\'"
    assert where(text) == Compare(WF_ID, "=", "ab'c'd" * 10_000 + "\\")


# -- beyond Temporal's SQL visibility: ORDER BY and relative times ---------------------


def test_order_by_items() -> None:
    q = parse("WorkflowType = 'A' ORDER BY StartTime DESC, CInt, ExecutionStatus ASC", CUSTOM)
    assert [(i.attr.name, i.desc) for i in q.order_by] == [
        ("StartTime", True),
        ("CInt", False),
        ("ExecutionStatus", False),
    ]
    assert parse("ORDER BY TemporalScheduledStartTime", CUSTOM).order_by[0].attr.system is False


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("-15m", NOW - 900),
        ("15m", NOW - 900),
        ("+1h30m", NOW + 5400),
        ("2d", NOW - 2 * 86400),
        ("1.5s", NOW - 1.5),
        ("now", NOW),
        ("NOW", NOW),
    ],
)
def test_relative_times(literal: str, expected: float) -> None:
    q = parse(f"StartTime > '{literal}' AND CDt <= '{literal}'", CUSTOM, now=NOW)
    assert q.where == And(Compare(START, ">", expected), Compare(CDT, "<=", expected))


def test_relative_times_need_a_now_and_a_duration() -> None:
    for text, now in (("StartTime > '-15m'", None), ("StartTime > '15 minutes'", NOW)):
        with pytest.raises(InvalidQuery) as info:
            parse(text, CUSTOM, now=now)
        assert "unable to parse datetime" in info.value.message
