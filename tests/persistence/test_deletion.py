"""Deleting a run (retention, DeleteWorkflowExecution) and a namespace's data
(DeleteNamespace), on every backend."""

from __future__ import annotations

from pytemporal.persistence.api import CurrentMode, NamespaceRecord, Store, TaskRow

from .helpers import NS, create, new_id

SCHEDULES = NS + "/schedules"


def _task(wf: str, run: str, namespace_id: str = NS) -> TaskRow:
    return TaskRow(namespace_id, "tq", "workflow", wf, run, 2, 1, "tq")


async def _gone(store: Store, wf: str, run: str, namespace_id: str = NS) -> bool:
    return (
        await store.get_execution(namespace_id, wf, run) is None
        and await store.read_history(namespace_id, wf, run) == []
        and await store.read_tasks(namespace_id, "tq", "workflow", 0, 10) == []
    )


async def test_deleting_a_run_removes_every_row_of_it(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run, set_timer=True, timer=5000.0, new_tasks=[_task(wf, run)])])
    await store.delete_execution(NS, wf, run)
    assert await _gone(store, wf, run)
    assert await store.get_current_run(NS, wf) is None
    assert await store.read_timers(None, 1e18, 10) == []
    assert (await store.count_executions(NS, None)).total == 0
    await store.delete_execution(NS, wf, run)  # idempotent


async def test_deleting_an_older_run_keeps_the_current_pointer(store: Store) -> None:
    wf, old, new = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, old)])
    await store.commit([create(wf, new, mode=CurrentMode.REPLACE, expected=old)])
    await store.delete_execution(NS, wf, old)
    assert await store.get_execution(NS, wf, old) is None
    current = await store.get_current_run(NS, wf)
    assert current is not None and current.run_id == new
    assert await store.get_execution(NS, wf, new) is not None


async def test_deleting_a_namespace_leaves_the_others(store: Store) -> None:
    await store.create_namespace(NamespaceRecord(NS, "doomed", "{}"))
    mine, other = new_id("wf"), new_id("wf")
    await store.commit(
        [create(mine, "r1", set_timer=True, timer=1.0, new_tasks=[_task(mine, "r1")])]
    )
    schedule = create("sched", "r0", mode=None, set_timer=True, timer=2.0)
    schedule.namespace_id = SCHEDULES
    await store.commit([schedule])
    kept = create(other, "r2", set_timer=True, timer=3.0)
    kept.namespace_id = "other-ns"
    kept.current = None
    await store.commit([kept])
    await store.delete_namespace_data([NS, SCHEDULES])
    assert await _gone(store, mine, "r1")
    assert await store.get_current_run(NS, mine) is None
    assert await store.get_execution(SCHEDULES, "sched", "r0") is None
    assert await store.get_execution("other-ns", other, "r2") is not None
    assert [t.namespace_id for t in await store.read_timers(None, 1e18, 10)] == ["other-ns"]
    await store.delete_namespace(NS)
    assert await store.get_namespace(id=NS) is None
    await store.delete_namespace(NS)  # idempotent
