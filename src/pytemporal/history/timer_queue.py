"""The durable timer queue: each run's earliest deadline is a row in `timer_tasks`.

A commit writes the run's row in the same transaction as its state
(`HistoryEngine._mutation`), so a deadline can never be lost or fire for state that
was not committed. This processor keeps in memory only what falls due within
`LOOKAHEAD`: it reads the due head of the table for the shards this process owns (at
start, at a shard takeover, and as time advances), merges the deadlines that commits
publish, and fires each through the engine, which handles whatever is due under the
run's lock and commits the run's next deadline (or deletes the row). Restart and
takeover therefore read the head of one index, whatever the number of open runs.

A run with cross-workflow work to deliver (its outbox) has a row due at once, so that
a restart delivers it; while this process is delivering it the row is left alone.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Sequence

from pytemporal.common.clock import Clock
from pytemporal.persistence.api import Store

log = logging.getLogger(__name__)

Key = tuple[str, str, str]
LOOKAHEAD = 60.0
READ_LIMIT = 1000
# Deadlines fired at once; each is a load + commit, so commits share transactions.
CONCURRENCY = 64
RETRY = 1.0


class TimerQueue:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        fire: Callable[[Key], Awaitable[float | None]],
        shards: Callable[[], Sequence[int] | None],
    ) -> None:
        """`fire(key)` handles what is due and returns the run's next deadline;
        `shards()` is the shards to read (None: all)."""
        self._store = store
        self._clock = clock
        self._fire_run = fire
        self._shards = shards
        self._heap: list[tuple[float, Key]] = []
        # Deadlines within the horizon, as last published or read: the heap's truth.
        self._known: dict[Key, float] = {}
        self._firing: set[Key] = set()
        self._delivering: set[Key] = set()
        self._horizon = float("-inf")
        self._full_page = False
        # Deadlines published while a read is in flight: the read's snapshot may
        # predate their commit, and the horizon is about to move.
        self._reading = False
        self._published_during_read: list[tuple[Key, float | None, bool]] = []
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self.fired = 0

    # -- what commits tell us --------------------------------------------------------

    def published(self, key: Key, deadline: float | None, delivering: bool) -> None:
        """A commit (or a load) of `key` set its next deadline."""
        if self._reading:
            self._published_during_read.append((key, deadline, delivering))
        if delivering:
            self._delivering.add(key)
        else:
            self._delivering.discard(key)
        if deadline is None or deadline > self._horizon:
            self._known.pop(key, None)  # beyond the horizon: read from the table later
            return
        if self._known.get(key) == deadline:
            return
        self._known[key] = deadline
        heapq.heappush(self._heap, (deadline, key))
        if self._heap[0][1] == key:
            self._wakeup.set()

    def delivering(self, key: Key) -> bool:
        return key in self._delivering

    def reset(self) -> None:
        """Shards were acquired: read the table's head again."""
        self._horizon = float("-inf")
        self._wakeup.set()

    def stats(self) -> dict[str, int]:
        return {
            "in_memory": len(self._known),
            "firing": len(self._firing),
            "delivering": len(self._delivering),
            "fired": self.fired,
        }

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                self._wakeup.clear()
                now = self._clock.now()
                if now >= self._horizon - LOOKAHEAD / 2 and not (self._full_page and self._firing):
                    await self._read(now)
                self._fire_due(self._clock.now())
                await self._sleep()
        finally:
            for t in list(self._tasks):
                t.cancel()

    async def _read(self, now: float) -> None:
        self._reading = True
        try:
            await self._read_head(now)
        finally:
            self._reading = False
            replay, self._published_during_read = self._published_during_read, []
            for key, deadline, delivering in replay:
                if deadline is not None and deadline <= self._horizon:
                    self._known.pop(key, None)  # the published value wins over the row
                self.published(key, deadline, delivering)

    async def _read_head(self, now: float) -> None:
        until = now + LOOKAHEAD
        try:
            rows = await self._store.read_timers(self._shards(), until, READ_LIMIT)
        except Exception:
            log.exception("reading due timers failed; retrying in %.0fs", RETRY)
            self._horizon = now + RETRY - LOOKAHEAD / 2
            return
        self._full_page = len(rows) == READ_LIMIT
        # A full page ends where it ends: rows after it are read once it has fired.
        self._horizon = rows[-1].fire_time if self._full_page else until
        for row in rows:
            key = (row.namespace_id, row.workflow_id, row.run_id)
            if key in self._known or key in self._firing or key in self._delivering:
                continue  # memory knows better: published since the row was read
            self._known[key] = row.fire_time
            heapq.heappush(self._heap, (row.fire_time, key))

    def _fire_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._known.get(key) != when or key in self._firing:
                continue  # superseded by a later publish
            del self._known[key]
            self._firing.add(key)
            task = asyncio.get_running_loop().create_task(self._fire(key, when))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fire(self, key: Key, when: float) -> None:
        async with self._slots:
            try:
                nxt = await self._fire_run(key)
            except Exception:
                log.exception("timer of %s failed; retrying in %.0fs", key, RETRY)
                nxt = self._clock.now() + RETRY
            finally:
                self._firing.discard(key)
                self.fired += 1
        if nxt is not None and nxt <= when and key not in self._delivering:
            # Firing changed nothing that moves the deadline: do not spin on it.
            log.warning("deadline of %s did not advance; retrying in %.0fs", key, RETRY)
            nxt = self._clock.now() + RETRY
        if nxt is not None and key not in self._known:
            self.published(key, nxt, key in self._delivering)
        self._wakeup.set()

    async def _sleep(self) -> None:
        now = self._clock.now()
        wake = self._horizon - LOOKAHEAD / 2
        if self._heap:
            wake = min(wake, self._heap[0][0])
        delay = min(max(wake - now, 0.0), LOOKAHEAD)
        if delay <= 0 and (self._full_page and self._firing):
            delay = LOOKAHEAD  # wait for the in-flight page; each fire wakes us
        await self._clock.wait(self._wakeup, now + delay)
