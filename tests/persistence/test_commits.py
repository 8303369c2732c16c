"""`Store.commit`: all-or-nothing lists, commits racing in one loop turn, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from pytemporal.common.errors import ConditionFailed, PersistenceError
from pytemporal.persistence.api import CurrentMode, Store

from .backends import Backend
from .helpers import COMPLETED, NS, batch, create, new_id, update


async def test_multi_mutation_commit_applies_every_mutation(store: Store) -> None:
    wf, run1, run2 = new_id("wf"), new_id("run"), new_id("run")
    await store.commit([create(wf, run1)])
    # Close run 1 and start run 2 in its place: one transaction, as continue-as-new does.
    close = update(wf, run1, 2, first_event_id=3, last_event_id=3, status=COMPLETED)
    start = create(wf, run2, mode=CurrentMode.REPLACE, expected=run1)
    await store.commit([close, start])
    row = await store.get_execution(NS, wf, run1)
    assert row is not None and row.status == COMPLETED
    cur = await store.get_current_run(NS, wf)
    assert cur is not None and cur.run_id == run2


@pytest.mark.parametrize("failing", [0, 1, 2])
async def test_multi_mutation_commit_is_all_or_nothing(store: Store, failing: int) -> None:
    taken, taken_run = new_id("wf"), new_id("run")
    await store.commit([create(taken, taken_run)])
    ids = [(new_id("wf"), new_id("run")) for _ in range(3)]
    mutations = [create(wf, run) for wf, run in ids]
    # This one creates a second current run for a workflow id that already has one.
    mutations[failing] = create(taken, new_id("run"))
    with pytest.raises(ConditionFailed):
        await store.commit(mutations)
    for i, (wf, run) in enumerate(ids):
        if i == failing:
            continue
        assert await store.get_execution(NS, wf, run) is None
        assert await store.get_current_run(NS, wf) is None
        assert await store.read_history(NS, wf, run) == []
    cur = await store.get_current_run(NS, taken)
    assert cur is not None and cur.run_id == taken_run


async def test_empty_commit_is_a_no_op(store: Store) -> None:
    await store.commit([])
    assert await store.read_timers(None, 1e12, 10) == []


async def test_concurrent_commits_fail_independently(store: Store) -> None:
    taken = new_id("wf")
    await store.commit([create(taken, new_id("run"))])
    good = [(new_id("wf"), new_id("run")) for _ in range(4)]
    bad = create(taken, new_id("run"))
    calls = [store.commit([create(wf, run)]) for wf, run in good[:2]]
    calls.append(store.commit([bad]))
    calls += [store.commit([create(wf, run)]) for wf, run in good[2:]]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[:2] == [None, None] and results[3:] == [None, None]
    assert isinstance(results[2], ConditionFailed)
    for wf, run in good:
        assert await store.get_execution(NS, wf, run) is not None
    assert await store.get_execution(NS, taken, bad.run_id) is None


async def test_concurrent_version_race_has_one_winner(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    a = update(wf, run, 2, first_event_id=3, last_event_id=3)
    b = update(wf, run, 2, first_event_id=3, last_event_id=4, status=COMPLETED)
    results = await asyncio.gather(store.commit([a]), store.commit([b]), return_exceptions=True)
    assert sorted(map(type, results), key=str) == sorted([type(None), ConditionFailed], key=str)
    winner = a if results[0] is None else b
    row = await store.get_execution(NS, wf, run)
    assert row is not None and (row.status, row.next_event_id) == (
        winner.status,
        winner.next_event_id,
    )
    assert await store.read_history(NS, wf, run) == [batch(1, 2), *winner.batches]


async def test_cancelled_commit_leaves_a_consistent_store(store: Store) -> None:
    wf1, run1 = new_id("wf"), new_id("run")
    wf2, run2 = new_id("wf"), new_id("run")
    two_runs = [create(wf1, run1, batches=[batch(1, 2), batch(3, 4)]), create(wf2, run2)]
    task = asyncio.ensure_future(store.commit(two_runs))
    # Cancel it after it has been handed to the store, while this coroutine's own commit
    # waits in the same loop turn.
    asyncio.get_running_loop().call_soon(task.cancel)
    other_wf, other_run = new_id("wf"), new_id("run")
    await store.commit([create(other_wf, other_run)])
    with pytest.raises(asyncio.CancelledError):
        await task
    # The caller cannot know whether it committed; the store must hold all of it or none.
    rows = [await store.get_execution(NS, wf1, run1), await store.get_execution(NS, wf2, run2)]
    histories = await store.read_history(NS, wf1, run1)
    if rows[0] is None:
        assert rows == [None, None] and histories == []
        assert await store.get_current_run(NS, wf2) is None
    else:
        assert None not in rows and histories == [batch(1, 2), batch(3, 4)]
        assert await store.get_current_run(NS, wf2) is not None
    # The commit that shared its loop turn went through, and the store still takes writes.
    assert await store.get_execution(NS, other_wf, other_run) is not None
    await store.commit([update(other_wf, other_run, 2, first_event_id=3, last_event_id=3)])


async def test_commit_cancelled_before_it_runs_writes_nothing(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    task = asyncio.ensure_future(store.commit([create(wf, run)]))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.get_execution(NS, wf, run) is None
    await store.commit([create(wf, run)])
    assert await store.get_execution(NS, wf, run) is not None


async def test_one_unwritable_mutation_does_not_fail_its_neighbours(store: Store) -> None:
    wf, run = new_id("wf"), new_id("run")
    bad = create(new_id("wf"), new_id("run"))
    bad.state = {"not": "bytes"}  # type: ignore[assignment]
    results = await asyncio.gather(
        store.commit([create(wf, run)]), store.commit([bad]), return_exceptions=True
    )
    assert isinstance(results[1], Exception)
    assert results[0] is None
    assert await store.get_execution(NS, wf, run) is not None


async def test_commit_after_close_raises_instead_of_hanging(backend: Backend) -> None:
    store = await backend.open()
    await store.close()
    wf, run = new_id("wf"), new_id("run")
    with pytest.raises(PersistenceError):
        # Bounds the hang this test exists to catch; a correct store raises at once.
        async with asyncio.timeout(1):
            await store.commit([create(wf, run)])
