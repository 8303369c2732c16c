"""Polls a worker is waiting on, so that `ShutdownWorker` can end them.

With `frontend.enableCancelWorkerPollsOnShutdown` (which the SDKs' test servers turn
on, and newer SDKs rely on), Temporal answers a shut-down worker's outstanding polls
at once with an empty response instead of holding them to the long-poll timeout; the
worker's shutdown otherwise waits that long for its pollers. Polls are keyed by the
`worker_instance_key` the SDK sends on each poll and on `ShutdownWorker`.

Scope: the polls this process serves. In `server start` with several processes a poll
is forwarded to the task queue's owner, and a ShutdownWorker that lands elsewhere does
not reach it; the poll then ends at its timeout, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class WorkerPolls:
    def __init__(self) -> None:
        self._polls: dict[tuple[str, str], set[asyncio.Task[object]]] = {}
        self._ended: set[asyncio.Task[object]] = set()

    async def run(self, namespace_id: str, worker_key: str, poll: Awaitable[T]) -> T | None:
        """Await `poll`; None if the worker shuts down first."""
        if not worker_key:
            return await poll
        task: asyncio.Task[object] = asyncio.ensure_future(poll)
        key = (namespace_id, worker_key)
        self._polls.setdefault(key, set()).add(task)
        try:
            return await task  # type: ignore[return-value]
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task in self._ended and (current is None or not current.cancelling()):
                return None
            raise
        finally:
            self._ended.discard(task)
            polls = self._polls.get(key)
            if polls is not None:
                polls.discard(task)
                if not polls:
                    del self._polls[key]

    def end(self, namespace_id: str, worker_key: str) -> int:
        """End the worker's outstanding polls; how many there were."""
        polls = self._polls.get((namespace_id, worker_key), set())
        for task in polls:
            self._ended.add(task)
            task.cancel()
        return len(polls)
