"""Step one of parsing a list filter: tokens -> untyped syntax tree (SQL syntax only).

Grammar (keywords case-insensitive; MySQL precedence: NOT binds looser than a
comparison, AND tighter than OR)::

    query     := [expr] [GROUP BY name {, name}] [HAVING expr]
                 [ORDER BY name [ASC|DESC] {, ...}] [LIMIT number [OFFSET number]] [;]
    expr      := conj {(OR | "||") conj}
    conj      := neg {(AND | "&&") neg}
    neg       := NOT neg | "(" expr ")" | predicate
    predicate := operand [ cmp operand | [NOT] IN "(" operand {, operand} ")"
                 | [NOT] BETWEEN operand AND operand | [NOT] (LIKE|REGEXP|STARTS_WITH) operand
                 | IS [NOT] NULL ]
    operand   := name | string | [+|-] number | TRUE | FALSE | NULL
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytemporal.visibility.attributes import InvalidQuery, Value
from pytemporal.visibility.lexer import Kind, Token, syntax_error


@dataclass(frozen=True)
class Col:
    name: str


@dataclass(frozen=True)
class Lit:
    value: Value | None  # None: NULL


Operand = Col | Lit


@dataclass(frozen=True)
class Predicate:
    left: Operand
    op: str  # canonical: "=", "!=", "IN", "NOT IN", "BETWEEN", "IS NULL", "LIKE"...
    right: tuple[Operand, ...]


@dataclass(frozen=True)
class Bare:
    """An operand standing alone where a condition was expected."""

    operand: Operand


@dataclass(frozen=True)
class RawAnd:
    left: RawExpr
    right: RawExpr


@dataclass(frozen=True)
class RawOr:
    left: RawExpr
    right: RawExpr


@dataclass(frozen=True)
class RawNot:
    operand: RawExpr


RawExpr = Predicate | Bare | RawAnd | RawOr | RawNot


@dataclass
class RawQuery:
    where: RawExpr | None = None
    group_by: list[Token] = field(default_factory=list)
    order_by: bool = False
    limit: bool = False


_COMPARISONS = {"=": "=", "<=>": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">"}
_COMPARISONS |= {"<=": "<=", ">=": ">="}
_WORD_OPS = ("IN", "BETWEEN", "LIKE", "REGEXP", "RLIKE", "STARTS_WITH")


def parse_raw(tokens: list[Token]) -> RawQuery:
    return _Parser(tokens).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        if t.kind is not Kind.EOF:
            self.i += 1
        return t

    def expect_keyword(self, word: str) -> None:
        if not self.tok.is_keyword(word):
            raise syntax_error(self.tok)
        self.take()

    def expect_op(self, op: str) -> None:
        if not self.tok.is_op(op):
            raise syntax_error(self.tok)
        self.take()

    # -- clauses --------------------------------------------------------------------

    def query(self) -> RawQuery:
        q = RawQuery()
        if not self._at_clause_end():
            q.where = self.expr()
        if self.tok.is_keyword("GROUP"):
            self.take()
            self.expect_keyword("BY")
            q.group_by = self._names()
        if self.tok.is_keyword("HAVING"):
            self.take()
            self.expr()
        if self.tok.is_keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            q.order_by = True
            self._order_items()
        if self.tok.is_keyword("LIMIT"):
            self.take()
            q.limit = True
            self._number()
            if self.tok.is_keyword("OFFSET") or self.tok.is_op(","):
                self.take()
                self._number()
        if self.tok.is_op(";"):
            self.take()
        if self.tok.kind is not Kind.EOF:
            raise syntax_error(self.tok)
        return q

    def _at_clause_end(self) -> bool:
        t = self.tok
        return t.kind is Kind.EOF or t.is_op(";") or t.is_keyword("GROUP", "ORDER", "LIMIT")

    def _names(self) -> list[Token]:
        names = [self._name()]
        while self.tok.is_op(","):
            self.take()
            names.append(self._name())
        return names

    def _name(self) -> Token:
        if self.tok.kind is not Kind.IDENT:
            raise syntax_error(self.tok)
        return self.take()

    def _order_items(self) -> None:
        self._name()
        if self.tok.is_keyword("ASC", "DESC"):
            self.take()
        if self.tok.is_op(","):
            self.take()
            self._order_items()

    def _number(self) -> None:
        if self.tok.kind is not Kind.NUMBER:
            raise syntax_error(self.tok)
        self.take()

    # -- expressions ----------------------------------------------------------------

    def expr(self) -> RawExpr:
        left = self.conj()
        while self.tok.is_keyword("OR") or self.tok.is_op("||"):
            self.take()
            left = RawOr(left, self.conj())
        return left

    def conj(self) -> RawExpr:
        left = self.neg()
        while self.tok.is_keyword("AND") or self.tok.is_op("&&"):
            self.take()
            left = RawAnd(left, self.neg())
        return left

    def neg(self) -> RawExpr:
        if self.tok.is_keyword("NOT"):
            self.take()
            return RawNot(self.neg())
        if self.tok.is_op("("):
            self.take()
            inner = self.expr()
            self.expect_op(")")
            return inner
        return self.predicate()

    def predicate(self) -> RawExpr:
        left = self.operand()
        t = self.tok
        if t.kind is Kind.OP and t.text in _COMPARISONS:
            self.take()
            return Predicate(left, _COMPARISONS[t.text], (self.operand(),))
        if t.is_keyword("IS"):
            return self._is(left)
        negated = t.is_keyword("NOT")
        if negated:
            self.take()
            if not self.tok.is_keyword(*_WORD_OPS):
                raise syntax_error(self.tok)
        if self.tok.is_keyword(*_WORD_OPS):
            word = self.take().text
            op = f"NOT {word}" if negated else word
            return Predicate(left, op, self._word_operands(word))
        return Bare(left)

    def _is(self, left: Operand) -> RawExpr:
        self.take()
        negated = self.tok.is_keyword("NOT")
        if negated:
            self.take()
        t = self.take()
        if t.is_keyword("NULL"):
            return Predicate(left, "IS NOT NULL" if negated else "IS NULL", ())
        if t.is_keyword("TRUE", "FALSE"):
            raise InvalidQuery(
                "invalid expression: 'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'"
            )
        raise syntax_error(t)

    def _word_operands(self, word: str) -> tuple[Operand, ...]:
        if word == "IN":
            self.expect_op("(")
            values = [self.operand()]
            while self.tok.is_op(","):
                self.take()
                values.append(self.operand())
            self.expect_op(")")
            return tuple(values)
        if word == "BETWEEN":
            low = self.operand()
            self.expect_keyword("AND")
            return (low, self.operand())
        return (self.operand(),)

    def operand(self) -> Operand:
        t = self.take()
        if t.kind is Kind.IDENT:
            return Col(t.text)
        if t.kind is Kind.STRING:
            return Lit(t.text)
        if t.is_keyword("TRUE", "FALSE"):
            return Lit(t.text == "TRUE")
        if t.is_keyword("NULL"):
            return Lit(None)
        sign = 1
        if t.is_op("+", "-") and self.tok.kind is Kind.NUMBER:
            sign = -1 if t.text == "-" else 1
            t = self.take()
        if t.kind is Kind.NUMBER:
            return Lit(_number(t.text, sign))
        raise syntax_error(t)


def _number(text: str, sign: int) -> int | float:
    if text.isdigit():
        return sign * int(text)
    return sign * float(text)
