"""Time source. Every role takes a Clock so tests can control time."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds, never going backwards within a process.

    Event times must be monotonic inside a history; a wall clock stepped back by NTP
    must not produce an event older than its predecessor.
    """

    def __init__(self) -> None:
        self._last = 0.0

    def now(self) -> float:
        t = time.time()
        if t <= self._last:
            t = self._last + 1e-6
        self._last = t
        return t
