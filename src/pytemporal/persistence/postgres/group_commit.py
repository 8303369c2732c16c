"""Group commit: concurrent ``commit`` calls share database transactions.

Every call made while a flusher is starting joins its batch, so N workflows committing
in one loop turn cost one transaction, not N (the SQLite store does the same). Unlike
SQLite, PostgreSQL takes several writers, so up to ``max_in_flight`` batches run at once
on different pooled connections; row locks and the conditional writes keep them honest.

The flushers are owned by this object, not by the callers: a caller that is cancelled
while its batch is being written does not interrupt the transaction (the batch commits
or rolls back as a whole; the caller just stops waiting). A call cancelled before its
batch starts is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from pytemporal.common.errors import PersistenceError
from pytemporal.persistence.api import Mutation

Batch = list[Sequence[Mutation]]
# Writes one batch in one transaction; returns one result per caller (None: committed),
# or raises when the whole transaction failed.
WriteBatch = Callable[[Batch], Awaitable[list[Exception | None]]]


class GroupCommit:
    def __init__(self, write: WriteBatch, *, max_in_flight: int) -> None:
        self._write = write
        self._max_in_flight = max(1, max_in_flight)
        self._pending: list[tuple[Sequence[Mutation], asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        # A flusher was created and has not taken its batch yet: new calls will join it.
        self._starting = False
        self._closed = False
        # Statistics, named as on SqliteStore: database commits, and caller commits.
        self.commits = 0
        self.transactions = 0

    async def submit(self, mutations: Sequence[Mutation]) -> None:
        if self._closed:
            raise PersistenceError("the store is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((mutations, fut))
        if not self._starting and len(self._flushers) < self._max_in_flight:
            self._starting = True
            task = asyncio.create_task(self._flush_loop(), name="pytemporal-group-commit")
            self._flushers.add(task)
            task.add_done_callback(self._flusher_done)
        await fut

    def refuse_new(self) -> None:
        """From now on, `submit` raises PersistenceError."""
        self._closed = True

    async def close(self) -> None:
        """Refuse new calls; wait until those already submitted are written."""
        self._closed = True
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)
            self._flushers = {t for t in self._flushers if not t.done()}

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        # Only matters for a flusher cancelled before its first step, whose `finally`
        # never ran: forget it, or later calls would wait for it forever.
        self._flushers.discard(task)
        if task.cancelled():
            self._starting = False

    async def _flush_loop(self) -> None:
        task = asyncio.current_task()
        try:
            self._starting = False
            while self._pending:
                batch, self._pending = self._pending, []
                await self._flush([(m, f) for m, f in batch if not f.done()])
        finally:
            # No await between the last look at _pending and leaving the set, so a call
            # submitted after it finds either this flusher's loop or room for a new one.
            if task is not None:
                self._flushers.discard(task)

    async def _flush(self, batch: list[tuple[Sequence[Mutation], asyncio.Future[None]]]) -> None:
        if not batch:
            return
        try:
            results = await self._write([m for m, _ in batch])
        except asyncio.CancelledError:
            failed = PersistenceError("the store was shut down during a commit")
            results = [failed] * len(batch)
            self._resolve(batch, results)
            raise
        except Exception as e:
            results = [e] * len(batch)
        self.commits += 1
        self.transactions += len(batch)
        self._resolve(batch, results)

    @staticmethod
    def _resolve(
        batch: list[tuple[Sequence[Mutation], asyncio.Future[None]]],
        results: Sequence[Exception | None],
    ) -> None:
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():  # its caller was cancelled and stopped waiting
                continue
            if result is None:
                fut.set_result(None)
            else:
                fut.set_exception(result)
