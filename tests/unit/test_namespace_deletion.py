"""DeleteNamespace's background purge on a real in-memory SQLite store with a manual
clock: after the delay, the namespace's runs and then its record go; a new registry
(a restart) finishes a purge that was interrupted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from pytemporal.common.clock import ManualClock
from pytemporal.namespace_deletion import NamespaceDeleter
from pytemporal.namespaces import DELETED, NamespaceRegistry, hidden_namespace_ids
from pytemporal.persistence.api import CurrentMode, CurrentUpdate, Mutation, Store
from pytemporal.persistence.sqlite.store import SqliteStore


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def deleter_on(
    store: Store, clock: ManualClock, forgotten: list[str]
) -> AsyncIterator[tuple[NamespaceRegistry, NamespaceDeleter]]:
    registry = NamespaceRegistry(store)
    await registry.load()
    deleter = NamespaceDeleter(registry, store, clock, forgotten.append)
    task = asyncio.get_running_loop().create_task(deleter.run())
    try:
        yield registry, deleter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def a_run(namespace_id: str, workflow_id: str = "wf") -> Mutation:
    return Mutation(
        namespace_id=namespace_id,
        workflow_id=workflow_id,
        run_id="run",
        db_version=1,
        next_event_id=1,
        status=1,
        state=b"s",
        current=CurrentUpdate(CurrentMode.CREATE, "req", 1, "run"),
    )


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = SqliteStore(None)
    try:
        yield s
    finally:
        await s.close()


async def test_the_data_goes_after_the_delay_then_the_record(store: Store) -> None:
    clock = ManualClock()
    forgotten: list[str] = []
    async with deleter_on(store, clock, forgotten) as (registry, deleter):
        ns = await registry.create("doomed")
        await store.commit([a_run(ns.id)])
        passes = deleter.passes
        new_name = await deleter.delete(ns, delay=60)
        assert new_name == f"doomed-deleted-{ns.id[:5]}"
        assert registry.by_id(ns.id).state == DELETED and not registry.exists("doomed")
        await until(lambda: deleter.passes > passes, "a pass after the deletion")
        assert deleter.purged == 0  # not before the delay
        assert await store.get_execution(ns.id, "wf", "run") is not None
        clock.advance(61)
        await until(lambda: deleter.purged == 1, "the purge")
        assert forgotten and forgotten[0] == ns.id
        assert await store.get_execution(ns.id, "wf", "run") is None
        assert await store.get_current_run(ns.id, "wf") is None
        assert await store.get_namespace(id=ns.id) is None
        # The name is free again.
        await registry.create("doomed")


async def test_a_restart_finishes_the_purge(store: Store) -> None:
    clock = ManualClock()
    async with deleter_on(store, clock, []) as (registry, deleter):
        ns = await registry.create("doomed")
        await store.commit([a_run(ns.id)])
        await deleter.delete(ns, delay=3600)
    clock.advance(7200)  # the server is down when the delay ends
    async with deleter_on(store, clock, []) as (_, deleter):
        await until(lambda: deleter.purged == 1, "the purge after the restart")
    assert await store.get_execution(ns.id, "wf", "run") is None
    assert await store.get_namespace(id=ns.id) is None


async def test_the_hidden_schedule_and_activity_rows_go_too(store: Store) -> None:
    clock = ManualClock()
    forgotten: list[str] = []
    async with deleter_on(store, clock, forgotten) as (registry, deleter):
        ns = await registry.create("doomed")
        kept = await registry.create("kept")
        ids = hidden_namespace_ids(ns.id)
        await store.commit([a_run(i) for i in [*ids, *hidden_namespace_ids(kept.id)]])
        await deleter.delete(ns, delay=0)
        await until(lambda: deleter.purged == 1, "the purge")
        for i in ids:
            assert await store.get_execution(i, "wf", "run") is None, i
        for i in hidden_namespace_ids(kept.id):
            assert await store.get_execution(i, "wf", "run") is not None, i
