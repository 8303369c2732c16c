"""Task queues: sync match to a waiting poller, else a backlog.

Matching holds only references; the history role re-validates each one when a poller
takes it (a stale reference is dropped). The durable backlog is the store's `tasks`
table, which every history commit keeps in step with the runs' pending tasks. Memory is
the fast path: history offers each task here after its commit, and a queue whose memory
is empty reads the head of its table (at its first poll, after a restart, after tasks
were spilled past `MEMORY_BACKLOG`, and every `RECHECK` while pollers wait, for tasks
offered to a process that could not be reached). A task can therefore be offered twice;
the second start finds it already started and is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytemporal.matching.stats import Poller, PollerHistory, QueueStats, Rate, wall_now
from pytemporal.persistence.api import TaskRow

STICKY_LIVENESS = 10.0
# Tasks held in memory per queue; beyond, they stay in the table until memory drains.
MEMORY_BACKLOG = 1000
READ_PAGE = 200
RECHECK = 2.0
# A queue whose memory never empties still reads its table this often, so a task that
# only the table holds (a lost hand-off) is not starved by a stream of new ones.
STALE_READ = 10.0
# A row handed out this recently is skipped by a re-read: its start is probably in flight.
RECENT = 10.0
# A task added to a queue polled less recently than this counts in `no_poller_tasks`.
NO_POLLER_AFTER = 60.0
# Between a task queue's name and a worker deployment version in the name of the queue
# the pollers of that version take from (a character task queue names never contain).
VERSION_SEP = "\x00"
# Which version's pollers get a task: (task, task queue, kind) -> version ("" unversioned).
Router = Callable[["TaskRef", str, str], str]


def versioned(name: str, version: str) -> str:
    return f"{name}{VERSION_SEP}{version}" if version else name


class TaskSource(Protocol):
    async def read_tasks(
        self, namespace_id: str, task_queue: str, kind: str, after_task_id: int, limit: int
    ) -> list[TaskRow]: ...


@dataclass(frozen=True)
class TaskRef:
    kind: str  # "workflow" | "activity" | "query"
    namespace_id: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int = 0
    attempt: int = 0
    normal_queue: str = ""
    query_id: str = ""
    # Names one offer of the task: starting it twice with the same id (a retry after a
    # lost commit reply) hands out the same task again instead of dropping it.
    request_id: str = ""
    # The worker deployment version ("deployment:build") a pinned run's tasks must go to.
    pinned: str = ""
    # A run continued-as-new onto its deployment's ramping version (whatever the ramp).
    ramping: bool = False
    # When it entered this process's backlog (wall clock), for the backlog's age.
    enqueued_at: float = field(default=0.0, compare=False)


@dataclass
class _Queue:
    tasks: collections.deque[TaskRef] = field(default_factory=collections.deque)
    pollers: collections.deque[asyncio.Future[TaskRef | None]] = field(
        default_factory=collections.deque
    )
    last_poll: float = 0.0
    unloaded: bool = False
    # The version of the pollers of a sticky queue ("" unversioned).
    version: str = ""
    # The durable backlog may hold tasks memory does not: read it when memory is empty.
    must_read: bool = True
    read_at: float = -RECHECK
    reading: asyncio.Future[None] | None = None
    history: PollerHistory = field(default_factory=PollerHistory)
    adds: Rate = field(default_factory=Rate)
    dispatches: Rate = field(default_factory=Rate)

    def offer(self, task: TaskRef, *, front: bool = False, durable: bool = False) -> None:
        while self.pollers:
            fut = self.pollers.popleft()
            if not fut.done():
                fut.set_result(task)
                return
        if durable and not front and len(self.tasks) >= MEMORY_BACKLOG:
            self.must_read = True  # its row is in the table; read when memory drains
            return
        if not task.enqueued_at:
            task = dataclasses.replace(task, enqueued_at=wall_now())
        if front:
            self.tasks.appendleft(task)
        else:
            self.tasks.append(task)


class Matching:
    def __init__(self, source: TaskSource | None = None) -> None:
        self._queues: dict[tuple[str, str, str], _Queue] = {}
        self._source = source
        # Tasks handed out recently, oldest first (a re-read of the table skips them).
        self._recent: collections.OrderedDict[tuple[str, str, str, str, int, int], float] = (
            collections.OrderedDict()
        )
        # Set by the server when metrics are on: hears of tasks no poller is waiting for,
        # as (namespace id, task queue, kind).
        self.on_unpolled: Callable[[str, str, str], None] | None = None
        # Set by the server: worker versioning (without it every poller is the same).
        self.router: Router | None = None

    def _queue(self, namespace_id: str, name: str, kind: str) -> _Queue:
        key = (namespace_id, name, kind)
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = _Queue()
        return q

    def _sticky_alive(self, namespace_id: str, name: str) -> bool:
        q = self._queues.get((namespace_id, name, "workflow"))
        if q is None or q.unloaded:
            return False
        return bool(q.pollers) or time.monotonic() - q.last_poll < STICKY_LIVENESS

    def _version(self, task: TaskRef, queue: str, kind: str) -> str:
        return "" if self.router is None else self.router(task, queue, kind)

    def _sticky_fits(self, task: TaskRef, queue: str) -> bool:
        """A sticky queue is used only while its worker is the version the task is for
        (an auto-upgrade run leaves its worker when another version becomes current)."""
        if not self._sticky_alive(task.namespace_id, queue):
            return False
        q = self._queues[(task.namespace_id, queue, "workflow")]
        return self.router is None or q.version == self._version(
            task, task.normal_queue, "workflow"
        )

    def add_workflow_task(self, task: TaskRef, queue: str, sticky: bool) -> None:
        if sticky and not self._sticky_fits(task, queue):
            queue, sticky = task.normal_queue, False
        if not sticky:
            queue = versioned(queue, self._version(task, queue, "workflow"))
        q = self._queue(task.namespace_id, queue, "workflow")
        q.adds.add()
        if self.on_unpolled is not None:
            self._check_pollers(q, task.namespace_id, queue, "workflow")
        q.offer(task, durable=True)

    def add_activity_task(self, task: TaskRef, queue: str) -> None:
        queue = versioned(queue, self._version(task, queue, "activity"))
        q = self._queue(task.namespace_id, queue, "activity")
        q.adds.add()
        if self.on_unpolled is not None:
            self._check_pollers(q, task.namespace_id, queue, "activity")
        q.offer(task, durable=True)

    def _check_pollers(self, q: _Queue, namespace_id: str, queue: str, kind: str) -> None:
        if not q.pollers and time.monotonic() - q.last_poll > NO_POLLER_AFTER:
            assert self.on_unpolled is not None
            # Reported under the task queue's own name, whatever version waits.
            self.on_unpolled(namespace_id, queue.partition(VERSION_SEP)[0], kind)

    def add_query_task(self, task: TaskRef, sticky_queue: str) -> None:
        queue = versioned(task.normal_queue, self._version(task, task.normal_queue, "query"))
        if sticky_queue and self._sticky_fits(task, sticky_queue):
            queue = sticky_queue
        self._queue(task.namespace_id, queue, "workflow").offer(task)

    async def poll(
        self,
        namespace_id: str,
        name: str,
        kind: str,
        timeout: float,
        poller: Poller | None = None,
        *,
        version: str = "",
        sticky: bool = False,
    ) -> TaskRef | None:
        """The next task of the queue `name` for a poller of `version` ("": an
        unversioned poller); a sticky queue is its worker's own, whatever its version.
        `poller` is remembered for `describe`."""
        base = name
        if sticky:
            q = self._queue(namespace_id, name, kind)
            q.version = version
        else:
            name = versioned(name, version)
            q = self._queue(namespace_id, name, kind)
        q.unloaded = False
        q.last_poll = time.monotonic()
        if poller is not None:
            q.history.record(poller)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._source is not None and kind != "query":
                await self._refill(q, namespace_id, base, kind)
            if q.tasks:
                return self._handed(q, q.tasks.popleft())
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            answered, task = await self._wait(
                q, min(remaining, RECHECK) if self._source else remaining
            )
            if answered:  # a task, or None when the queue was unloaded
                return None if task is None else self._handed(q, task)

    async def _wait(self, q: _Queue, timeout: float) -> tuple[bool, TaskRef | None]:
        fut: asyncio.Future[TaskRef | None] = asyncio.get_running_loop().create_future()
        q.pollers.append(fut)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(fut)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and (task := fut.result()) is not None:
                # Cancelled after a task was handed over: give it to the next poller.
                q.offer(task, front=True)
            else:
                self._drop_poller(q, fut)
            raise
        finally:
            q.last_poll = time.monotonic()
        if fut.done() and not fut.cancelled():
            return True, fut.result()
        self._drop_poller(q, fut)
        return False, None

    def _handed(self, q: _Queue, task: TaskRef) -> TaskRef:
        q.dispatches.add()
        if self._source is not None and task.kind != "query":
            self._remember(self._recent_key(task), time.monotonic())
        return task

    def _remember(self, key: tuple[str, str, str, str, int, int], now: float) -> None:
        recent = self._recent
        recent[key] = now
        recent.move_to_end(key)
        while recent:  # forget from the oldest end: O(1) per task on average
            oldest = next(iter(recent))
            if now - recent[oldest] < RECENT:
                break
            del recent[oldest]

    @staticmethod
    def _recent_key(task: TaskRef) -> tuple[str, str, str, str, int, int]:
        return (
            task.kind,
            task.namespace_id,
            task.workflow_id,
            task.run_id,
            task.scheduled_event_id,
            task.attempt,
        )

    async def _refill(self, polled: _Queue, namespace_id: str, name: str, kind: str) -> None:
        """Take the head of the queue's durable backlog: when memory is empty (at most
        every RECHECK unless it must), and every STALE_READ in any case. The rows of a
        task queue serve all its versions' pollers: each goes to its version's queue."""
        q = self._queue(namespace_id, name, kind)
        now = time.monotonic()
        if polled.tasks:
            if now - q.read_at < STALE_READ:
                return
        elif not q.must_read and now - q.read_at < RECHECK:
            return
        if q.reading is not None:  # another poller is reading it: share that read
            await asyncio.shield(q.reading)
            return
        assert self._source is not None
        q.reading = asyncio.get_running_loop().create_future()
        try:
            rows = await self._source.read_tasks(namespace_id, name, kind, 0, READ_PAGE)
            q.read_at = time.monotonic()
            q.must_read = len(rows) == READ_PAGE
            in_memory = {self._recent_key(t) for t in q.tasks}
            for row in rows:
                ref = TaskRef(
                    row.kind,
                    row.namespace_id,
                    row.workflow_id,
                    row.run_id,
                    row.scheduled_event_id,
                    row.attempt,
                    row.normal_queue,
                    # One offer of the row: a second read of it is another offer, so
                    # two pollers holding it can never both start it.
                    request_id=f"backlog-{row.task_id}-{uuid.uuid4().hex}",
                )
                key = self._recent_key(ref)
                seen = self._recent.get(key)
                if (seen is not None and q.read_at - seen < RECENT) or key in in_memory:
                    continue
                self._remember(key, q.read_at)  # in memory now: the next read skips it
                target = versioned(name, self._version(ref, name, kind))
                self._queue(namespace_id, target, kind).offer(ref, durable=True)
        finally:
            q.reading.set_result(None)
            q.reading = None

    @staticmethod
    def _drop_poller(q: _Queue, fut: asyncio.Future[TaskRef | None]) -> None:
        fut.cancel()
        with contextlib.suppress(ValueError):
            q.pollers.remove(fut)

    def requeue(self, task: TaskRef, queue: str, kind: str, version: str = "") -> None:
        """Give back a task whose start failed (storage trouble), first in line, to the
        queue of `version` it was polled from."""
        self._queue(task.namespace_id, versioned(queue, version), kind).offer(task, front=True)

    def unload_sticky(self, namespace_id: str, name: str) -> None:
        """A worker shut down: its sticky tasks go back to their normal queues at once."""
        q = self._queues.pop((namespace_id, name, "workflow"), None)
        if q is None:
            return
        q.unloaded = True
        for fut in q.pollers:
            if not fut.done():
                fut.set_result(None)
        for task in q.tasks:
            if task.kind == "query":
                self.add_query_task(task, "")
            else:
                self.add_workflow_task(task, task.normal_queue, False)

    def drain(self, keep: Callable[[TaskRef, str, str], bool]) -> list[tuple[TaskRef, str, str]]:
        """Take out the backlog that `keep(task, queue, kind)` says is not served here
        any more (its task queue moved to another process). Every queue reads its
        durable backlog again: queues may also have moved here."""
        moved = []
        for (_, name, kind), q in self._queues.items():
            name = name.partition(VERSION_SEP)[0]
            q.must_read = True
            staying: collections.deque[TaskRef] = collections.deque()
            for task in q.tasks:
                if keep(task, name, kind):
                    staying.append(task)
                else:
                    moved.append((task, name, kind))
            q.tasks = staying
        return moved

    def reroute(self) -> None:
        """Worker deployments' routing changed: every task waiting in memory moves to
        the queue of the version it now goes to (a sticky queue's tasks stay: they are
        checked when offered)."""
        if self.router is None:
            return
        moves: list[tuple[str, str, str, TaskRef]] = []
        for (ns, name, kind), q in list(self._queues.items()):
            base = name.partition(VERSION_SEP)[0]
            staying: collections.deque[TaskRef] = collections.deque()
            for task in q.tasks:
                if kind == "workflow" and task.normal_queue != base:
                    staying.append(task)  # a worker's sticky queue
                    continue
                route_kind = "query" if task.kind == "query" else kind
                target = versioned(base, self._version(task, base, route_kind))
                if target == name:
                    staying.append(task)
                else:
                    moves.append((ns, target, kind, task))
            q.tasks = staying
        for ns, target, kind, task in moves:
            self._queue(ns, target, kind).offer(task, durable=task.kind != "query")

    def queues(self) -> list[tuple[str, str, str, int, int]]:
        """(namespace id, task queue, kind, tasks in memory, waiting polls) of each task
        queue, its versions' queues added up."""
        totals: dict[tuple[str, str, str], list[int]] = {}
        for (ns, name, kind), q in self._queues.items():
            t = totals.setdefault((ns, name.partition(VERSION_SEP)[0], kind), [0, 0])
            t[0] += len(q.tasks)
            t[1] += len(q.pollers)
        return [(*k, t[0], t[1]) for k, t in totals.items()]

    async def describe(self, namespace_id: str, name: str, kind: str) -> QueueStats:
        """The queue's recent pollers, backlog and rates (`DescribeTaskQueue`)."""
        q = self._queue(namespace_id, name, kind)
        if self._source is not None:
            # A queue no one has polled since a restart has its backlog only in the table.
            await self._refill(q, namespace_id, name, kind)
        now = wall_now()
        # The task queue's worker deployment versions have queues of their own.
        prefix = name + VERSION_SEP
        parts = [q] + [
            v
            for (ns, n, k), v in self._queues.items()
            if ns == namespace_id and k == kind and n.startswith(prefix)
        ]
        tasks = [t for part in parts for t in part.tasks]
        oldest = min((t.enqueued_at for t in tasks if t.enqueued_at), default=now)
        return QueueStats(
            pollers=[p for part in parts for p in part.history.recent(now)],
            backlog_count=len(tasks),
            backlog_age=max(0.0, now - oldest) if tasks else 0.0,
            add_rate=sum(part.adds.per_second() for part in parts),
            dispatch_rate=sum(part.dispatches.per_second() for part in parts),
        )

    def stats(self) -> dict[str, Any]:
        return {
            f"{k[0]}/{k[1]}/{k[2]}": {"backlog": len(q.tasks), "pollers": len(q.pollers)}
            for k, q in self._queues.items()
        }
