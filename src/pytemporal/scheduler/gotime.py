"""The few pieces of Go's `time` package that Temporal's schedule specs depend on.

Temporal evaluates calendars with `time.Date` in the schedule's zone and parses
`@every` durations with `time.ParseDuration`; matching its action times exactly
means reproducing how those normalise wall-clock times that a DST change skips or
repeats, and which strings they accept.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zoneinfo
from functools import lru_cache

UTC = dt.UTC
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
NANOS_PER_SECOND = 1_000_000_000
_MAX_INT64 = (1 << 63) - 1

Zone = dt.tzinfo


class TimeError(ValueError):
    """A Go `time` error, with Go's message."""


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=256)
def _load_named(name: str) -> Zone:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise TimeError(f"unknown time zone {name}") from exc


def load_location(name: str, data: bytes = b"") -> Zone:
    """time.LoadLocation / time.LoadLocationFromTZData."""
    if data:
        try:
            return zoneinfo.ZoneInfo.from_file(io.BytesIO(data), key=name or None)
        except (ValueError, OSError) as exc:
            raise TimeError("malformed time zone information") from exc
    # "Local" is the server's own zone in Go; servers run in UTC, and a schedule's
    # times must not depend on the host, so it is UTC here.
    if name in ("", "UTC", "Local"):
        return UTC
    if ".." in name or name[0] in "/\\":
        raise TimeError("time: invalid location name")
    return _load_named(name)


def _offset(unix: int, tz: Zone) -> int:
    off = dt.datetime.fromtimestamp(unix, tz).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def go_date(y: int, mo: int, d: int, h: int, mi: int, s: int, tz: Zone) -> int:
    """Unix seconds of time.Date(y, mo, d, h, mi, s, 0, tz), fields out of range
    normalised as Go does. A wall time skipped by a DST change maps forward by the
    size of the gap; a repeated one maps to whichever copy Go's lookup lands on
    (the later one east of UTC, the earlier one west of it)."""
    yq, m0 = divmod(mo - 1, 12)
    days = dt.date(y + yq, m0 + 1, 1).toordinal() - _EPOCH_ORDINAL + d - 1
    local = days * 86400 + h * 3600 + mi * 60 + s
    if tz is UTC:
        return local
    off = _offset(local, tz)
    if off == 0:
        return local
    # Go looks the offset up at `local` read as UTC; if `local - offset` falls outside
    # that zone period it uses the offset in force at `local - offset` instead. Both
    # cases come down to the offset at `local - offset`.
    return local - _offset(local - off, tz)


def local_fields(unix: int, tz: Zone) -> tuple[int, int, int, int, int, int, int]:
    """(year, month, day, hour, minute, second, weekday with Sunday=0) of t.In(tz)."""
    t = dt.datetime.fromtimestamp(unix, tz)
    return t.year, t.month, t.day, t.hour, t.minute, t.second, (t.weekday() + 1) % 7


def local_hour(unix: int, tz: Zone) -> int:
    return dt.datetime.fromtimestamp(unix, tz).hour


def days_in_month(mo: int, y: int) -> int:
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 + ((0b1010110101010 >> mo) & 1)


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "h": 3600 * NANOS_PER_SECOND,
}


def parse_go_duration(orig: str) -> int:
    """time.ParseDuration, in nanoseconds."""
    invalid = TimeError("time: invalid duration " + _quote(orig))
    s = orig
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            v = v * 10 + ord(s[i]) - 48
            if v > 1 << 63:
                raise invalid
            i += 1
        pre = i > 0
        s = s[i:]
        frac, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if frac > _MAX_INT64 // 10:
                        overflow = True
                    else:
                        nxt = frac * 10 + ord(s[i]) - 48
                        if nxt > _MAX_INT64:
                            overflow = True
                        else:
                            frac, scale = nxt, scale * 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise TimeError("time: missing unit in duration " + _quote(orig))
        unit_name, s = s[:i], s[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise TimeError(
                "time: unknown unit " + _quote(unit_name) + " in duration " + _quote(orig)
            )
        if v > (1 << 63) // unit:
            raise invalid
        v *= unit
        if frac > 0:
            v += int(float(frac) * (float(unit) / scale))
            if v > 1 << 63:
                raise invalid
        total += v
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > _MAX_INT64:
        raise invalid
    return total


_DAYS = re.compile(r"([0-9]+(\.[0-9]*)?|(\.[0-9]+))d")


def parse_temporal_duration(s: str) -> int:
    """Temporal's timestamp.ParseDuration: Go's, plus `d` for 24 hours."""

    def days(m: re.Match[str]) -> str:
        return f"{24 * float(m.group(0)[:-1]):f}h"

    return parse_go_duration(_DAYS.sub(days, s))
