"""Executions, history batches and the current-run pointer, one mutation at a time."""

from __future__ import annotations

import pytest

from pytemporal.common.errors import ConditionFailed
from pytemporal.persistence.api import (
    CurrentMode,
    CurrentRun,
    ExecutionRow,
    HistoryBatch,
    Store,
    TaskRow,
)

from .helpers import COMPLETED, NS, RUNNING, batch, create, current, new_id, update


async def snapshot(store: Store, wf: str, *runs: str) -> tuple[object, ...]:
    """Everything the store holds about these runs, to show a failed commit wrote nothing."""
    rows = [await store.get_execution(NS, wf, r) for r in runs]
    histories = [await store.read_history(NS, wf, r) for r in runs]
    return await store.get_current_run(NS, wf), rows, histories


# -- create / read ---------------------------------------------------------------


async def test_created_execution_reads_back(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    assert await store.get_execution(NS, wf, run) == ExecutionRow(
        NS,
        wf,
        run,
        db_version=1,
        next_event_id=3,
        status=RUNNING,
        state=b"state v1 " + run.encode(),
    )
    assert await store.read_history(NS, wf, run) == [batch(1, 2)]
    assert await store.get_current_run(NS, wf) == CurrentRun(run, f"req-{run}", RUNNING, run)


async def test_unknown_rows_are_none_or_empty(store: Store) -> None:
    assert await store.get_execution(NS, "nope", "nope") is None
    assert await store.get_current_run(NS, "nope") is None
    assert await store.read_history(NS, "nope", "nope") == []


async def test_rows_are_scoped_by_namespace(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    assert await store.get_execution("other-ns", wf, run) is None
    assert await store.get_current_run("other-ns", wf) is None
    assert await store.read_history("other-ns", wf, run) == []


async def test_creating_an_existing_run_again_fails(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    before = await snapshot(store, wf, run)
    again = create(wf, run, mode=None, batches=[batch(3, 4)])
    with pytest.raises(ConditionFailed):
        await store.commit([again])
    assert await snapshot(store, wf, run) == before


# -- versions --------------------------------------------------------------------


async def test_each_update_needs_the_previous_version(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    await store.commit([update(wf, run, 2, first_event_id=3, last_event_id=4)])
    await store.commit([update(wf, run, 3, first_event_id=5, last_event_id=5)])
    row = await store.get_execution(NS, wf, run)
    assert row is not None
    assert (row.db_version, row.next_event_id, row.state) == (3, 6, b"state v3")


@pytest.mark.parametrize("version", [2, 3, 5], ids=["stale", "same", "skips-ahead"])
async def test_wrong_version_fails_and_writes_nothing(store: Store, version: int) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    await store.commit([update(wf, run, 2, first_event_id=3, last_event_id=4)])
    await store.commit([update(wf, run, 3, first_event_id=5, last_event_id=6)])
    # Stored version is 3, so only 4 may be written: anything else loses the race.
    before = await snapshot(store, wf, run)
    loser = update(
        wf, run, version, first_event_id=7, last_event_id=9, status=COMPLETED, with_current=True
    )
    with pytest.raises(ConditionFailed):
        await store.commit([loser])
    assert await snapshot(store, wf, run) == before


async def test_update_of_a_missing_run_fails(store: Store) -> None:
    wf = new_id("wf")
    with pytest.raises(ConditionFailed):
        await store.commit([update(wf, "never-created", 2, first_event_id=3, last_event_id=3)])
    assert await store.read_history(NS, wf, "never-created") == []


async def test_closing_update_records_status(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    done = update(
        wf, run, 2, first_event_id=3, last_event_id=5, status=COMPLETED, with_current=True
    )
    await store.commit([done])
    row = await store.get_execution(NS, wf, run)
    assert row is not None and row.status == COMPLETED
    cur = await store.get_current_run(NS, wf)
    assert cur is not None and (cur.run_id, cur.status) == (run, COMPLETED)


# -- history ---------------------------------------------------------------------


async def _three_batches(store: Store) -> tuple[str, str]:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run, batches=[batch(1, 3)])])
    await store.commit([update(wf, run, 2, first_event_id=4, last_event_id=4)])
    await store.commit([update(wf, run, 3, first_event_id=5, last_event_id=7)])
    return wf, run


async def test_history_batches_read_back_in_order(store: Store) -> None:
    wf, run = await _three_batches(store)
    assert await store.read_history(NS, wf, run) == [batch(1, 3), batch(4, 4), batch(5, 7)]


@pytest.mark.parametrize(
    ("min_event_id", "firsts"),
    [(1, [1, 4, 5]), (3, [1, 4, 5]), (4, [4, 5]), (5, [5]), (7, [5]), (8, [])],
)
async def test_min_event_id_keeps_batches_that_reach_it(
    store: Store, min_event_id: int, firsts: list[int]
) -> None:
    wf, run = await _three_batches(store)
    got = await store.read_history(NS, wf, run, min_event_id=min_event_id)
    assert [b.first_event_id for b in got] == firsts


async def test_one_mutation_may_carry_several_batches(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run, batches=[batch(1, 2), batch(3, 3), batch(4, 6)])])
    assert await store.read_history(NS, wf, run) == [batch(1, 2), batch(3, 3), batch(4, 6)]


