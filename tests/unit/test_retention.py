"""Retention and deletion through the durable timer queue, on a real in-memory SQLite
store with a manual clock: a closed run is deleted (row, history, visibility, current
pointer, timer row) once its namespace's retention has passed, across restarts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.common.clock import ManualClock
from pytemporal.common.errors import NamespaceNotFound
from pytemporal.common.protoutil import dur
from pytemporal.history.api import delete
from pytemporal.history.api.start import started_attributes
from pytemporal.history.engine import Change, HistoryEngine, Key
from pytemporal.history.workflow import lifecycle
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.matching.queues import Matching
from pytemporal.persistence.api import CurrentMode, CurrentUpdate, Store
from pytemporal.persistence.sqlite.store import SqliteStore

NS = "ns-id"
RETENTION = 3600.0
_ids = itertools.count()


@dataclass
class _Namespace:
    retention_seconds: float


class _Namespaces:
    """The one lookup the engine makes (retention by namespace id)."""

    def __init__(self, retention: float) -> None:
        self.retention = retention

    def by_id(self, namespace_id: str) -> _Namespace:
        if namespace_id != NS:
            raise NamespaceNotFound(namespace_id)
        return _Namespace(self.retention)


@contextlib.asynccontextmanager
async def engine_on(
    store: Store, clock: ManualClock, retention: float = RETENTION
) -> AsyncIterator[HistoryEngine]:
    engine = HistoryEngine(store, Matching(store), clock)
    engine.namespaces = _Namespaces(retention)
    await engine.recover()
    timers = asyncio.get_running_loop().create_task(engine.run_timers())
    try:
        yield engine
    finally:
        timers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timers


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def start_run(engine: HistoryEngine, workflow_id: str) -> Key:
    run_id = f"run-{next(_ids)}"
    req = StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name="Waiter"),
        task_queue=TaskQueue(name="tq"),
        workflow_task_timeout=dur(10),
        request_id=f"req-{run_id}",
    )
    now = engine.clock.now()
    ms = lifecycle.new_run(
        namespace_id=NS,
        namespace="default",
        run_id=run_id,
        request_id=req.request_id,
        attrs=started_attributes(req, run_id, now),
        now=now,
    )
    wt.schedule(ms)
    current = CurrentUpdate(CurrentMode.CREATE, req.request_id, ms.status, run_id)
    await engine.commit([Change(engine.new_entry(ms), current=current, created=True)])
    return (NS, workflow_id, run_id)


async def terminate(engine: HistoryEngine, key: Key) -> None:
    async with engine.locked(key) as entry:
        lifecycle.terminate(entry.ms, "done", None, "test")
        await engine.commit_one(entry)


async def gone(store: Store, key: Key) -> bool:
    return (
        await store.get_execution(*key) is None
        and not await store.read_history(*key)
        and await store.get_current_run(key[0], key[1]) is None
        and (await store.count_executions(NS, None)).total == 0
        and not await store.read_timers(None, 1e18, 10)
    )


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = SqliteStore(None)
    try:
        yield s
    finally:
        await s.close()


async def test_a_closed_run_is_deleted_after_retention(store: Store) -> None:
    clock = ManualClock()
    async with engine_on(store, clock) as engine:
        key = await start_run(engine, "wf")
        clock.advance(10)
        await terminate(engine, key)
        closed_at = clock.now()
        row = await store.get_execution(*key)
        assert row is not None and row.timer == pytest.approx(closed_at + RETENTION)
        clock.advance(RETENTION + 1)
        await until(lambda: engine.deleted == 1, "the deletion")
        assert await gone(store, key)


async def test_retention_survives_a_restart(store: Store) -> None:
    clock = ManualClock()
    async with engine_on(store, clock) as engine:
        key = await start_run(engine, "wf")
        await terminate(engine, key)
    clock.advance(RETENTION + 60)  # the server is down when the run expires
    async with engine_on(store, clock) as engine:
        await until(lambda: engine.deleted == 1, "the deletion after the restart")
        assert await gone(store, key)


async def test_a_later_run_keeps_its_current_pointer(store: Store) -> None:
    clock = ManualClock()
    async with engine_on(store, clock) as engine:
        first = await start_run(engine, "wf")
        await terminate(engine, first)
        clock.advance(RETENTION / 2)
        second = await start_run_replacing(engine, first)
        clock.advance(RETENTION / 2 + 1)
        await until(lambda: engine.deleted == 1, "the first run's deletion")
        assert await store.get_execution(*first) is None
        current = await store.get_current_run(NS, "wf")
        assert current is not None and current.run_id == second[2]


async def start_run_replacing(engine: HistoryEngine, previous: Key) -> Key:
    run_id = f"run-{next(_ids)}"
    req = StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=previous[1],
        workflow_type=WorkflowType(name="Waiter"),
        task_queue=TaskQueue(name="tq"),
        request_id=f"req-{run_id}",
    )
    now = engine.clock.now()
    ms = lifecycle.new_run(
        namespace_id=NS,
        namespace="default",
        run_id=run_id,
        request_id=req.request_id,
        attrs=started_attributes(req, run_id, now),
        now=now,
    )
    wt.schedule(ms)
    current = CurrentUpdate(
        CurrentMode.REPLACE, req.request_id, ms.status, run_id, expected_run_id=previous[2]
    )
    await engine.commit([Change(engine.new_entry(ms), current=current, created=True)])
    return (NS, previous[1], run_id)


async def test_no_retention_no_deletion(store: Store) -> None:
    clock = ManualClock()
    async with engine_on(store, clock) as engine:
        engine.retention = False
        key = await start_run(engine, "wf")
        await terminate(engine, key)
        row = await store.get_execution(*key)
        assert row is not None and row.timer is None


async def test_delete_terminates_an_open_run_then_deletes_it(store: Store) -> None:
    clock = ManualClock()
    async with engine_on(store, clock) as engine:
        key = await start_run(engine, "wf")
        await delete.delete(engine, key)
        await until(lambda: engine.deleted == 1, "the deletion")
        assert await gone(store, key)
