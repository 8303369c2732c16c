"""In-memory task queues: sync match to a waiting poller, else a backlog.

Matching holds only references; the history role re-validates each one when a poller
takes it (a stale reference is dropped), and re-creates the backlog from mutable state
after a restart. So nothing here needs to be durable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STICKY_LIVENESS = 10.0


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


@dataclass
class _Queue:
    tasks: collections.deque[TaskRef] = field(default_factory=collections.deque)
    pollers: collections.deque[asyncio.Future[TaskRef | None]] = field(
        default_factory=collections.deque
    )
    last_poll: float = 0.0
    unloaded: bool = False

    def offer(self, task: TaskRef, *, front: bool = False) -> None:
        while self.pollers:
            fut = self.pollers.popleft()
            if not fut.done():
                fut.set_result(task)
                return
        if front:
            self.tasks.appendleft(task)
        else:
            self.tasks.append(task)


class Matching:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str, str], _Queue] = {}

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

    def add_workflow_task(self, task: TaskRef, queue: str, sticky: bool) -> None:
        if sticky and not self._sticky_alive(task.namespace_id, queue):
            queue = task.normal_queue
        self._queue(task.namespace_id, queue, "workflow").offer(task)

    def add_activity_task(self, task: TaskRef, queue: str) -> None:
        self._queue(task.namespace_id, queue, "activity").offer(task)

    def add_query_task(self, task: TaskRef, sticky_queue: str) -> None:
        queue = task.normal_queue
        if sticky_queue and self._sticky_alive(task.namespace_id, sticky_queue):
            queue = sticky_queue
        self._queue(task.namespace_id, queue, "workflow").offer(task)

    async def poll(self, namespace_id: str, name: str, kind: str, timeout: float) -> TaskRef | None:
        q = self._queue(namespace_id, name, kind)
        q.unloaded = False
        q.last_poll = time.monotonic()
        if q.tasks:
            return q.tasks.popleft()
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
            return fut.result()
        self._drop_poller(q, fut)
        return None

    @staticmethod
    def _drop_poller(q: _Queue, fut: asyncio.Future[TaskRef | None]) -> None:
        fut.cancel()
        with contextlib.suppress(ValueError):
            q.pollers.remove(fut)

    def requeue(self, task: TaskRef, queue: str, kind: str) -> None:
        """Give back a task whose start failed (storage trouble), first in line."""
        self._queue(task.namespace_id, queue, kind).offer(task, front=True)

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
            self._queue(namespace_id, task.normal_queue, "workflow").offer(task)

    def drain(self, keep: Callable[[TaskRef, str, str], bool]) -> list[tuple[TaskRef, str, str]]:
        """Take out the backlog that `keep(task, queue, kind)` says is not served here
        any more (its task queue moved to another process)."""
        moved = []
        for (_, name, kind), q in self._queues.items():
            staying: collections.deque[TaskRef] = collections.deque()
            for task in q.tasks:
                if keep(task, name, kind):
                    staying.append(task)
                else:
                    moved.append((task, name, kind))
            q.tasks = staying
        return moved

    def stats(self) -> dict[str, Any]:
        return {
            f"{k[0]}/{k[1]}/{k[2]}": {"backlog": len(q.tasks), "pollers": len(q.pollers)}
            for k, q in self._queues.items()
        }
