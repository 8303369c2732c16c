"""Durations a client sends: Temporal's sign checks and its cap (pure).

Temporal accepts any non-negative protobuf Duration and silently caps it at 100
years (`timestamp.ValidateAndCapProtoDuration`); a negative one, or one whose seconds
and nanos disagree in sign, is refused. Capping here is what keeps every deadline we
derive (start time + timeout) inside the range a protobuf Timestamp can hold.
"""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from pytemporal.common.errors import InvalidArgument

# Temporal's MaxAllowedDuration: 100 years of 365 days.
MAX_SECONDS = 100 * 365 * 24 * 3600
NEGATIVE = "negative duration"
MIXED_SIGNS = "duration has seconds and nanos with different signs"


def problem(d: Duration) -> str | None:
    """Why `d` is refused, in Temporal's words; None when it is acceptable."""
    if (d.seconds > 0 and d.nanos < 0) or (d.seconds < 0 and d.nanos > 0):
        return MIXED_SIGNS
    if d.seconds < 0 or d.nanos < 0:
        return NEGATIVE
    return None


def cap(d: Duration) -> None:
    if d.seconds + d.nanos / 1e9 > MAX_SECONDS:
        d.seconds = MAX_SECONDS
        d.nanos = 0


def check_and_cap(msg: Message, field: str) -> str | None:
    """Validate `msg.field` (if set) and cap it in place; the problem, if any."""
    if not msg.HasField(field):
        return None
    d: Duration = getattr(msg, field)
    found = problem(d)
    if found is None:
        cap(d)
    return found


def camel(field: str) -> str:
    """`workflow_run_timeout` -> `WorkflowRunTimeout`, as Temporal names fields."""
    return "".join(p.capitalize() for p in field.split("_"))


START_FIELDS = (
    "workflow_execution_timeout",
    "workflow_run_timeout",
    "workflow_task_timeout",
    "workflow_start_delay",
)


def check_request(req: Message, fields: tuple[str, ...] = START_FIELDS) -> None:
    """A request's durations, checked and capped in place, with the frontend's message."""
    for f in fields:
        found = check_and_cap(req, f) if f in req.DESCRIPTOR.fields_by_name else None
        if found is not None:
            raise InvalidArgument(f"An invalid {camel(f)}Seconds is set on request. cause: {found}")
