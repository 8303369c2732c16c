"""What survives closing and reopening a database, and what refuses to open."""

from __future__ import annotations

import pytest

from pytemporal.persistence.api import CurrentRun, NamespaceRecord, TaskRow

from .backends import Backend
from .helpers import NS, RUNNING, batch, create, new_id, update


async def test_data_survives_close_and_reopen(durable: Backend) -> None:
    wf, run = new_id("wf"), new_id("run")
    store = await durable.open()
    try:
        await store.create_namespace(NamespaceRecord(NS, "default", '{"retention": 1}'))
        await store.commit(
            [
                create(
                    wf,
                    run,
                    set_timer=True,
                    timer=100.0,
                    new_tasks=[TaskRow(NS, "tq", "workflow", wf, run, 2, 1, "tq")],
                )
            ]
        )
        await store.commit([update(wf, run, 2, first_event_id=3, last_event_id=5)])
    finally:
        await store.close()

    store = await durable.open()
    try:
        assert await store.get_namespace(id=NS) == NamespaceRecord(
            NS, "default", '{"retention": 1}'
        )
        row = await store.get_execution(NS, wf, run)
        assert row is not None and (row.db_version, row.state) == (2, b"state v2")
        assert await store.read_history(NS, wf, run) == [batch(1, 2), batch(3, 5)]
        assert await store.get_current_run(NS, wf) == CurrentRun(run, f"req-{run}", RUNNING, run)
        assert [t.run_id for t in await store.read_timers(None, 1e12, 10)] == [run]
        assert [t.run_id for t in await store.read_tasks(NS, "tq", "workflow", 0, 10)] == [run]
        # Versions carry on from what was stored.
        await store.commit([update(wf, run, 3, first_event_id=6, last_event_id=6)])
    finally:
        await store.close()


async def test_reopening_an_empty_database_works(durable: Backend) -> None:
    await (await durable.open()).close()
    store = await durable.open()
    try:
        assert await store.list_namespaces() == []
    finally:
        await store.close()


@pytest.mark.parametrize("stored_version", [0, 1, 99])
async def test_reopening_another_schema_version_is_refused(
    durable: Backend, stored_version: int
) -> None:
    await (await durable.open()).close()
    await durable.set_schema_version(stored_version)
    with pytest.raises(durable.schema_mismatch, match=rf"schema version {stored_version}\b"):
        await durable.open()


async def test_a_fresh_store_is_empty(backend: Backend) -> None:
    store = await backend.open()
    try:
        assert await store.list_namespaces() == []
        assert await store.read_timers(None, 1e12, 10) == []
    finally:
        await store.close()
