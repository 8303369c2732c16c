"""Temporal's list filter language -> a typed, validated AST. Pure: no I/O.

    parse("WorkflowType = 'Order' AND StartTime > '2024-01-01T00:00:00Z'", custom)

Parsing is two steps, as in Temporal: the text must first be valid SQL (else
``malformed SQL query: syntax error at position N``), then every predicate is checked
against the namespace's search attributes and their types. Errors are `InvalidQuery`
(INVALID_ARGUMENT, ``invalid query: ...``) with Temporal's wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytemporal.visibility import attributes as sa
from pytemporal.visibility.attributes import Attribute, InvalidQuery, Value
from pytemporal.visibility.lexer import tokenize
from pytemporal.visibility.rawquery import (
    Bare,
    Col,
    Operand,
    Predicate,
    RawAnd,
    RawExpr,
    RawNot,
    RawOr,
    RawQuery,
    parse_raw,
)

# Not a Temporal limit (its parser takes anything under the gRPC message size): ours,
# so that one request's parse tree and bound parameters stay a few megabytes at most.
MAX_QUERY_LENGTH = 256 * 1024

CompareOp = Literal["=", "!=", "<", ">", "<=", ">="]
_COMPARE_OPS: dict[str, CompareOp] = {"=": "=", "!=": "!=", "<": "<", ">": ">"}
_COMPARE_OPS |= {"<=": "<=", ">=": ">="}


@dataclass(frozen=True)
class Compare:
    attr: Attribute
    op: CompareOp
    value: Value


@dataclass(frozen=True)
class In:
    attr: Attribute
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between:
    attr: Attribute
    low: Value
    high: Value
    negated: bool = False


@dataclass(frozen=True)
class StartsWith:
    attr: Attribute
    prefix: str
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    attr: Attribute
    negated: bool = False


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Compare | In | Between | StartsWith | IsNull | And | Or | Not

_DIVISION = Attribute(sa.NAMESPACE_DIVISION, sa.KEYWORD, system=False)


@dataclass(frozen=True)
class OrderItem:
    attr: Attribute
    desc: bool = False


@dataclass(frozen=True)
class Query:
    where: Expr | None
    group_by: Attribute | None = None
    order_by: tuple[OrderItem, ...] = ()

    def filter(self) -> Expr | None:
        """`where`, restricted as Temporal does to records of no namespace division
        (hiding system workflows such as schedulers) unless the query names one."""
        if self.where is not None and _mentions(self.where, sa.NAMESPACE_DIVISION):
            return self.where
        hidden = IsNull(_DIVISION)
        return hidden if self.where is None else And(self.where, hidden)


def parse(text: str, custom: dict[str, str], *, now: float | None = None) -> Query:
    """`custom`: the namespace's registered search attributes, name -> type name.
    `now` (unix seconds) is what relative times (`StartTime > '-15m'`) count from;
    without it they are refused as unparsable datetimes."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(
            f"query is {len(text)} characters long, more than the maximum of {MAX_QUERY_LENGTH}"
        )
    raw = parse_raw(tokenize(text))
    # The order Temporal checks in: LIMIT, then the condition, then ORDER BY and GROUP BY.
    if raw.limit:
        raise sa.not_supported("'LIMIT' clause")
    where = None if raw.where is None else _resolve(raw.where, custom, now)
    _check_clauses(raw, custom)
    group_by = sa.resolve(raw.group_by[0].text, custom) if raw.group_by else None
    order_by = tuple(_order_item(name.text, desc, custom) for name, desc in raw.order_by)
    return Query(where, group_by, order_by)


# Beyond Temporal's SQL visibility (which refuses ORDER BY), as its Elasticsearch
# visibility: any attribute but Text and KeywordList (which have no single value).
_UNSORTABLE = frozenset({sa.TEXT, sa.KEYWORD_LIST})


def _order_item(name: str, desc: bool, custom: dict[str, str]) -> OrderItem:
    attr = sa.resolve(name, custom)
    if attr.type in _UNSORTABLE:
        raise sa.not_supported(
            f"'ORDER BY' clause on search attribute {attr.name} of type {attr.type}"
        )
    return OrderItem(attr, desc)


