"""The mutable-state cache: runs loaded on demand, bounded by count and by bytes.

An entry holds a run's committed state (never its history, which is read from the
store page by page), its lock and the event long-pollers wait on. Least recently used
entries are evicted once the cache is over either bound, except entries something in
memory still depends on: a holder of the lock, a long-poll waiter, an in-flight query
or update (`pinned`). Those stay until released; the bounds
are therefore soft by the number of such runs, which callers bound themselves.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pytemporal.history.workflow.state import MutableState

Key = tuple[str, str, str]  # namespace_id, workflow_id, run_id

DEFAULT_MAX_COUNT = 4096
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class Entry:
    key: Key
    ms: MutableState
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    valid: bool = True
    # Encoded size of the state: what the byte bound counts.
    size: int = 0
    # The run's timer-task row as stored (None: no row).
    timer: float | None = None
    # Backlog rows stored for the run, (kind, scheduled event id); None: not known
    # (loaded from the store), so the next commit brings them in step.
    task_rows: set[tuple[str, int]] | None = field(default_factory=set)
    # Long polls waiting on `changed`: the entry must stay so they hear of commits.
    waiters: int = 0
    # The next deadline of the state being committed, computed once for the mutation
    # and handed to the timer queue when the commit is published.
    armed: tuple[float | None] | None = None

    def notify(self) -> None:
        old, self.changed = self.changed, asyncio.Event()
        old.set()


@dataclass(frozen=True)
class CacheStats:
    count: int
    bytes: int
    pinned: int
    evictions: int


class RunCache:
    def __init__(
        self,
        *,
        max_count: int = DEFAULT_MAX_COUNT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        pinned: Callable[[Entry], bool] = lambda e: False,
    ) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._pinned_by_owner = pinned
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._bytes = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def peek(self, key: Key) -> Entry | None:
        return self._entries.get(key)

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or not entry.valid:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, entry: Entry) -> None:
        old = self._entries.pop(entry.key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[entry.key] = entry
        self._bytes += entry.size
        self._evict()

    def resize(self, entry: Entry, size: int) -> None:
        if self._entries.get(entry.key) is entry:
            self._bytes += size - entry.size
        entry.size = size
        self._evict()

    def invalidate(self, entry: Entry) -> None:
        entry.valid = False
        entry.notify()  # long polls waiting on it look again
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
            self._bytes -= entry.size

    def pinned(self, entry: Entry) -> bool:
        return entry.lock.locked() or entry.waiters > 0 or self._pinned_by_owner(entry)

    def _evict(self) -> None:
        if len(self._entries) <= self.max_count and self._bytes <= self.max_bytes:
            return
        # The newest entry stays whatever its size: its loader is about to use it.
        for key, entry in list(self._entries.items())[:-1]:
            if len(self._entries) <= self.max_count and self._bytes <= self.max_bytes:
                return
            if self.pinned(entry):
                continue
            # A holder of the object sees it is no longer valid and loads it again.
            entry.valid = False
            entry.notify()
            del self._entries[key]
            self._bytes -= entry.size
            self.evictions += 1

    def stats(self) -> CacheStats:
        pinned = sum(1 for e in self._entries.values() if self.pinned(e))
        return CacheStats(len(self._entries), self._bytes, pinned, self.evictions)
