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

Limits, as Temporal's parser has them (both are ``malformed SQL query`` errors):
nesting — open parentheses plus NOTs around a point — must stay under MAX_NESTING
(reported at the token reaching it), and the condition's tree, counted as Temporal's
parser builds it (a chain of n ORs is n deep), must be at most MAX_AST_DEPTH deep.
The tree built here is balanced instead, so that walking it (resolution, SQL, the
database's own parser) recurses only logarithmically in the length of a chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pytemporal.visibility.attributes import InvalidQuery, Value
from pytemporal.visibility.lexer import Kind, Token, syntax_error

# Read from Temporal's dev server (server 1.32): 199 nested parentheses parse, 200 do
# not; a chain of 995 ORs parses, 996 do not.
MAX_NESTING = 200
MAX_AST_DEPTH = 996
# Ours: the depth of the (balanced) tree built here, which code walking it recursively
# relies on. Temporal-valid queries pass unless they nest long chains 60+ levels deep.
MAX_TREE_DEPTH = 300
_PREDICATE_DEPTH = 2  # a comparison and its operands


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
    # (attribute name, descending)
    order_by: list[tuple[Token, bool]] = field(default_factory=list)
    limit: bool = False


_COMPARISONS = {"=": "=", "<=>": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">"}
_COMPARISONS |= {"<=": "<=", ">=": ">="}
_WORD_OPS = ("IN", "BETWEEN", "LIKE", "REGEXP", "RLIKE", "STARTS_WITH")


def parse_raw(tokens: Iterable[Token]) -> RawQuery:
    return _Parser(tokens).query()


Depthed = tuple[RawExpr, int]  # a subtree and its depth as Temporal's parser counts it


class _Parser:
    def __init__(self, tokens: Iterable[Token]) -> None:
        self.toks = iter(tokens)
        self.tok = next(self.toks)
        self.nesting = 0
        self.depth = 0  # the deepest condition parsed

    def take(self) -> Token:
        t = self.tok
        if t.kind is not Kind.EOF:
            self.tok = next(self.toks)
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
            q.where = self.condition()
        if self.tok.is_keyword("GROUP"):
            self.take()
            self.expect_keyword("BY")
            q.group_by = self._names()
        if self.tok.is_keyword("HAVING"):
            self.take()
            self.condition()
        if self.tok.is_keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            q.order_by = self._order_items()
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
        if self.depth > MAX_AST_DEPTH or (q.where and _tree_depth(q.where) > MAX_TREE_DEPTH):
            raise InvalidQuery("malformed SQL query: max ast depth reached")
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

    def _order_items(self) -> list[tuple[Token, bool]]:
        items = []
        while True:
            name = self._name()
            desc = False
            if self.tok.is_keyword("ASC", "DESC"):
                desc = self.take().is_keyword("DESC")
            items.append((name, desc))
            if not self.tok.is_op(","):
                return items
            self.take()

    def _number(self) -> None:
        if self.tok.kind is not Kind.NUMBER:
            raise syntax_error(self.tok)
        self.take()

    # -- expressions ----------------------------------------------------------------

    def condition(self) -> RawExpr:
        """`expr` of the grammar, without recursion (nesting may be 199 deep): a
        stack of the groups opened by "(", each an OR of AND chains under construction.
        """
        stack = [_Group()]
        while True:
            group = stack[-1]
            if self.tok.is_keyword("NOT"):
                self._enter()
                group.nots += 1
                continue
            if self.tok.is_op("("):
                self._enter()
                stack.append(_Group())
                continue
            operand: Depthed = (self.predicate(), _PREDICATE_DEPTH)
            while True:  # the operand just read, and every group it closes
                self.nesting -= group.nots
                for _ in range(group.nots):
                    operand = (RawNot(operand[0]), operand[1] + 1)
                group.nots = 0
                group.conj.add(operand)
                if self.tok.is_keyword("AND") or self.tok.is_op("&&"):
                    self.take()
                    break
                group.disj.add(group.conj.close())
                if self.tok.is_keyword("OR") or self.tok.is_op("||"):
                    self.take()
                    break
                e, depth = group.disj.close()
                if len(stack) == 1:
                    self.depth = max(self.depth, depth)
                    return e
                self.expect_op(")")
                self.nesting -= 1
                stack.pop()
                group = stack[-1]
                operand = (e, depth + 1)

    def _enter(self) -> None:
        self.nesting += 1
        if self.nesting >= MAX_NESTING:
            raise syntax_error(self.tok, "max nesting level reached")
        self.take()

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


_INT64_DIGITS = 19


def _number(text: str, sign: int) -> int | float:
    """As Temporal's parser: an integer literal past int64 is a float64 (1e+23)."""
    if text.isdigit() and len(text) <= _INT64_DIGITS:
        value = sign * int(text)
        if -(2**63) <= value < 2**63:
            return value
    return sign * float(text)


class _Chain:
    """Operands joined by one operator: a balanced tree, and Temporal's (left-deep) depth."""

    def __init__(self, node: Callable[[RawExpr, RawExpr], RawExpr]) -> None:
        self.node = node
        self.items: list[RawExpr] = []
        self.depth = 0

    def add(self, operand: Depthed) -> None:
        e, depth = operand
        self.depth = depth if not self.items else max(self.depth, depth) + 1
        self.items.append(e)

    def close(self) -> Depthed:
        out = (_balanced(self.items, self.node), self.depth)
        self.items = []
        return out


class _Group:
    """A parenthesised condition being read (or the whole one)."""

    def __init__(self) -> None:
        self.disj = _Chain(RawOr)
        self.conj = _Chain(RawAnd)
        self.nots = 0  # NOTs read before the next operand


def _balanced(items: list[RawExpr], node: Callable[[RawExpr, RawExpr], RawExpr]) -> RawExpr:
    """AND and OR are associative: a chain as a tree of logarithmic depth."""
    if len(items) == 1:
        return items[0]
    mid = (len(items) + 1) // 2  # three items: ((a, b), c), as written
    return node(_balanced(items[:mid], node), _balanced(items[mid:], node))


def _tree_depth(root: RawExpr) -> int:
    deepest = 0
    todo = [(root, 1)]
    while todo:
        e, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(e, RawAnd | RawOr):
            todo += [(e.left, depth + 1), (e.right, depth + 1)]
        elif isinstance(e, RawNot):
            todo.append((e.operand, depth + 1))
    return deepest