async def test_history_is_per_run(store: Store) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1, batches=[batch(1, 5)])])
    await store.commit([create(wf, run2, mode=CurrentMode.REPLACE, expected=run1)])
    assert await store.read_history(NS, wf, run1) == [batch(1, 5)]
    assert await store.read_history(NS, wf, run2) == [batch(1, 2)]


async def test_rewriting_a_batch_fails_and_writes_nothing(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    before = await snapshot(store, wf, run)
    overlap = update(wf, run, 2, first_event_id=1, last_event_id=4)  # batch 1 again
    with pytest.raises(ConditionFailed):
        await store.commit([overlap])
    assert await snapshot(store, wf, run) == before


# -- current-run pointer ---------------------------------------------------------


async def test_second_create_for_a_workflow_id_fails_and_writes_nothing(store: Store) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1)])
    before = await snapshot(store, wf, run1, run2)
    with pytest.raises(ConditionFailed):
        await store.commit([create(wf, run2)])
    assert await snapshot(store, wf, run1, run2) == before
    assert before[1] == [await store.get_execution(NS, wf, run1), None]


async def test_replace_with_the_expected_run_moves_the_pointer(store: Store) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1)])
    await store.commit([create(wf, run2, mode=CurrentMode.REPLACE, expected=run1)])
    assert await store.get_current_run(NS, wf) == CurrentRun(run2, f"req-{run2}", RUNNING, run2)
    # The old run keeps its row.
    assert await store.get_execution(NS, wf, run1) is not None


@pytest.mark.parametrize("expected", ["some-other-run", ""], ids=["wrong", "empty"])
async def test_replace_with_a_wrong_expected_run_fails_and_writes_nothing(
    store: Store, expected: str
) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1)])
    before = await snapshot(store, wf, run1, run2)
    with pytest.raises(ConditionFailed):
        await store.commit([create(wf, run2, mode=CurrentMode.REPLACE, expected=expected)])
    assert await snapshot(store, wf, run1, run2) == before


async def test_replace_without_a_current_run_fails(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    with pytest.raises(ConditionFailed):
        await store.commit([create(wf, run, mode=CurrentMode.REPLACE, expected="ghost")])
    assert await snapshot(store, wf, run) == (None, [None], [[]])


async def test_update_of_a_run_that_is_no_longer_current_leaves_the_pointer(
    store: Store,
) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1)])
    await store.commit([create(wf, run2, mode=CurrentMode.REPLACE, expected=run1)])
    pointer = await store.get_current_run(NS, wf)
    old = update(
        wf, run1, 2, first_event_id=3, last_event_id=4, status=COMPLETED, with_current=True
    )
    await store.commit([old])
    assert await store.get_current_run(NS, wf) == pointer
    # The rest of the mutation still applies to the old run itself.
    row = await store.get_execution(NS, wf, run1)
    assert row is not None and (row.db_version, row.status) == (2, COMPLETED)
    assert await store.read_history(NS, wf, run1) == [batch(1, 2), batch(3, 4)]


