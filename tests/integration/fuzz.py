"""Seeded mutation of valid requests, generic over protobuf descriptors (for test_fuzz).

`Mutator(seed).mutate(request)` changes one to three fields somewhere in the request
tree, chosen at random among the fields its descriptor declares: strings become empty,
huge, unicode or garbage; integers extremes; durations negative, mixed-sign or huge;
enums unknown values; nested messages dropped, emptied or cloned; repeated fields
cleared, duplicated or grown; bytes (task tokens, page tokens) random. It returns a
description of what it did, so a finding can be read back and reproduced from the seed.

Namespaces are only ever replaced by names from `namespaces`: the fuzz must not reach
the workflows it checks afterwards.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

F = FieldDescriptor

_STRINGS = [
    "",
    " ",
    "x" * 1001,  # just past limit.maxIDLength
    "y" * 70_000,
    "ünïcødé ✓ 🙂 \u202e",
    "\x00\x01\x7f",
    "' OR 1=1 --",
    "%s%n%x{0}${jndi:ldap://x}",
    "../../../etc/passwd",
    "Running",
    "-1",
    "1e309",
    "TemporalScheduler",
]
_QUERIES = [
    "(" * 250 + "WorkflowId = 'a'" + ")" * 250,
    " OR ".join(["WorkflowId = 'a'"] * 1500),
    "NOT " * 300 + "WorkflowId = 'a'",
    "WorkflowId = ",
    "ExecutionStatus = 'Bogus' ORDER BY StartTime",
    "StartTime > '9999-99-99'",
    "CustomKeywordField = 'x' GROUP BY WorkflowType",
    "WorkflowId IN (" + ",".join(["'a'"] * 40_000) + ")",
    "HistoryLength > 1e400",
    "ExecutionDuration > '999999999999h'",
]
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
_RANGES = {
    F.TYPE_INT32: _INT32,
    F.TYPE_SINT32: _INT32,
    F.TYPE_SFIXED32: _INT32,
    F.TYPE_INT64: _INT64,
    F.TYPE_SINT64: _INT64,
    F.TYPE_SFIXED64: _INT64,
    F.TYPE_UINT32: _UINT32,
    F.TYPE_FIXED32: _UINT32,
    F.TYPE_UINT64: _UINT64,
    F.TYPE_FIXED64: _UINT64,
}
_MAX_DURATION_S = 315_576_000_000  # protobuf's largest valid Duration


def _durations() -> list[Duration]:
    return [
        Duration(seconds=-1),
        Duration(seconds=5, nanos=-1),
        Duration(seconds=-5, nanos=1),
        Duration(nanos=-1),
        Duration(seconds=10**15),
        Duration(seconds=_MAX_DURATION_S, nanos=999_999_999),
        Duration(seconds=-_MAX_DURATION_S),
        Duration(seconds=1, nanos=1_500_000_000),
        Duration(),
        Duration(nanos=1),
    ]


def _timestamps() -> list[Timestamp]:
    return [
        Timestamp(seconds=-62_135_596_801),  # before year 1
        Timestamp(seconds=253_402_300_800),  # after 9999-12-31
        Timestamp(seconds=2**62),
        Timestamp(seconds=1, nanos=-5),
        Timestamp(seconds=1, nanos=2_000_000_000),
        Timestamp(),
    ]


class Mutator:
    def __init__(
        self, seed: int, *, namespaces: Sequence[str], tokens: Sequence[bytes] = ()
    ) -> None:
        self.rng = random.Random(seed)
        self.namespaces = list(namespaces)
        self.tokens = list(tokens)

    def mutate(self, msg: Message) -> list[str]:
        """Mutate `msg` in place; a description per change."""
        return [self._once(msg, "") for _ in range(self.rng.choice((1, 1, 2, 3)))]

    # -- walking ----------------------------------------------------------------------

    def _once(self, msg: Message, path: str) -> str:
        fields = list(msg.DESCRIPTOR.fields)
        if not fields:
            return f"{path or '.'}: (no fields)"
        # Mostly a field the valid request sets: that is where the server's logic is
        # (a command's type, its attributes), not in the dozens of optional fields.
        present = [f for f, _ in msg.ListFields()]
        f = self.rng.choice(present if present and self.rng.random() < 0.7 else fields)
        here = f"{path}.{f.name}" if path else f.name
        descend = self.rng.random() < 0.6
        if f.type == F.TYPE_MESSAGE and not _is_map(f) and not _is_wkt(f):
            if f.is_repeated:
                items = getattr(msg, f.name)
                if len(items) and descend:
                    i = self.rng.randrange(len(items))
                    return self._once(items[i], f"{here}[{i}]")
            elif msg.HasField(f.name) and descend:
                return self._once(getattr(msg, f.name), here)
        return f"{here}: {self._leaf(msg, f)}"

    # -- one field --------------------------------------------------------------------

    def _leaf(self, msg: Message, f: FieldDescriptor) -> str:
        if _is_map(f):
            return self._map(msg, f)
        if f.is_repeated and (f.type == F.TYPE_MESSAGE or self.rng.random() < 0.7):
            return self._repeated(msg, f)
        if f.type == F.TYPE_MESSAGE:
            return self._message(msg, f)
        value = self._scalar(f)
        if f.is_repeated:
            getattr(msg, f.name).append(value)
            return f"append {_show(value)}"
        setattr(msg, f.name, value)
        return f"= {_show(value)}"

    def _scalar(self, f: FieldDescriptor) -> object:
        rng = self.rng
        if f.type == F.TYPE_STRING:
            if f.name == "namespace":
                return rng.choice([*self.namespaces, "", "no-such-namespace", "x" * 300])
            if f.name == "query" and rng.random() < 0.7:
                return rng.choice(_QUERIES)
            return rng.choice(_STRINGS)
        if f.type == F.TYPE_BYTES:
            choice = rng.randrange(4)
            if choice == 0 and self.tokens:
                return rng.choice(self.tokens)
            if choice == 1:
                return b""
            if choice == 2:
                return rng.randbytes(100_000)
            return rng.randbytes(rng.randrange(1, 64))
        if f.type == F.TYPE_BOOL:
            return rng.random() < 0.5
        if f.type == F.TYPE_ENUM:
            known = [v.number for v in f.enum_type.values]
            return rng.choice([*known, 999, -7, 2**31 - 1])
        if f.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return rng.choice([math.nan, math.inf, -math.inf, -1.0, 1e300, -0.0])
        lo, hi = _RANGES[f.type]
        return rng.choice([lo, hi, 0, -1 if lo < 0 else 1, rng.randint(lo, hi)])

    def _message(self, msg: Message, f: FieldDescriptor) -> str:
        rng = self.rng
        target = getattr(msg, f.name)
        name = f.message_type.full_name
        if name == "google.protobuf.Duration":
            d = rng.choice(_durations())
            target.CopyFrom(d)
            return f"Duration({d.seconds}s, {d.nanos}ns)"
        if name == "google.protobuf.Timestamp":
            t = rng.choice(_timestamps())
            target.CopyFrom(t)
            return f"Timestamp({t.seconds}s, {t.nanos}ns)"
        choice = rng.randrange(3)
        if choice == 0:
            msg.ClearField(f.name)
            return "dropped"
        if choice == 1:
            target.CopyFrom(type(target)())
            target.SetInParent()
            return "emptied"
        twins = [
            g
            for g in msg.DESCRIPTOR.fields
            if g is not f
            and g.type == F.TYPE_MESSAGE
            and not g.is_repeated
            and g.message_type is f.message_type
            and msg.HasField(g.name)
        ]
        if twins:
            twin = rng.choice(twins)
            target.CopyFrom(getattr(msg, twin.name))
            return f"cloned from {twin.name}"
        # Fill one field of a fresh message: mutations also build, not only break.
        target.CopyFrom(type(target)())
        target.SetInParent()
        return f"fresh with {self._once(target, '')}"

    def _repeated(self, msg: Message, f: FieldDescriptor) -> str:
        rng = self.rng
        items = getattr(msg, f.name)
        choice = rng.randrange(4)
        if choice == 0 or not len(items):
            if f.type == F.TYPE_MESSAGE:
                items.add()
                return "add empty element"
            items.append(self._scalar(f))
            return f"append {_show(items[-1])}"
        if choice == 1:
            msg.ClearField(f.name)
            return "cleared"
        copies = list(items) if choice == 2 else [items[0]] * 20
        for item in copies:
            if f.type == F.TYPE_MESSAGE:
                items.add().CopyFrom(item)
            else:
                items.append(item)
        return "duplicated" if choice == 2 else "first element x21"

    def _map(self, msg: Message, f: FieldDescriptor) -> str:
        rng = self.rng
        m = getattr(msg, f.name)
        if rng.random() < 0.3:
            msg.ClearField(f.name)
            return "cleared"
        key_field = f.message_type.fields_by_name["key"]
        value_field = f.message_type.fields_by_name["value"]
        key = self._scalar(key_field)
        if value_field.type == F.TYPE_MESSAGE:
            entry = m[key]  # created empty
            desc = self._once(entry, f"[{_show(key)}]") if entry.DESCRIPTOR.fields else ""
            return f"entry {_show(key)} {desc}"
        m[key] = self._scalar(value_field)
        return f"entry {_show(key)} = {_show(m[key])}"


def _is_map(f: FieldDescriptor) -> bool:
    return f.type == F.TYPE_MESSAGE and f.is_repeated and f.message_type.GetOptions().map_entry


def _is_wkt(f: FieldDescriptor) -> bool:
    return f.message_type.full_name in ("google.protobuf.Duration", "google.protobuf.Timestamp")


def _show(v: object) -> str:
    r = repr(v)
    return r if len(r) <= 40 else f"{r[:30]}...({len(r)} chars)"
