"""Evaluation of Temporal schedule specs: which times a schedule's actions fall on.

A port of Temporal's service/worker/scheduler/spec.go so that schedules fire at
the very times Temporal's would: `canonicalize` turns cron strings and string
calendars into structured calendars and validates (what CreateSchedule stores and
DescribeSchedule returns), `CompiledSpec.next_time` is GetNextTime (first nominal
time after t, exclusions, start/end time, deterministic jitter) and
`matching_times` answers ListScheduleMatchingTimes.

Times are handled as integer nanoseconds since the Unix epoch internally: Temporal
truncates to whole seconds in some places and compares at nanosecond precision in
others, and both must be reproduced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from google.protobuf.duration_pb2 import Duration
from temporalio.api.schedule.v1 import IntervalSpec, ScheduleSpec
from temporalio.api.workflowservice.v1 import (
    ListScheduleMatchingTimesRequest,
    ListScheduleMatchingTimesResponse,
)

from pytemporal.scheduler.calendar import (
    MAX_CALENDAR_YEAR,
    CalendarError,
    CompiledCalendar,
    clean_ranges,
    parse_calendar,
    parse_cron_string,
    validate_structured,
)
from pytemporal.scheduler.farmhash import fingerprint32
from pytemporal.scheduler.gotime import NANOS_PER_SECOND, TimeError, Zone, load_location

# ListScheduleMatchingTimes answers at most this many times.
MAX_MATCHING_TIMES = 1000
# scheduler.specMaxIterations: how many excluded candidates a search may skip.
MAX_ITERATIONS = 2 * 7 * 24 * 60 * 60
_MS = 1_000_000
_MAX_DURATION = (1 << 63) - 1
# Go's zero time.Time is year 1; Temporal never matches past the end of 2100 (UTC).
_PAST_MAX_YEAR = int(dt.datetime(MAX_CALENDAR_YEAR + 1, 1, 1, tzinfo=dt.UTC).timestamp())
# time.Time.MarshalBinary counts seconds from 0001-01-01.
_UNIX_TO_INTERNAL = 62135596800
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

TOO_MANY_EXCLUSIONS = (
    "the schedule calendar specification has too many exclusions. Please modify the specification."
)


class SpecError(ValueError):
    """An invalid schedule spec or request; the message is Temporal's, ready for
    INVALID_ARGUMENT."""


@dataclass(frozen=True)
class ScheduledTime:
    nominal: datetime_t  # the time the spec matched
    actual: datetime_t  # nominal plus the deterministic jitter: when the action runs


datetime_t = dt.datetime


def to_nanos(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    delta = t - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NANOS_PER_SECOND + delta.microseconds * 1000


def from_nanos(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def _duration_nanos(d: Duration) -> int:
    """durationpb.AsDuration: saturates at the int64 bounds."""
    ns = int(d.seconds) * NANOS_PER_SECOND + int(d.nanos)
    return max(-_MAX_DURATION - 1, min(_MAX_DURATION, ns))


def _check_duration(d: Duration) -> str | None:
    """durationpb.CheckValid's complaint, if any."""
    seconds, nanos = d.seconds, d.nanos
    text = " ".join(
        p for p in (f"seconds:{seconds}" if seconds else "", f"nanos:{nanos}" if nanos else "") if p
    )
    if seconds < -315576000000:
        return f"proto: duration ({text}) exceeds -10000 years"
    if seconds > 315576000000:
        return f"proto: duration ({text}) exceeds +10000 years"
    if not -999999999 <= nanos <= 999999999:
        return f"proto: duration ({text}) has out-of-range nanos"
    if (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        return f"proto: duration ({text}) has seconds and nanos with different signs"
    return None


def _validate_interval(iv: IntervalSpec) -> None:
    interval, phase = _duration_nanos(iv.interval), _duration_nanos(iv.phase)
    if interval < NANOS_PER_SECOND:
        raise SpecError("Invalid schedule spec: interval is too small")
    if phase < 0:
        raise SpecError("Invalid schedule spec: phase is negative")
    if phase >= interval:
        raise SpecError("Invalid schedule spec: phase cannot be greater than Interval")


def _canonical(spec: ScheduleSpec) -> ScheduleSpec:
    """canonicalizeSpec (plus the frontend's duration check), raising SpecError."""
    for iv in spec.interval:
        for what, d in (("interval", iv.interval), ("phase", iv.phase)):
            problem = _check_duration(d)
            if problem is not None:
                raise SpecError(f"Invalid schedule spec: {what} is not a valid duration: {problem}")
    out = ScheduleSpec()
    out.CopyFrom(spec)
    try:
        for cal in spec.calendar:
            out.structured_calendar.append(parse_calendar(cal))
        del out.calendar[:]
        for cal in spec.exclude_calendar:
            out.exclude_structured_calendar.append(parse_calendar(cal))
        del out.exclude_calendar[:]
        cron_tz: str | None = None
        for cs in spec.cron_string:
            structured, interval, tz = parse_cron_string(cs)
            if cron_tz is not None and tz != cron_tz:
                # All cron strings must agree on the zone, whether they name one or not.
                raise CalendarError("conflicting timezone names")
            cron_tz = tz
            if structured is not None:
                out.structured_calendar.append(structured)
            if interval is not None:
                out.interval.append(interval)
        del out.cron_string[:]
        if cron_tz:
            if (out.timezone_name and out.timezone_name != cron_tz) or out.timezone_data:
                raise CalendarError("conflicting timezone names")
            out.timezone_name = cron_tz
        for structured in out.structured_calendar:
            validate_structured(structured)
    except (CalendarError, TimeError) as exc:
        raise SpecError(f"Invalid schedule spec: {exc}") from None
    for iv in out.interval:
        _validate_interval(iv)
    return out


def _clean(spec: ScheduleSpec) -> None:
    for cals in (spec.structured_calendar, spec.exclude_structured_calendar):
        for c in cals:
            for field in (
                c.second,
                c.minute,
                c.hour,
                c.day_of_month,
                c.month,
                c.year,
                c.day_of_week,
            ):
                clean_ranges(field)


def canonicalize(spec: ScheduleSpec) -> ScheduleSpec:
    """The spec as Temporal stores it and DescribeSchedule returns it: cron strings and
    string calendars become structured calendars and intervals, a cron string's zone
    moves to `timezone_name`, range defaults are filled in. Raises SpecError (with the
    "Invalid schedule spec: ..." message of CreateSchedule) when Temporal rejects it,
    including an unknown time zone."""
    out = _canonical(spec)
    _load_zone(out)
    _clean(out)
    return out


def _load_zone(spec: ScheduleSpec) -> Zone:
    try:
        return load_location(spec.timezone_name, spec.timezone_data)
    except TimeError as exc:
        raise SpecError(f"Invalid schedule spec: {exc}") from None


def _go_div(a: int, b: int) -> int:
    """Go's integer division truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class CompiledSpec:
    """A schedule spec ready for evaluation. `jitter_seed` is Temporal's:
    f"{namespace_id}-{schedule_id}"."""

    def __init__(self, spec: ScheduleSpec, *, jitter_seed: str = "") -> None:
        self.spec = _canonical(spec)
        self.tz = _load_zone(self.spec)
        self.jitter_seed = jitter_seed.encode()
        self.calendars = [CompiledCalendar(c, self.tz) for c in self.spec.structured_calendar]
        self.excludes = [
            CompiledCalendar(c, self.tz) for c in self.spec.exclude_structured_calendar
        ]
        self.intervals = [
            (
                max(_duration_nanos(iv.interval) // NANOS_PER_SECOND, 1),
                max(_go_div(_duration_nanos(iv.phase), NANOS_PER_SECOND), 0),
            )
            for iv in self.spec.interval
        ]
        s = self.spec
        self.start_ns = (
            s.start_time.seconds * NANOS_PER_SECOND + s.start_time.nanos
            if s.HasField("start_time")
            else 0
        )
        self.end_ns = (
            s.end_time.seconds * NANOS_PER_SECOND + s.end_time.nanos
            if s.HasField("end_time")
            else None
        )
        self.jitter_ns = _duration_nanos(s.jitter)

    def canonical_form(self) -> ScheduleSpec:
        out = ScheduleSpec()
        out.CopyFrom(self.spec)
        _clean(out)
        return out

    def _raw_next(self, after: int) -> int | None:
        """rawNextTime: the first unix second matched by a calendar or interval after
        the unix second `after`, ignoring exclusions and the end time."""
        best: int | None = None
        for cal in self.calendars:
            t = cal.next(after)
            if t is not None and (best is None or t < best):
                best = t
        for interval, phase in self.intervals:
            t = (_go_div(after - phase, interval) + 1) * interval + phase
            if best is None or t < best:
                best = t
        return best

    def _past_end(self, t: int) -> bool:
        return (
            self.end_ns is not None and t * NANOS_PER_SECOND > self.end_ns
        ) or t >= _PAST_MAX_YEAR

    def _excluded(self, t: int) -> bool:
        return any(cal.matches(t) for cal in self.excludes)

    def next_nanos(self, after_ns: int) -> tuple[int, int] | None:
        """GetNextTime on nanosecond timestamps: (nominal, actual) or None."""
        # Before the start time, search from just before it so its first second counts.
        after_ns = max(after_ns, self.start_ns - NANOS_PER_SECOND)
        after = after_ns // NANOS_PER_SECOND
        nominal: int | None = None
        iterations = 0
        while nominal is None or self._excluded(nominal):
            if iterations >= MAX_ITERATIONS:
                raise SpecError(TOO_MANY_EXCLUSIONS)
            iterations += 1
            nominal = self._raw_next(after)
            if nominal is None or self._past_end(nominal):
                return None
            after = nominal
        max_jitter = self.jitter_ns
        # Jitter never pushes an action past the next nominal time.
        following = self._raw_next(nominal)
        if following is not None:
            max_jitter = min(max_jitter, (following - nominal) * NANOS_PER_SECOND)
        return nominal * NANOS_PER_SECOND, nominal * NANOS_PER_SECOND + self._jitter(
            nominal, max_jitter
        )

    def _jitter(self, nominal: int, max_jitter: int) -> int:
        """addJitter: a fraction of max_jitter (in whole milliseconds) taken from a hash
        of the nominal time (Go's binary encoding of a UTC time) and the seed."""
        ms = min(max(max_jitter, 0) // _MS, 0xFFFFFFFF)
        if ms == 0:
            return 0
        encoded = (
            b"\x01"
            + (nominal + _UNIX_TO_INTERNAL).to_bytes(8, "big", signed=True)
            + b"\x00\x00\x00\x00\xff\xff"
            + self.jitter_seed
        )
        return ((fingerprint32(encoded) * ms) >> 32) * _MS

    def next_time(self, after: dt.datetime) -> ScheduledTime | None:
        """The first action strictly after `after` (timezone-aware), or None."""
        res = self.next_nanos(to_nanos(after))
        if res is None:
            return None
        return ScheduledTime(from_nanos(res[0]), from_nanos(res[1]))

    def matching_nanos(self, start_ns: int, end_ns: int) -> list[int]:
        out: list[int] = []
        t = start_ns
        for _ in range(MAX_MATCHING_TIMES):
            res = self.next_nanos(t)
            if res is None or res[1] > end_ns:
                break
            t = res[1]
            out.append(t)
        return out

    def matching_times(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """The action times (jitter included, as Temporal) in (start, end], at most
        1000: what ListScheduleMatchingTimes returns."""
        return [from_nanos(t) for t in self.matching_nanos(to_nanos(start), to_nanos(end))]


def matching_times_response(
    spec: ScheduleSpec, request: ListScheduleMatchingTimesRequest, *, jitter_seed: str = ""
) -> ListScheduleMatchingTimesResponse:
    """ListScheduleMatchingTimes for a schedule whose stored spec is `spec`;
    `jitter_seed` is f"{namespace_id}-{schedule_id}". Raises SpecError."""
    if not request.HasField("start_time") or not request.HasField("end_time"):
        raise SpecError("missing or invalid query")
    start = request.start_time.seconds * NANOS_PER_SECOND + request.start_time.nanos
    end = request.end_time.seconds * NANOS_PER_SECOND + request.end_time.nanos
    try:
        compiled = CompiledSpec(spec, jitter_seed=jitter_seed)
    except SpecError as exc:
        raise SpecError(f"invalid schedule: {exc}") from None
    resp = ListScheduleMatchingTimesResponse()
    for t in compiled.matching_nanos(start, end):
        resp.start_time.add().FromNanoseconds(t)
    return resp
