"""A seeded generator of schedule specs for the differential tests: structured and
string calendars, cron strings (5/6/7 fields, names, aliases, `@every`, CRON_TZ),
intervals with phase, exclusions, start/end times, jitter, and time zones chosen for
their DST rules (north and south, 30-minute shifts, changes at midnight)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Range,
    ScheduleSpec,
    StructuredCalendarSpec,
)

ZONES = [
    "",
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Europe/London",
    "America/Los_Angeles",
    "Pacific/Chatham",
    "Asia/Tokyo",
]
# Hours around which DST changes happen, to hit skipped and repeated wall times.
DST_HOURS = [0, 1, 2, 3, 23]
MONTHS = ["jan", "FEB", "March", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DOWS = ["su", "MON", "tue", "Wednesday", "thu", "fri", "sat"]


def _values(rng: random.Random, lo: int, hi: int, dense: int) -> list[int]:
    return sorted(rng.sample(range(lo, hi + 1), k=min(dense, hi - lo + 1)))


def _ranges(
    rng: random.Random, lo: int, hi: int, *, single: list[int] | None = None
) -> list[Range]:
    kind = rng.random()
    if kind < 0.45:
        vals = single if single is not None and rng.random() < 0.6 else None
        vals = vals or _values(rng, lo, hi, rng.randint(1, 3))
        return [Range(start=v) for v in vals]
    if kind < 0.75:
        start = rng.randint(lo, hi)
        end = rng.randint(start, hi)
        return [Range(start=start, end=end, step=rng.choice([0, 1, 2, 3, 5]))]
    if kind < 0.9:
        return [Range(start=lo, end=hi, step=rng.choice([1, 2, 7, 15]))]
    # end 0 means "start alone"; an end before start is rejected
    start = rng.randint(lo + 1, hi)
    return [Range(start=start, end=0 if rng.random() < 0.8 else rng.randint(1, start))]


def structured(rng: random.Random, *, sparse: bool = True) -> StructuredCalendarSpec:
    cal = StructuredCalendarSpec(
        second=[Range(start=0)] if rng.random() < 0.8 else _ranges(rng, 0, 59),
        minute=_ranges(rng, 0, 59),
        hour=_ranges(rng, 0, 23, single=DST_HOURS),
        comment=rng.choice(["", "generated"]),
    )
    if sparse or rng.random() < 0.5:
        choice = rng.random()
        if choice < 0.3:
            cal.day_of_month.extend(_ranges(rng, 1, 31, single=[1, 28, 29, 30, 31]))
            cal.month.append(Range(start=1, end=12))
        elif choice < 0.6:
            cal.day_of_month.append(Range(start=1, end=31))
            cal.month.append(Range(start=1, end=12))
            cal.day_of_week.extend(_ranges(rng, 0, 6))
        else:
            cal.day_of_month.append(Range(start=1, end=31))
            cal.month.extend(_ranges(rng, 1, 12, single=[2, 3, 10, 11]))
            cal.day_of_week.append(Range(start=0, end=6))
    else:
        cal.day_of_month.append(Range(start=1, end=31))
        cal.month.append(Range(start=1, end=12))
        cal.day_of_week.append(Range(start=0, end=6))
    if rng.random() < 0.15:
        cal.year.append(Range(start=2024, end=2026, step=rng.choice([1, 2])))
    return cal


def _field(rng: random.Random, lo: int, hi: int, names: list[str] | None = None) -> str:
    def value(v: int) -> str:
        if names is not None and rng.random() < 0.4:
            return names[v - lo] if names is MONTHS else names[v % 7]
        return str(v)

    kind = rng.random()
    if kind < 0.3:
        return "*"
    if kind < 0.55:
        return ",".join(value(v) for v in _values(rng, lo, hi, rng.randint(1, 3)))
    if kind < 0.75:
        start = rng.randint(lo, hi)
        end = rng.randint(start, hi)
        text = f"{value(start)}-{value(end)}"
        return text + (f"/{rng.randint(1, 4)}" if rng.random() < 0.5 else "")
    if kind < 0.9:
        return f"{rng.choice(['*', str(rng.randint(lo, hi))])}/{rng.randint(1, 12)}"
    return f"{rng.randint(lo, hi)},{rng.randint(lo, hi)}-{hi}"


def cron(rng: random.Random, tz: str) -> str:
    kind = rng.random()
    if kind < 0.12:
        body = rng.choice(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly"])
    elif kind < 0.22:
        unit = rng.choice(["m", "h", "d"])
        n = rng.randint(1, 50 if unit == "m" else 30 if unit == "h" else 3)
        body = f"@every {n}{unit}"
        if rng.random() < 0.5:
            body += f"/{rng.randint(0, n - 1)}{unit}" if n > 1 else ""
    else:
        minute = _field(rng, 0, 59) if rng.random() < 0.7 else str(rng.randint(0, 59))
        hour = str(rng.choice(DST_HOURS)) if rng.random() < 0.4 else _field(rng, 0, 23)
        dom = _field(rng, 1, 31) if rng.random() < 0.5 else "*"
        month = _field(rng, 1, 12, MONTHS) if rng.random() < 0.5 else "*"
        dow = _field(rng, 0, 7, DOWS) if rng.random() < 0.5 else "*"
        fields = [minute, hour, dom, month, dow]
        shape = rng.random()
        if shape < 0.15:
            fields.append(rng.choice(["*", "2024", "2024-2026", "2025,2027"]))
        elif shape < 0.3:
            fields = [rng.choice(["0", "30", "*/20", "15,45"]), *fields, "*"]
        body = " ".join(fields)
        if rng.random() < 0.15:
            body += " # generated"
    if tz and not body.startswith("@every") and rng.random() < 0.5:
        return f"{rng.choice(['CRON_TZ', 'TZ'])}={tz} {body}"
    return body


def calendar_strings(rng: random.Random) -> CalendarSpec:
    return CalendarSpec(
        second=rng.choice(["", "0", "30"]),
        minute=rng.choice(["", "0", "*/15", "5,35", "10-20/5"]),
        hour=rng.choice(["", "*", "2", "9-17", "0-23/6", "1,2,3"]),
        day_of_month=rng.choice(["", "*", "1", "15", "29-31", "1/10"]),
        month=rng.choice(["", "*", "feb", "mar-apr", "10,11", "1/3"]),
        day_of_week=rng.choice(["", "*", "mon-fri", "0", "7", "sat,sun", "1-7/2", "3-7"]),
        year=rng.choice(["", "", "2024", "2025-2026"]),
    )


def interval(rng: random.Random) -> IntervalSpec:
    seconds = rng.choice([90, 37 * 60, 3600, 5400, 6 * 3600, 86400, 7 * 86400, 11 * 3600 + 7])
    iv = IntervalSpec()
    iv.interval.FromSeconds(seconds)
    if rng.random() < 0.6:
        iv.phase.FromSeconds(rng.randint(0, seconds - 1))
    return iv


def generate(seed: int) -> tuple[ScheduleSpec, datetime, datetime]:
    """One spec and the year-long window to list its times in."""
    rng = random.Random(seed)
    tz = rng.choice(ZONES)
    spec = ScheduleSpec()
    kind = rng.random()
    if kind < 0.3:
        spec.structured_calendar.extend(structured(rng) for _ in range(rng.randint(1, 2)))
    elif kind < 0.55:
        strings = [cron(rng, tz) for _ in range(rng.randint(1, 2))]
        # every cron string must name the same zone (or none), as Temporal requires
        named = [s.split(" ", 1)[0].split("=", 1)[1] for s in strings if "TZ=" in s.split(" ")[0]]
        if named and len(named) != len(strings):
            strings = [s for s in strings if "TZ=" in s.split(" ")[0]]
        spec.cron_string.extend(strings)
        if named:
            tz = ""
    elif kind < 0.7:
        spec.calendar.extend(calendar_strings(rng) for _ in range(rng.randint(1, 2)))
    elif kind < 0.85:
        spec.interval.extend(interval(rng) for _ in range(rng.randint(1, 2)))
    else:
        spec.structured_calendar.append(structured(rng))
        spec.interval.append(interval(rng))
        spec.cron_string.append(cron(rng, ""))
    if rng.random() < 0.3:
        spec.exclude_structured_calendar.append(structured(rng, sparse=rng.random() < 0.5))
    if rng.random() < 0.1:
        spec.exclude_calendar.append(calendar_strings(rng))
    spec.timezone_name = tz
    window_start = datetime(2023, 6, 1, tzinfo=UTC) + timedelta(
        seconds=rng.randint(0, 2 * 365 * 86400), microseconds=rng.choice([0, 500_000])
    )
    window_end = window_start + timedelta(days=365)
    if rng.random() < 0.25:
        spec.start_time.FromDatetime(window_start + timedelta(seconds=rng.randint(0, 90 * 86400)))
        if rng.random() < 0.5:
            spec.start_time.nanos = rng.randint(0, 999_999_999)
    if rng.random() < 0.25:
        spec.end_time.FromDatetime(window_end - timedelta(seconds=rng.randint(0, 90 * 86400)))
    if rng.random() < 0.3:
        spec.jitter.FromSeconds(rng.choice([1, 30, 600, 7200, 86400 * 3]))
    return spec, window_start, window_end
