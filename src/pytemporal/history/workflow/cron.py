"""Cron schedules for `cron_schedule` workflows: the robfig/cron "standard" parser (pure).

Five fields (minute hour day-of-month month day-of-week) with `*`, ranges, steps,
lists and month/day names; the `@yearly`-style shorthands; `@every <duration>`; and an
optional `CRON_TZ=<zone>` prefix. As in robfig, when both day fields are restricted a
day matches if either does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool
    tz: ZoneInfo | None = None
    every: float = 0.0

    def next(self, after: float) -> float:
        """The first matching time strictly after `after` (Unix seconds)."""
        if self.every:
            return float(int(after) + max(1, int(self.every)))
        tz = self.tz or ZoneInfo("UTC")
        t = datetime.fromtimestamp(int(after) // 60 * 60 + 60, tz)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
                continue
            if t.minute not in self.minutes:
                t = t + timedelta(minutes=1)
                continue
            return t.astimezone(UTC).timestamp()
        raise CronError("cron schedule never fires")

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow


def _duration(text: str) -> float:
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or total <= 0:
        raise CronError(f"invalid duration in cron schedule: {text!r}")
    return total


def _value(token: str, names: dict[str, int]) -> int:
    key = token.lower()
    if key in names:
        return names[key]
    if not token.isdigit():
        raise CronError(f"invalid cron value {token!r}")
    return int(token)


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid cron step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names or {}), _value(b, names or {})
        else:
            start = _value(part, names or {})
            end = hi if step > 1 else start
        if not lo <= start <= end <= hi:
            raise CronError(f"cron value out of range in {text!r}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def parse(spec: str) -> Schedule:
    text = spec.strip()
    tz: ZoneInfo | None = None
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        try:
            tz = ZoneInfo(zone.split("=", 1)[1])
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise CronError(f"unknown time zone in cron schedule: {zone}") from e
        text = text.strip()
    if text.startswith("@every "):
        every = _duration(text[len("@every ") :].strip())
        star = frozenset[int]()
        return Schedule(star, star, star, star, star, True, True, tz, every)
    text = _SHORTHANDS.get(text, text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {spec!r}")
    weekdays = _field(fields[4], 0, 7, _DAYS)
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    return Schedule(
        minutes=_field(fields[0], 0, 59),
        hours=_field(fields[1], 0, 23),
        days=_field(fields[2], 1, 31),
        months=_field(fields[3], 1, 12, _MONTHS),
        weekdays=weekdays,
        days_star=fields[2] in ("*", "?"),
        weekdays_star=fields[4] in ("*", "?"),
        tz=tz,
    )


def backoff(spec: str, now: float, *, after: float | None = None) -> float:
    """Seconds from `now` to the next tick after `after` (default now), rounded up."""
    nxt = parse(spec).next(now if after is None else after)
    while nxt <= now:
        nxt = parse(spec).next(nxt)
    delay = nxt - now
    return float(int(delay) + (0 if delay == int(delay) else 1))
