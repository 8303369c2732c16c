"""Tokens of Temporal's list filter language (a MySQL WHERE clause, as vitess reads it).

Syntax errors report a position the way Temporal's parser does: the query is parsed
as ``select * from table1 where <query>``, and the position is one past the end of
the offending token in that string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from pytemporal.visibility.attributes import InvalidQuery

# Temporal prefixes the filter with this before parsing; positions count from it.
_PREFIX_LEN = len("select * from table1 where ")


class Kind(Enum):
    IDENT = "ident"  # a bare or backticked name
    KEYWORD = "keyword"  # reserved words, upper-cased in `text`
    STRING = "string"
    NUMBER = "number"
    OP = "op"  # punctuation and comparison operators
    EOF = "eof"


KEYWORDS = frozenset(
    {
        "AND", "OR", "NOT", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE", "LIKE",
        "REGEXP", "RLIKE", "STARTS_WITH", "ORDER", "GROUP", "BY", "LIMIT", "HAVING",
        "ASC", "DESC", "SELECT", "FROM", "WHERE", "OFFSET",
    }
)  # fmt: skip

_OPERATORS = (
    "<=>", "<>", "!=", "<=", ">=", "&&", "||", "=", "<", ">", "(", ")", ",", ";", "+", "-",
    "*", "/",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # identifier name, string contents, number text, upper-cased keyword, op
    raw: str  # as written, for "near '...'" in errors
    end: int  # offset one past the token in the query

    def is_keyword(self, *words: str) -> bool:
        return self.kind is Kind.KEYWORD and self.text in words

    def is_op(self, *ops: str) -> bool:
        return self.kind is Kind.OP and self.text in ops


def syntax_error(tok: Token, what: str = "syntax error") -> InvalidQuery:
    msg = f"malformed SQL query: {what} at position {_PREFIX_LEN + tok.end + 1}"
    if tok.kind in (Kind.IDENT, Kind.KEYWORD, Kind.STRING, Kind.NUMBER):
        msg += f" near '{tok.raw}'"
    return InvalidQuery(msg)


def tokenize(q: str) -> Iterator[Token]:
    """Lazily, so a query rejected early (nesting) is never tokenized whole."""
    i, n = 0, len(q)
    while True:
        while i < n and q[i].isspace():
            i += 1
        if i >= n:
            yield Token(Kind.EOF, "", "", n)
            return
        tok = _next(q, i)
        yield tok
        i = tok.end


def _next(q: str, i: int) -> Token:
    c = q[i]
    if c.isalpha() or c == "_":
        j = i
        while j < len(q) and (q[j].isalnum() or q[j] == "_"):
            j += 1
        word = q[i:j]
        if word.upper() in KEYWORDS:
            return Token(Kind.KEYWORD, word.upper(), word.lower(), j)
        return Token(Kind.IDENT, word, word, j)
    if c.isdigit() or (c == "." and i + 1 < len(q) and q[i + 1].isdigit()):
        return _number(q, i)
    if c in "'\"":
        return _string(q, i)
    if c == "`":
        j = q.find("`", i + 1)
        if j < 0:
            raise syntax_error(Token(Kind.EOF, "", "", len(q)))
        return Token(Kind.IDENT, q[i + 1 : j], q[i + 1 : j], j + 1)
    for op in _OPERATORS:
        if q.startswith(op, i):
            return Token(Kind.OP, op, op, i + len(op))
    raise syntax_error(Token(Kind.OP, c, c, i + 1))


def _number(q: str, i: int) -> Token:
    j = i
    seen_dot = False
    while j < len(q) and (q[j].isdigit() or (q[j] == "." and not seen_dot)):
        seen_dot = seen_dot or q[j] == "."
        j += 1
    if j < len(q) and q[j] in "eE":
        k = j + 1
        if k < len(q) and q[k] in "+-":
            k += 1
        if k < len(q) and q[k].isdigit():
            j = k
            while j < len(q) and q[j].isdigit():
                j += 1
    text = q[i:j]
    if j < len(q) and (q[j].isalpha() or q[j] == "_"):
        raise syntax_error(Token(Kind.NUMBER, text, text, j))
    return Token(Kind.NUMBER, text, text, j)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}


_STRING_SPECIAL = {"'": re.compile(r"['\\]"), '"': re.compile(r'["\\]')}


def _string(q: str, i: int) -> Token:
    quote = q[i]
    special = _STRING_SPECIAL[quote]
    buf: list[str] = []
    j = i + 1
    while j < len(q):
        # Copy plain runs whole: a long literal costs one slice, not a step per character.
        m = special.search(q, j)
        if m is None:
            buf.append(q[j:])
            break
        buf.append(q[j : m.start()])
        j = m.start()
        c = q[j]
        if c == "\\" and j + 1 < len(q):
            buf.append(_ESCAPES.get(q[j + 1], q[j + 1]))
            j += 2
        elif c == "\\":  # a trailing backslash is itself
            buf.append(c)
            j += 1
        elif q.startswith(quote * 2, j):  # a doubled quote is one quote
            buf.append(quote)
            j += 2
        else:
            text = "".join(buf)
            return Token(Kind.STRING, text, text, j + 1)
    text = "".join(buf)
    raise syntax_error(Token(Kind.STRING, text, text, len(q)))
