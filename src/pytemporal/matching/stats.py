"""What `DescribeTaskQueue` reports of a queue: who polled it lately, and its rates.

Temporal keeps the same in memory on the queue's owner (`matching/poller_history.go`,
`task_queue_stats`); none of it is stored, so a restart starts it afresh, as there.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass

# A poller that has not polled for this long is forgotten (Temporal:
# `matching.pollerHistoryTTL`, 5 minutes).
POLLER_TTL = 300.0
# Temporal averages the add and dispatch rates over the last 30 seconds.
RATE_WINDOW = 30
# What Temporal reports as a poller's rate when the worker sets no limit
# (`defaultTaskDispatchRPS`).
DEFAULT_POLLER_RATE = 100000.0


def wall_now() -> float:
    """Wall-clock seconds: what DescribeTaskQueue reports times in."""
    return time.time()


@dataclass(frozen=True)
class Poller:
    """Who polls: the worker's identity, its build id and its dispatch-rate limit."""

    identity: str
    rate_per_second: float = 0.0
    build_id: str = ""


@dataclass(frozen=True)
class PollerSeen:
    identity: str
    rate_per_second: float
    build_id: str
    last_access: float  # wall-clock seconds


class Rate:
    """Events per second over the last RATE_WINDOW seconds, in one-second buckets:
    constant memory, however busy the queue. A queue younger than the window is
    averaged over its age, as Temporal does."""

    def __init__(self, now: float | None = None) -> None:
        self._buckets: collections.deque[list[int]] = collections.deque()
        self._since = now if now is not None else time.monotonic()

    def add(self, now: float | None = None, n: int = 1) -> None:
        second = int(now if now is not None else time.monotonic())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([second, n])
        self._trim(second)

    def _trim(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - RATE_WINDOW:
            self._buckets.popleft()

    def per_second(self, now: float | None = None) -> float:
        second = int(now if now is not None else time.monotonic())
        self._trim(second)
        now = now if now is not None else time.monotonic()
        window = min(float(RATE_WINDOW), max(1.0, now - self._since))
        return sum(n for _, n in self._buckets) / window


class PollerHistory:
    """The recent pollers of one queue, by identity."""

    def __init__(self) -> None:
        self._seen: dict[str, PollerSeen] = {}

    def record(self, poller: Poller, now: float | None = None) -> None:
        if not poller.identity:
            return
        rate = poller.rate_per_second
        if not rate or math.isinf(rate):
            rate = DEFAULT_POLLER_RATE
        self._seen.pop(poller.identity, None)  # keep the newest last
        self._seen[poller.identity] = PollerSeen(
            poller.identity, rate, poller.build_id, now if now is not None else time.time()
        )

    def recent(self, now: float | None = None) -> list[PollerSeen]:
        now = now if now is not None else time.time()
        for identity in [i for i, p in self._seen.items() if now - p.last_access > POLLER_TTL]:
            del self._seen[identity]
        return sorted(self._seen.values(), key=lambda p: p.last_access, reverse=True)


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of one queue (namespace, name, kind) on this process."""

    pollers: list[PollerSeen]
    backlog_count: int
    backlog_age: float  # seconds, 0 when the backlog is empty
    add_rate: float
    dispatch_rate: float
