"""Search attributes as the query language sees them: names, types, literal values.

Pure: no I/O. Values are normalized to what the visibility table stores, so the SQL
compiler never converts anything: Datetime -> unix seconds (float), ExecutionStatus ->
the enum's int, ExecutionDuration -> nanoseconds (int).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from pytemporal.common.errors import InvalidArgument

KEYWORD = "Keyword"
TEXT = "Text"
INT = "Int"
DOUBLE = "Double"
BOOL = "Bool"
DATETIME = "Datetime"
KEYWORD_LIST = "KeywordList"
TYPES = frozenset({KEYWORD, TEXT, INT, DOUBLE, BOOL, DATETIME, KEYWORD_LIST})

# Attributes every record has, stored in their own columns (see visibility.sql).
SYSTEM: dict[str, str] = {
    "WorkflowId": KEYWORD,
    "RunId": KEYWORD,
    "WorkflowType": KEYWORD,
    "TaskQueue": KEYWORD,
    "ExecutionStatus": KEYWORD,
    "StartTime": DATETIME,
    "ExecutionTime": DATETIME,
    "CloseTime": DATETIME,
    "HistoryLength": INT,
    "ExecutionDuration": INT,
    "ParentWorkflowId": KEYWORD,
    "ParentRunId": KEYWORD,
    "RootWorkflowId": KEYWORD,
    "RootRunId": KEYWORD,
    "HistorySizeBytes": INT,
    "StateTransitionCount": INT,
}

# Known to every namespace but set by workflows (SDKs, schedules...): stored with the
# custom attributes.
PREDEFINED: dict[str, str] = {
    "TemporalChangeVersion": KEYWORD_LIST,
    "BinaryChecksums": KEYWORD_LIST,
    "BuildIds": KEYWORD_LIST,
    "TemporalPauseInfo": KEYWORD_LIST,
    "TemporalReportedProblems": KEYWORD_LIST,
    "TemporalUsedWorkerDeploymentVersions": KEYWORD_LIST,
    "BatcherNamespace": KEYWORD,
    "BatcherUser": KEYWORD,
    "TemporalScheduledById": KEYWORD,
    "TemporalNamespaceDivision": KEYWORD,
    "TemporalWorkerDeployment": KEYWORD,
    "TemporalWorkerDeploymentVersion": KEYWORD,
    "TemporalWorkflowVersioningBehavior": KEYWORD,
    "TemporalScheduledStartTime": DATETIME,
    "TemporalSchedulePaused": BOOL,
    "TemporalExternalPayloadCount": INT,
    "TemporalExternalPayloadSizeBytes": INT,
}

ALIASES = {"ScheduleId": "WorkflowId"}
NAMESPACE_DIVISION = "TemporalNamespaceDivision"
EXECUTION_STATUS = "ExecutionStatus"
EXECUTION_DURATION = "ExecutionDuration"
_PREFIX = "Temporal"

STATUS_NAMES: dict[str, int] = {
    "Running": 1,
    "Completed": 2,
    "Failed": 3,
    "Canceled": 4,
    "Terminated": 5,
    "ContinuedAsNew": 6,
    "TimedOut": 7,
    "Paused": 8,
}
STATUS_BY_VALUE = {v: k for k, v in STATUS_NAMES.items()}

Value = str | int | float | bool


class InvalidQuery(InvalidArgument):
    """A list filter Temporal would reject; the message carries its `invalid query:` prefix."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid query: {reason}")
        self.reason = reason


def invalid_expression(detail: str) -> InvalidQuery:
    return InvalidQuery(f"invalid expression: {detail}")


def not_supported(detail: str) -> InvalidQuery:
    return InvalidQuery(f"operation is not supported: {detail}")


@dataclass(frozen=True)
class Attribute:
    name: str  # canonical: aliases resolved, `Temporal` prefix as registered
    type: str
    system: bool  # a column of its own rather than a key of the search_attributes JSON


def resolve(name: str, custom: dict[str, str]) -> Attribute:
    """The attribute a query's column name refers to, or InvalidQuery."""
    name = ALIASES.get(name, name)
    if name in SYSTEM:
        return Attribute(name, SYSTEM[name], system=True)
    if name in PREDEFINED:
        return Attribute(name, PREDEFINED[name], system=False)
    if name in custom:
        return Attribute(name, custom[name], system=False)
    # The `Temporal` prefix is optional on system and predefined names only.
    if name.startswith(_PREFIX) and len(name) > len(_PREFIX):
        stripped = ALIASES.get(name[len(_PREFIX) :], name[len(_PREFIX) :])
        if stripped in SYSTEM:
            return Attribute(stripped, SYSTEM[stripped], system=True)
    elif _PREFIX + name in PREDEFINED:
        return Attribute(_PREFIX + name, PREDEFINED[_PREFIX + name], system=False)
    raise InvalidQuery(f"invalid search attribute: {name}")


