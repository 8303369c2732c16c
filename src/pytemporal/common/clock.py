"""Time source. Every role takes a Clock so tests can control time."""

from __future__ import annotations

import asyncio
import contextlib
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

    async def wait(self, event: asyncio.Event, until: float) -> None:
        """Return once `event` is set or this clock reaches `until`, whichever is first
        (possibly earlier: callers re-check what they wait for)."""
        delay = until - self.now()
        if delay <= 0 or event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await event.wait()


class ManualClock(Clock):
    """A clock that moves only when told (`advance`), for deterministic tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__()
        self._now = start
        self._waiters: set[asyncio.Event] = set()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        # Wake every waiter; each re-checks its own deadline.
        for event in self._waiters:
            event.set()

    async def wait(self, event: asyncio.Event, until: float) -> None:
        if self._now >= until or event.is_set():
            return
        self._waiters.add(event)
        try:
            await event.wait()
        finally:
            self._waiters.discard(event)
