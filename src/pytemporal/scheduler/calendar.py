"""Calendar specs: parsing (legacy string calendars, cron strings) into structured
calendars, their validation, and the search for the next matching time.

A port of Temporal's service/worker/scheduler/calendar.go (and the validation in
spec.go): the search walks wall-clock fields in the schedule's zone exactly as
Temporal's does, including its handling of hours a DST change skips or repeats, so
that action times are identical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Range,
    StructuredCalendarSpec,
)

from pytemporal.scheduler.gotime import (
    Zone,
    days_in_month,
    go_date,
    local_fields,
    local_hour,
    parse_temporal_duration,
)

MIN_CALENDAR_YEAR = 2000
# Temporal stops looking for calendar matches after this year.
MAX_CALENDAR_YEAR = 2100
# Unix seconds past which no calendar matches (a day of margin for zone offsets), and
# before which local times would fall before year 1 (Python's datetime minimum).
_PAST_LAST_YEAR = 4_133_980_800 + 2 * 86_400  # 2101-01-01T00:00Z + 2 days
_FIRST_DAYS = -62_135_596_800 + 2 * 86_400  # 0001-01-01T00:00Z + 2 days
MAX_COMMENT_LEN = 200

_MODE_INT, _MODE_YEAR, _MODE_MONTH, _MODE_DOW = range(4)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DOWS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
_ATOI = re.compile(r"[+-]?[0-9]+")
_MAX_INT = (1 << 63) - 1


class CalendarError(ValueError):
    """A calendar or cron string Temporal rejects; the message is Temporal's."""


def _atoi(s: str) -> int:
    """strconv.Atoi."""
    if not _ATOI.fullmatch(s):
        raise CalendarError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    v = int(s)
    if not -_MAX_INT - 1 <= v <= _MAX_INT:
        raise CalendarError(f'strconv.Atoi: parsing "{s}": value out of range')
    return v


def _parse_value(s: str, lo: int, hi: int, mode: int) -> int:
    names = _MONTHS if mode == _MODE_MONTH else _DOWS if mode == _MODE_DOW else None
    min_len = 3 if mode == _MODE_MONTH else 2
    if names is not None and len(s) >= min_len:
        low = s.lower()
        for i, name in enumerate(names):
            if name.startswith(low):
                v = i + 1 if mode == _MODE_MONTH else i
                if v < lo or v > hi:
                    raise CalendarError("out of range")
                return v
    v = _atoi(s)
    if v < lo or v > hi:
        raise CalendarError("out of range")
    return v


def make_range(s: str, field: str, default: str, lo: int, hi: int, mode: int) -> list[Range]:
    """Parses one field of a string calendar (`*`, `x`, `x-z`, `x-z/y`, `x/y`, lists)."""
    s = s.strip()
    if s == "":
        s = default
    if s == "*" and mode == _MODE_YEAR:
        return []  # every year is the empty list
    ranges: list[Range] = []
    for part in s.split(","):
        step = 1
        has_step = False
        slashes = part.count("/")
        if slashes > 1:
            raise CalendarError(f"{field} has too many slashes")
        if slashes == 1:
            part, step_s = part.split("/", 1)
            if step_s == "":
                raise CalendarError(f"{field} missing step value")
            step = _atoi(step_s)
            if step < 1:
                raise CalendarError(f"{field} has invalid Step")
            has_step = True
        start, end = lo, hi
        if part != "*":
            if "-" in part:
                if part.count("-") > 1:
                    raise CalendarError(f"{field} has too many dashes")
                first, second = part.split("-", 1)
                try:
                    start = _parse_value(first, lo, hi, mode)
                except CalendarError:
                    raise CalendarError(f"{field} Start is not in range [{lo}-{hi}]") from None
                try:
                    end = _parse_value(second, start, hi, mode)
                except CalendarError:
                    raise CalendarError(
                        f"{field} End is before Start or not in range [{lo}-{hi}]"
                    ) from None
            else:
                try:
                    start = _parse_value(part, lo, hi, mode)
                except CalendarError:
                    raise CalendarError(f"{field} is not in range [{lo}-{hi}]") from None
                if not has_step:
                    end = start
        # Day of week 7 is Sunday, 0: a range reaching 7 becomes one ending at 6, plus
        # a separate 0 when the original range actually hit 7.
        if mode == _MODE_DOW and end == 7:
            if (7 - start) % step == 0 and (step > 1 or (step == 1 and start > 1)):
                ranges.append(Range(start=0))
                if start == 7:
                    continue
            end = 6
        if start == end:
            end = 0
        if step == 1:
            step = 0
        ranges.append(Range(start=start, end=end, step=step))
    return ranges