# -- literal values ------------------------------------------------------------------


def _go_repr(v: Value) -> str:
    """A value as Go's `%#v` prints it, with its Go type, for error messages."""
    if isinstance(v, bool):
        return f"{str(v).lower()} (type: bool)"
    if isinstance(v, int):
        return f"{v} (type: int64)"
    if isinstance(v, float):
        return f"{v:g} (type: float64)"
    escaped = v.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" (type: string)'


def _wrong_type(attr: Attribute, v: Value) -> InvalidQuery:
    return invalid_expression(
        f"invalid value type for search attribute {attr.name} of type {attr.type}: {_go_repr(v)}"
    )


def convert(attr: Attribute, v: Value, now: float | None = None) -> Value:
    """A literal as stored for `attr`; InvalidQuery when the type does not fit. `now`
    anchors relative Datetime literals (see `parse_datetime`)."""
    if attr.name == EXECUTION_STATUS:
        return _status(v)
    if attr.name == EXECUTION_DURATION:
        return _duration(v)
    t = attr.type
    if t in (KEYWORD, TEXT, KEYWORD_LIST):
        if isinstance(v, str):
            return v
    elif t in (INT, DOUBLE):
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v) if t == DOUBLE else v
    elif t == BOOL:
        if isinstance(v, bool):
            return v
    elif t == DATETIME:
        if isinstance(v, str):
            return parse_datetime(v, now)
        if isinstance(v, int) and not isinstance(v, bool):
            return v / 1e9
    raise _wrong_type(attr, v)


def _status(v: Value) -> int:
    if isinstance(v, str) and v in STATUS_NAMES:
        return STATUS_NAMES[v]
    if isinstance(v, int) and not isinstance(v, bool) and v in STATUS_BY_VALUE:
        return v
    shown = f"'{v}'" if isinstance(v, str) else _go_repr(v).split(" (")[0]
    raise invalid_expression(f"invalid ExecutionStatus value {shown}")


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:(Z)|([+-])(\d{2}):(\d{2}))"
)


_RELATIVE = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d))+")


def parse_datetime(s: str, now: float | None = None) -> float:
    """RFC 3339 (with up to nanoseconds) to unix seconds. Beyond Temporal (its issue
    #8349), with `now`: `'now'`, or a Go duration (with `d` for days) counted back
    from now (`'-15m'`, `'15m'`: fifteen minutes ago) or forward with a `+`."""
    m = _RFC3339.fullmatch(s)
    if m is None and now is not None:
        relative = _relative(s.strip(), now)
        if relative is not None:
            return relative
    if m is None:
        raise invalid_expression(f"unable to parse datetime '{s}'")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zulu, sign, tzh, tzm = m.groups()[6:]
    tz = UTC
    if not zulu:
        offset = timedelta(hours=int(tzh), minutes=int(tzm))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as e:
        raise invalid_expression(f"unable to parse datetime '{s}'") from e
    return dt.timestamp() + (int(frac.ljust(9, "0")) / 1e9 if frac else 0.0)


def _relative(s: str, now: float) -> float | None:
    if s.lower() == "now":
        return now
    if not _RELATIVE.fullmatch(s):
        return None
    body = s.lstrip("+-")
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in _GO_PART.findall(body)) / 1e9
    return now + seconds if s.startswith("+") else now - seconds


_GO_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000}
_GO_UNITS |= {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_CLOCK = re.compile(r"(\d+):(\d{2}):(\d{2})")


def _duration(v: Value) -> int:
    """ExecutionDuration literals: integer nanoseconds, `hh:mm:ss` or Go's `1h30m` (+`d`)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if not isinstance(v, str):
        go_type = "bool" if isinstance(v, bool) else "float64"
        raise invalid_expression(
            f"unexpected value type {go_type} for search attribute {EXECUTION_DURATION}"
        )
    return _duration_ns(v)


def _duration_ns(s: str) -> int:
    invalid = invalid_expression(
        f"invalid duration value for search attribute {EXECUTION_DURATION}: {s}"
    )
    if len(s) > 100:  # Go's int64 nanoseconds: no valid duration is written this long
        raise invalid
    if s.isdigit():
        total = int(s)
    elif m := _CLOCK.fullmatch(s):
        h, mi, sec = (int(g) for g in m.groups())
        total = (h * 3600 + mi * 60 + sec) * 10**9
    else:
        body = s[1:] if s[:1] in "+-" else s
        parts = _GO_PART.findall(body)
        if not body or "".join(n + u for n, u in parts) != body:
            raise invalid
        total = round(sum(float(n) * _GO_UNITS[u] for n, u in parts))
        total = -total if s.startswith("-") else total
    if not -(2**63) <= total < 2**63:  # past Go's time.Duration (292 years)
        raise invalid
    return total