async def test_update_refreshes_status_of_the_current_run(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    m = update(wf, run, 2, first_event_id=3, last_event_id=3)
    m.current = current(CurrentMode.UPDATE, run_id=run, status=COMPLETED)
    await store.commit([m])
    assert await store.get_current_run(NS, wf) == CurrentRun(run, f"req-{run}", COMPLETED, run)


# -- durable queues: timer tasks and the task backlog ---------------------------------


def task(
    wf: str, run: str, kind: str, sched: int, *, queue: str = "tq", attempt: int = 1
) -> TaskRow:
    return TaskRow(NS, queue, kind, wf, run, sched, attempt, "tq")


async def test_timer_rows_are_written_with_the_state_and_read_due_first(store: Store) -> None:
    a, b, c = new_id("wf"), new_id("wf"), new_id("wf")
    await store.commit(
        [
            create(a, "r", set_timer=True, timer=30.0, shard_id=1),
            create(b, "r", set_timer=True, timer=10.0, shard_id=2),
            create(c, "r", set_timer=True, timer=20.0, shard_id=1),
        ]
    )
    due = await store.read_timers(None, 25.0, 10)
    assert [(t.workflow_id, t.fire_time, t.shard_id) for t in due] == [(b, 10.0, 2), (c, 20.0, 1)]
    assert [t.workflow_id for t in await store.read_timers([1], 100.0, 10)] == [c, a]
    assert [t.workflow_id for t in await store.read_timers(None, 100.0, 1)] == [b]
    row = await store.get_execution(NS, a, "r")
    assert row is not None and row.timer == 30.0


async def test_timer_rows_are_read_page_after_page(store: Store) -> None:
    ids = sorted(new_id("wf") for _ in range(5))
    await store.commit([create(wf, "r", set_timer=True, timer=10.0) for wf in ids[:3]])
    await store.commit([create(wf, "r", set_timer=True, timer=5.0) for wf in ids[3:]])
    expected = [*ids[3:], *ids[:3]]  # by fire time, then by run
    pages, after = [], None
    while True:
        page = await store.read_timers(None, 100.0, 2, after=after)
        pages.append([t.workflow_id for t in page])
        if len(page) < 2:
            break
        after = page[-1]
    assert [wf for page in pages for wf in page] == expected
    assert [len(p) for p in pages] == [2, 2, 1]


async def test_a_commit_moves_or_deletes_the_timer_row(store: Store) -> None:
    wf = new_id("wf")
    await store.commit([create(wf, "r", set_timer=True, timer=10.0)])
    m = update(wf, "r", 2, first_event_id=3, last_event_id=3)
    m.set_timer, m.timer = True, 50.0
    await store.commit([m])
    assert [t.fire_time for t in await store.read_timers(None, 100.0, 10)] == [50.0]
    m = update(wf, "r", 3, first_event_id=4, last_event_id=4)
    m.set_timer, m.timer = False, 1.0  # not set: the row stays as it is
    await store.commit([m])
    assert [t.fire_time for t in await store.read_timers(None, 100.0, 10)] == [50.0]
    m = update(wf, "r", 4, first_event_id=5, last_event_id=5)
    m.set_timer, m.timer = True, None
    await store.commit([m])
    assert await store.read_timers(None, 100.0, 10) == []
    row = await store.get_execution(NS, wf, "r")
    assert row is not None and row.timer is None


async def test_task_rows_are_read_in_queue_order(store: Store) -> None:
    a, b = new_id("wf"), new_id("wf")
    await store.commit([create(a, "r", new_tasks=[task(a, "r", "workflow", 2)])])
    await store.commit(
        [
            create(
                b,
                "r",
                new_tasks=[task(b, "r", "activity", 5), task(b, "r", "workflow", 2)],
            )
        ]
    )
    rows = await store.read_tasks(NS, "tq", "workflow", 0, 10)
    assert [(r.workflow_id, r.scheduled_event_id) for r in rows] == [(a, 2), (b, 2)]
    assert rows[0].task_id < rows[1].task_id
    assert await store.read_tasks(NS, "tq", "workflow", rows[0].task_id, 10) == [rows[1]]
    acts = await store.read_tasks(NS, "tq", "activity", 0, 10)
    assert [(r.workflow_id, r.scheduled_event_id, r.normal_queue) for r in acts] == [(b, 5, "tq")]
    assert await store.read_tasks(NS, "other", "workflow", 0, 10) == []


async def test_keep_tasks_deletes_the_runs_other_rows(store: Store) -> None:
    wf, other = new_id("wf"), new_id("wf")
    await store.commit(
        [
            create(
                wf,
                "r",
                new_tasks=[task(wf, "r", "workflow", 2), task(wf, "r", "activity", 5)],
            ),
            create(other, "r", new_tasks=[task(other, "r", "workflow", 2)]),
        ]
    )
    m = update(wf, "r", 2, first_event_id=3, last_event_id=3)
    m.keep_tasks = [("activity", 5)]
    await store.commit([m])
    assert [r.workflow_id for r in await store.read_tasks(NS, "tq", "workflow", 0, 10)] == [other]
    assert len(await store.read_tasks(NS, "tq", "activity", 0, 10)) == 1
    m = update(wf, "r", 3, first_event_id=4, last_event_id=4)
    m.keep_tasks = []
    await store.commit([m])
    assert await store.read_tasks(NS, "tq", "activity", 0, 10) == []


async def test_a_new_attempt_replaces_the_row_at_the_tail(store: Store) -> None:
    a, b = new_id("wf"), new_id("wf")
    await store.commit([create(a, "r", new_tasks=[task(a, "r", "activity", 5)])])
    await store.commit([create(b, "r", new_tasks=[task(b, "r", "activity", 5)])])
    m = update(a, "r", 2, first_event_id=3, last_event_id=3)
    m.new_tasks = [task(a, "r", "activity", 5, attempt=2)]
    await store.commit([m])
    rows = await store.read_tasks(NS, "tq", "activity", 0, 10)
    assert [(r.workflow_id, r.attempt) for r in rows] == [(b, 1), (a, 2)]


async def test_a_failed_commit_writes_no_queue_rows(store: Store) -> None:
    wf = new_id("wf")
    await store.commit([create(wf, "r")])
    stale = update(wf, "r", 5, first_event_id=3, last_event_id=3)  # wrong version
    stale.set_timer, stale.timer = True, 1.0
    stale.new_tasks = [task(wf, "r", "workflow", 3)]
    with pytest.raises(ConditionFailed):
        await store.commit([stale])
    assert await store.read_timers(None, 100.0, 10) == []
    assert await store.read_tasks(NS, "tq", "workflow", 0, 10) == []


async def test_history_batch_round_trips_bytes_exactly(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    blob = bytes(range(256)) * 64
    await store.commit([create(wf, run, batches=[HistoryBatch(1, 2, blob)], state=blob)])
    assert (await store.read_history(NS, wf, run))[0].data == blob
    row = await store.get_execution(NS, wf, run)
    assert row is not None and row.state == blob