def parse_calendar(cal: CalendarSpec) -> StructuredCalendarSpec:
    """parseCalendarToStructured: a legacy string calendar as a structured one."""
    errs: list[str] = []

    def rng(s: str, field: str, default: str, lo: int, hi: int, mode: int) -> list[Range]:
        try:
            return make_range(s, field, default, lo, hi, mode)
        except CalendarError as exc:
            errs.append(str(exc))
            return []

    out = StructuredCalendarSpec(
        second=rng(cal.second, "Second", "0", 0, 59, _MODE_INT),
        minute=rng(cal.minute, "Minute", "0", 0, 59, _MODE_INT),
        hour=rng(cal.hour, "Hour", "0", 0, 23, _MODE_INT),
        day_of_week=rng(cal.day_of_week, "DayOfWeek", "*", 0, 7, _MODE_DOW),
        day_of_month=rng(cal.day_of_month, "DayOfMonth", "*", 1, 31, _MODE_INT),
        month=rng(cal.month, "Month", "*", 1, 12, _MODE_MONTH),
        year=rng(cal.year, "Year", "*", MIN_CALENDAR_YEAR, MAX_CALENDAR_YEAR, _MODE_YEAR),
        comment=cal.comment,
    )
    if errs:
        raise CalendarError(", ".join(errs))
    return out


_PREDEFINED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _duration(ns: int) -> IntervalSpec:
    iv = IntervalSpec()
    iv.interval.FromNanoseconds(ns)
    return iv


def parse_cron_string(c: str) -> tuple[StructuredCalendarSpec | None, IntervalSpec | None, str]:
    """parseCronString: (calendar, interval, time zone name) of one cron string."""
    tz_name = ""
    c = c.strip()
    if c.startswith("TZ=") or c.startswith("CRON_TZ="):
        tz, sep, rest = c.partition(" ")
        if not sep:
            raise CalendarError("CronString has time zone but missing fields")
        c = rest
        tz_name = tz.partition("=")[2]
    c, _, comment = c.partition("#")
    c = c.strip()
    comment = comment.strip()
    if c.startswith("@every"):
        # The zone of an `@every` string is dropped (it is not a calendar).
        _, sep, rest = c.partition(" ")
        if not sep:
            raise CalendarError("CronString does not have interval after @every")
        interval, _, phase = rest.partition("/")
        iv = _duration(parse_temporal_duration(interval))
        if phase != "":
            iv.phase.FromNanoseconds(parse_temporal_duration(phase))
        return None, iv, ""
    c = _PREDEFINED.get(c, c)
    toks = c.split()
    cal = CalendarSpec(comment=comment)
    if len(toks) == 5:
        cal.minute, cal.hour, cal.day_of_month, cal.month, cal.day_of_week = toks
    elif len(toks) == 6:
        cal.minute, cal.hour, cal.day_of_month, cal.month, cal.day_of_week, cal.year = toks
    elif len(toks) == 7:
        (
            cal.second,
            cal.minute,
            cal.hour,
            cal.day_of_month,
            cal.month,
            cal.day_of_week,
            cal.year,
        ) = toks
    else:
        raise CalendarError("CronString does not have 5-7 fields")
    return parse_calendar(cal), None, tz_name


def validate_structured(scs: StructuredCalendarSpec) -> None:
    errs: list[str] = []

    def check(ranges: Sequence[Range], field: str, lo: int, hi: int) -> None:
        for r in ranges:
            if r.start < lo or r.start > hi:
                errs.append(f"{field} Start is not in range [{lo}-{hi}]")
            if r.end != 0 and (r.end < r.start or r.end > hi):
                errs.append(f"{field} End is before Start or not in range [{lo}-{hi}]")
            if r.step < 0:
                errs.append(f"{field} has invalid Step")

    check(scs.second, "Second", 0, 59)
    check(scs.minute, "Minute", 0, 59)
    check(scs.hour, "Hour", 0, 23)
    check(scs.day_of_month, "DayOfMonth", 1, 31)
    check(scs.month, "Month", 1, 12)
    check(scs.year, "Year", MIN_CALENDAR_YEAR, MAX_CALENDAR_YEAR)
    check(scs.day_of_week, "DayOfWeek", 0, 6)
    # Go measures the comment in bytes.
    if len(scs.comment.encode()) > MAX_COMMENT_LEN:
        errs.append("comment is too long")
    if errs:
        raise CalendarError("invalid calendar spec: " + ", ".join(errs))


def clean_ranges(ranges: Iterable[Range]) -> None:
    """CleanSpec: the defaults DescribeSchedule fills into ranges."""
    for r in ranges:
        if r.end < r.start:
            r.end = r.start
        if r.step == 0:
            r.step = 1


def _spans(ranges: Iterable[Range]) -> Iterable[tuple[int, int, int]]:
    for r in ranges:
        start, end, step = r.start, r.end, r.step or 1
        yield start, max(start, end), max(step, 1)