def _check_clauses(raw: RawQuery, custom: dict[str, str]) -> None:
    if len(raw.group_by) > 1:
        raise sa.not_supported("'GROUP BY' clause supports only a single field")
    if raw.group_by:
        attr = sa.resolve(raw.group_by[0].text, custom)
        if attr.name != sa.EXECUTION_STATUS:
            raise sa.not_supported(
                f"'GROUP BY' clause is not supported for search attribute {attr.name}"
            )


def _mentions(e: Expr, name: str) -> bool:
    if isinstance(e, And | Or):
        return _mentions(e.left, name) or _mentions(e.right, name)
    if isinstance(e, Not):
        return _mentions(e.operand, name)
    return e.attr.name == name


# -- resolution: raw syntax -> typed AST ------------------------------------------------


def _resolve(e: RawExpr, custom: dict[str, str], now: float | None) -> Expr:
    if isinstance(e, RawAnd):
        return And(_resolve(e.left, custom, now), _resolve(e.right, custom, now))
    if isinstance(e, RawOr):
        return Or(_resolve(e.left, custom, now), _resolve(e.right, custom, now))
    if isinstance(e, RawNot):
        return Not(_resolve(e.operand, custom, now))
    if isinstance(e, Bare):
        if isinstance(e.operand, Col):
            raise sa.invalid_expression("incomplete expression")
        raise sa.not_supported("expression of type *sqlparser.SQLVal")
    return _predicate(e, custom, now)


def _predicate(p: Predicate, custom: dict[str, str], now: float | None) -> Expr:
    if not isinstance(p.left, Col):
        raise sa.invalid_expression("must be a column name but was *sqlparser.SQLVal")
    attr = sa.resolve(p.left.name, custom)
    op = p.op
    if op in ("IS NULL", "IS NOT NULL"):
        return IsNull(attr, negated=op == "IS NOT NULL")
    values = tuple(_value(attr, o, now) for o in p.right)
    _check_operator(attr, op)
    if op in ("IN", "NOT IN"):
        return In(attr, values, negated=op == "NOT IN")
    if op in ("BETWEEN", "NOT BETWEEN"):
        return Between(attr, values[0], values[1], negated=op == "NOT BETWEEN")
    if op in ("STARTS_WITH", "NOT STARTS_WITH"):
        prefix = values[0]
        if not isinstance(prefix, str):  # ExecutionStatus: compared as its int value
            raise sa.not_supported(
                f"operator '{op}' not supported for search attribute '{attr.name}'"
            )
        return StartsWith(attr, prefix, negated=op == "NOT STARTS_WITH")
    return Compare(attr, _COMPARE_OPS[op], values[0])


def _value(attr: Attribute, o: Operand, now: float | None) -> Value:
    if isinstance(o, Col):
        raise sa.not_supported(
            "column name on the right side of comparison expression"
            f' (did you forget to quote "{o.name}"?)'
        )
    if o.value is None:
        raise sa.invalid_expression("unexpected value type *sqlparser.NullVal")
    return sa.convert(attr, o.value, now)


_EQUALITY = frozenset({"=", "!="})
_ORDERING = frozenset({"<", ">", "<=", ">="})
_ALLOWED: dict[str, frozenset[str]] = {
    sa.TEXT: _EQUALITY,
    sa.KEYWORD_LIST: _EQUALITY | {"IN", "NOT IN"},
    sa.KEYWORD: _EQUALITY | _ORDERING | {"IN", "NOT IN", "STARTS_WITH", "NOT STARTS_WITH"},
}
_SCALAR = _EQUALITY | _ORDERING | {"IN", "NOT IN"}
_RANGE_TYPES = frozenset({sa.KEYWORD, sa.INT, sa.DOUBLE, sa.DATETIME})


def _check_operator(attr: Attribute, op: str) -> None:
    if op in ("BETWEEN", "NOT BETWEEN"):
        if attr.type not in _RANGE_TYPES:
            raise sa.invalid_expression(
                f"cannot do range condition on search attribute '{attr.name}' of type {attr.type}"
            )
        return
    if op not in _ALLOWED.get(attr.type, _SCALAR):
        raise sa.not_supported(
            f"operator '{op}' not supported for {attr.type} type search attribute '{attr.name}'"
        )


__all__ = [
    "And",
    "Attribute",
    "Between",
    "Compare",
    "Expr",
    "In",
    "InvalidQuery",
    "IsNull",
    "Not",
    "Or",
    "OrderItem",
    "Query",
    "StartsWith",
    "parse",
]
