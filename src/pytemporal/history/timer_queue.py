"""The durable timer queue: each run's earliest deadline is a row in `timer_tasks`.

A commit writes the run's row in the same transaction as its state
(`HistoryEngine._mutation`), so a deadline can never be lost or fire for state that
was not committed. This processor keeps in memory only what falls due within
`LOOKAHEAD`: it scans the table for the shards this process owns in pages, in
(fire time, run) order, up to a window end (at start, at a shard takeover, and as time
advances), merges the deadlines that commits publish, and fires each through the
engine, which handles whatever is due under the run's lock and commits the run's next
deadline (or deletes the row). Restart and takeover therefore read the head of one
index, whatever the number of open runs.

A run with cross-workflow work to deliver (its outbox) has a row due at once, so that
a restart delivers it. While this process delivers it, the row is skipped and the
run's real deadline, kept in memory, is used instead.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Sequence

from pytemporal.common import logcontext
from pytemporal.common.clock import Clock
from pytemporal.persistence.api import Store, TimerRow

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
        # Deadlines up to the horizon, as last published or read: the heap's truth.
        self._known: dict[Key, float] = {}
        self._firing: set[Key] = set()
        # Runs whose outbox this process delivers -> their real next deadline.
        self._delivering: dict[Key, float | None] = {}
        # The table is scanned up to `_horizon`; a scan in progress continues after
        # `_cursor` up to `_scan_until`. `_epoch` restarts a scan (shards acquired).
        self._horizon = float("-inf")
        self._cursor: TimerRow | None = None
        self._scan_until = float("-inf")
        self._epoch = 0
        self._retry_read_at = float("-inf")
        # Deadlines published while a read is in flight: its snapshot may predate their
        # commit, and the horizon is about to move; replayed after the read.
        self._reading = False
        self._published_during_read: list[tuple[Key, float | None, bool]] = []
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self.fired = 0
        # Called after each firing (the time-skipping mode waits for firings to end).
        self.on_fired: Callable[[], None] | None = None
        # Set when metrics are on: hears how late each due deadline is fired (seconds).
        self.on_lag: Callable[[float], None] | None = None

    # -- what commits tell us --------------------------------------------------------

    def published(self, key: Key, deadline: float | None, delivering: bool) -> None:
        """A commit (or a load) of `key` set its next deadline."""
        if self._reading:
            self._published_during_read.append((key, deadline, delivering))
        if delivering:
            self._delivering[key] = deadline
        else:
            self._delivering.pop(key, None)
        if deadline is None or deadline > self._horizon:
            # Beyond what was scanned: the scan that covers it reads it from the table.
            self._known.pop(key, None)
            return
        if self._known.get(key) == deadline:
            return
        self._push(key, deadline)

    def delivering(self, key: Key) -> bool:
        return key in self._delivering

    def reset(self) -> None:
        """Shards were acquired: scan the table again from its head."""
        self._epoch += 1
        self._horizon = float("-inf")
        self._cursor = None
        self._wakeup.set()

    def forget(self, lost: Callable[[Key], bool]) -> None:
        """Shards were lost: their runs are another process's now."""
        self._known = {k: t for k, t in self._known.items() if not lost(k)}
        self._delivering = {k: t for k, t in self._delivering.items() if not lost(k)}
        self._compact()

    @property
    def firing(self) -> int:
        return len(self._firing)

    def stats(self) -> dict[str, int]:
        return {
            "in_memory": len(self._known),
            "heap": len(self._heap),
            "firing": len(self._firing),
            "delivering": len(self._delivering),
            "fired": self.fired,
        }

    def _push(self, key: Key, when: float) -> None:
        self._known[key] = when
        heapq.heappush(self._heap, (when, key))
        if self._heap[0][1] == key:
            self._wakeup.set()
        if len(self._heap) > 2 * len(self._known) + READ_LIMIT:
            self._compact()  # superseded entries (heartbeats move deadlines often)

    def _compact(self) -> None:
        self._heap = [(t, k) for k, t in self._known.items()]
        heapq.heapify(self._heap)

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                self._wakeup.clear()
                now = self._clock.now()
                if self._cursor is None and now >= self._horizon - LOOKAHEAD / 2:
                    self._scan_until = now + LOOKAHEAD  # start a scan of the next window
                    self._cursor = None
                    await self._read_page(now, first=True)
                elif self._cursor is not None and len(self._heap) < READ_LIMIT:
                    await self._read_page(now, first=False)  # continue the scan
                self._fire_due(self._clock.now())
                await self._sleep()
                await asyncio.sleep(0)  # never starve the loop, whatever the clock says
        finally:
            for t in list(self._tasks):
                t.cancel()

    async def _read_page(self, now: float, *, first: bool) -> None:
        if now < self._retry_read_at:
            return
        self._reading = True
        try:
            await self._read_rows(now, first=first)
        finally:
            self._reading = False
            replay, self._published_during_read = self._published_during_read, []
            for key, deadline, delivering in replay:
                self._known.pop(key, None)  # the published value wins over the row
                self.published(key, deadline, delivering)

    async def _read_rows(self, now: float, *, first: bool) -> None:
        epoch = self._epoch
        after = None if first else self._cursor
        try:
            rows = await self._store.read_timers(
                self._shards(), self._scan_until, READ_LIMIT, after=after
            )
        except Exception:
            log.exception("reading due timers failed; retrying in %.0fs", RETRY)
            self._retry_read_at = now + RETRY
            if first:
                self._cursor = None
            return
        if epoch != self._epoch:
            return  # shards changed while reading: the reset scan starts over
        full = len(rows) == READ_LIMIT
        # Scanned up to here: a deadline published at or before it goes to the heap,
        # one after it is found by the rest of the scan.
        self._horizon = rows[-1].fire_time if full else self._scan_until
        self._cursor = rows[-1] if full else None
        for row in rows:
            key = (row.namespace_id, row.workflow_id, row.run_id)
            if key in self._known or key in self._firing:
                continue  # memory knows better: published since the row was written
            if key in self._delivering:
                real = self._delivering[key]  # the row only says "deliver the outbox"
                if real is not None and real <= self._scan_until:
                    self._push(key, real)
                continue
            self._push(key, row.fire_time)

    def _fire_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._known.get(key) != when or key in self._firing:
                continue  # superseded by a later publish, or being fired (it re-checks)
            del self._known[key]
            self._firing.add(key)
            task = asyncio.get_running_loop().create_task(self._fire(key, when))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fire(self, key: Key, when: float) -> None:
        with logcontext.run_tags(key):
            await self._fire_tagged(key, when)

    async def _fire_tagged(self, key: Key, when: float) -> None:
        failed = False
        nxt: float | None = None
        async with self._slots:
            if self.on_lag is not None:
                self.on_lag(self._clock.now() - when)
            try:
                nxt = await self._fire_run(key)
            except Exception:
                log.exception("timer of %s failed; retrying in %.0fs", key, RETRY)
                failed = True
            finally:
                self._firing.discard(key)
                self.fired += 1
        if failed:
            # Whatever was published meanwhile may belong to the failed commit.
            self._known.pop(key, None)
            self._push(key, self._clock.now() + RETRY)
        elif key in self._known:
            # Published while firing (and dropped from the heap then): re-queue it.
            heapq.heappush(self._heap, (self._known[key], key))
        elif nxt is not None and nxt <= when and key not in self._delivering:
            # Firing changed nothing that moves the deadline: do not spin on it.
            log.warning("deadline of %s did not advance; retrying in %.0fs", key, RETRY)
            self._push(key, self._clock.now() + RETRY)
        elif nxt is not None:
            self.published(key, nxt, key in self._delivering)
        self._wakeup.set()
        if self.on_fired is not None:
            self.on_fired()

    async def _sleep(self) -> None:
        now = self._clock.now()
        if self._cursor is not None and len(self._heap) < READ_LIMIT:
            wake = self._retry_read_at  # more of the scan to read
        else:
            wake = max(self._horizon - LOOKAHEAD / 2, self._retry_read_at)
        if self._heap:
            wake = min(wake, self._heap[0][0])
        if wake > now:
            await self._clock.wait(self._wakeup, min(wake, now + LOOKAHEAD))