def _bit_matcher(ranges: Sequence[Range]) -> Callable[[int], bool]:
    # Go sets bits of a 64-bit mask: values outside 0..63 never match. Exclusions are
    # not validated, so ranges can be huge; only the 64 useful values are visited.
    values: set[int] = set()
    for start, end, step in _spans(ranges):
        if start < 0:
            start += -(start // step) * step
        values.update(range(start, min(end, 63) + 1, step))
    return frozenset(values).__contains__


def _year_matcher(ranges: Sequence[Range]) -> Callable[[int], bool]:
    if not ranges:
        return lambda _y: True
    # Go keeps the years as int16, wrapping larger values.
    values: set[int] = set()
    for start, end, step in _spans(ranges):
        span = range(start, end + 1, step)
        if len(span) >= 1 << 16:
            span = range(start, start + (1 << 16) * step, step)
        values.update(((v + (1 << 15)) % (1 << 16)) - (1 << 15) for v in span)
    return frozenset(values).__contains__


class CompiledCalendar:
    def __init__(self, cal: StructuredCalendarSpec, tz: Zone) -> None:
        self.tz = tz
        self.year = _year_matcher(cal.year)
        self.month = _bit_matcher(cal.month)
        self.day_of_month = _bit_matcher(cal.day_of_month)
        self.day_of_week = _bit_matcher(cal.day_of_week)
        self.hour = _bit_matcher(cal.hour)
        self.minute = _bit_matcher(cal.minute)
        self.second = _bit_matcher(cal.second)
        # A field list that matches nothing (e.g. an empty `second`) never matches;
        # Temporal finds that out by searching up to 2100.
        self.never = not all(
            any(f(v) for v in range(64))
            for f in (
                self.month,
                self.day_of_month,
                self.day_of_week,
                self.hour,
                self.minute,
                self.second,
            )
        )

    def matches(self, unix: int) -> bool:
        if not _FIRST_DAYS <= unix < _PAST_LAST_YEAR:
            return False  # outside every calendar's years (and Python's datetime range)
        y, mo, d, h, m, s, wd = local_fields(unix, self.tz)
        return (
            self.year(y)
            and self.month(mo)
            and self.day_of_month(d)
            and self.day_of_week(wd)
            and self.hour(h)
            and self.minute(m)
            and self.second(s)
        )

    def next(self, after: int) -> int | None:
        """The first matching unix second after `after` (a unix second), if any."""
        if self.never or after >= _PAST_LAST_YEAR:
            return None
        # Nothing matches before year 1 either; clamping keeps local times in range.
        after = max(after, _FIRST_DAYS)
        tz = self.tz
        y, mo, d, h, m, s, _ = local_fields(after, tz)
        # In the second copy of an hour a DST change repeats?
        dstoffset = 3600 if local_hour(after - 3600, tz) == h else 0
        s += 1
        while True:
            if s >= 60:
                m, s = m + 1, 0
            if m >= 60:
                prev = go_date(y, mo, d, h, 0, 0, tz)
                h, m = h + 1, 0
                nxt = go_date(y, mo, d, h, 0, 0, tz)
                # Moving to the next hour took two hours: a repeated hour was
                # skipped over; go through it again in its second copy.
                if dstoffset == 0 and nxt - prev > 3600:
                    h -= 1
                    dstoffset = 3600
                else:
                    dstoffset = 0
            if h >= 24:
                d, h = d + 1, 0
            if d > days_in_month(mo, y):
                mo, d = mo + 1, 1
            if mo > 12:
                y, mo = y + 1, 1
            if y > MAX_CALENDAR_YEAR:
                return None
            if not self.year(y):
                y, mo, d, h, m, s = y + 1, 1, 1, 0, 0, 0
                dstoffset = 0
                continue
            restart = False
            while not self.month(mo):
                mo, d, h, m, s = mo + 1, 1, 0, 0, 0
                dstoffset = 0
                if mo > 12:
                    restart = True
                    break
            if restart:
                continue
            while not self.day_of_month(d) or not self.day_of_week(
                local_fields(go_date(y, mo, d, h, m, s, tz), tz)[6]
            ):
                d, h, m, s = d + 1, 0, 0, 0
                dstoffset = 0
                if d > days_in_month(mo, y):
                    restart = True
                    break
            if restart:
                continue
            while not self.hour(h):
                h, m, s = h + 1, 0, 0
                dstoffset = 0
                if h >= 24:
                    restart = True
                    break
            if restart:
                continue
            while not self.minute(m):
                m, s = m + 1, 0
                if m >= 60:
                    restart = True
                    break
            if restart:
                continue
            while not self.second(s):
                s += 1
                if s >= 60:
                    restart = True
                    break
            if restart:
                continue
            ts = go_date(y, mo, d, h, m, s, tz)
            # A wall time a DST change skipped normalises to another hour: no match.
            if local_hour(ts, tz) != h:
                h, m, s = h + 1, 0, 0
                continue
            return ts + dstoffset
