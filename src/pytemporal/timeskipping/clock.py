"""The skipping clock: wall time plus an offset that only grows, with the lock counter
of Temporal's Java test server (its `SelfAdvancingTimerImpl`).

While the lock count is positive, the clock runs at the wall clock's pace. At zero, the
skipper (`skipper.py`) may `jump_to` the next deadline whenever nothing is runnable.
Every role reads this clock, so timers, timeouts, retries, cron and event times all
follow the skipped time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable

from pytemporal.common.clock import Clock
from pytemporal.common.errors import FailedPrecondition

# Java's IllegalStateException text (its status is UNKNOWN there; here FAILED_PRECONDITION).
UNBALANCED = "Unbalanced lock and unlock calls"


class SkippingClock(Clock):
    def __init__(self, *, locked: bool = True) -> None:
        super().__init__()
        self._offset = 0.0
        # Java's test server starts with one lock when the SDKs launch it (they unlock
        # around awaiting a result); `--enable-time-skipping` starts it unlocked.
        self.locks = 1 if locked else 0
        # Clients waiting for an update's outcome: while there is one, one lock counts
        # as released (without touching the counter that Lock/Unlock calls balance).
        self.update_waiters = 0
        # Locks the server itself holds (skipper.py: work in progress). As in the Java
        # server, they share the counter with the client's: an activity may release
        # "its" lock with UnlockTimeSkippingWithSleep, letting its own heartbeat
        # timeout be skipped to.
        self.internal_locks: Callable[[], int] = lambda: 0
        self._waiters: set[asyncio.Event] = set()
        # Deadlines of TestService sleeps: (time, seq, done, relock).
        self._sleepers: list[tuple[float, int, asyncio.Event, bool]] = []
        self._seq = itertools.count()
        # Set whenever something the skipper decides on may have changed.
        self.changed = asyncio.Event()
        self.skipped = 0.0

    def now(self) -> float:
        # Clock.now keeps the result monotonic; the offset only grows.
        return super().now() + self._offset

    # -- locks -----------------------------------------------------------------------

    def lock(self) -> None:
        self.locks += 1

    def lock_count(self) -> int:
        return self.locks + self.internal_locks()

    def unlock(self) -> None:
        if self.lock_count() <= 0:
            raise FailedPrecondition(UNBALANCED)
        self.locks -= 1
        self.changed.set()

    # -- skipping --------------------------------------------------------------------

    def next_sleeper(self) -> float | None:
        self._drop_done()
        return self._sleepers[0][0] if self._sleepers else None

    def jump_to(self, when: float) -> None:
        """Move the clock forward to `when` (never back)."""
        delta = when - self.now()
        if delta <= 0:
            return
        self._offset += delta
        self.skipped += delta
        self._wake(when)

    def _wake(self, now: float) -> None:
        # A sleep that unlocked relocks on reaching its time, before any further skip
        # (Java takes the lock in the timer callback), so time stops there.
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, done, relock = heapq.heappop(self._sleepers)
            if relock and not done.is_set():
                self.locks += 1
            done.set()
        for event in self._waiters:
            event.set()  # every waiter re-checks its own deadline

    def _drop_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].is_set():
            heapq.heappop(self._sleepers)

    # -- waiting ---------------------------------------------------------------------

    async def wait(self, event: asyncio.Event, until: float) -> None:
        delay = until - self.now()
        if delay <= 0 or event.is_set():
            return
        self._waiters.add(event)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await event.wait()
        finally:
            self._waiters.discard(event)

    async def sleep_until(self, when: float, *, unlock: bool = False) -> None:
        """Return once the clock reaches `when`, a deadline the skipper may jump to.
        With `unlock`: release one lock meanwhile and take it back on reaching `when`
        (the lock is given back even if the caller goes away)."""
        if unlock:
            self.unlock()  # raises when unbalanced, before anything is registered
        done = asyncio.Event()
        entry = (when, next(self._seq), done, unlock)
        heapq.heappush(self._sleepers, entry)
        self.changed.set()
        try:
            while not done.is_set():
                now = self.now()
                if now >= when:
                    self._wake(now)  # real time got there: release it (and relock)
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(when - now):
                        await done.wait()
        finally:
            if not done.is_set():
                done.set()  # cancelled: nobody waits for this deadline any more
                if unlock:
                    self.locks += 1
                self.changed.set()
