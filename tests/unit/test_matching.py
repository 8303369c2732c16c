"""Matching: sync match, backlog, long-poll timeouts, cancellation, sticky queues."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pytemporal.matching import queues
from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.persistence.api import Mutation, TaskRow
from pytemporal.persistence.sqlite.store import SqliteStore

NS = "ns"


def wft(n: int, normal_queue: str = "tq") -> TaskRef:
    return TaskRef("workflow", NS, f"wf-{n}", "run", n, 1, normal_queue=normal_queue)


def activity(n: int) -> TaskRef:
    return TaskRef("activity", NS, f"wf-{n}", "run", n, 1)


async def until(condition: Callable[[], bool], turns: int = 100) -> None:
    """Let other tasks run until `condition` holds (loop turns, not wall time)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def pollers(m: Matching, queue: str, kind: str = "workflow") -> int:
    return int(m.stats().get(f"{NS}/{queue}/{kind}", {}).get("pollers", 0))


def backlog(m: Matching, queue: str, kind: str = "workflow") -> int:
    return int(m.stats().get(f"{NS}/{queue}/{kind}", {}).get("backlog", 0))


class FakeMonotonic:
    """Stands in for the `time` module inside matching, which reads time.monotonic()."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(queues, "time", fake)
    return fake


async def test_task_goes_straight_to_a_waiting_poller() -> None:
    m = Matching()
    poll = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 1)
    m.add_workflow_task(wft(1), "tq", sticky=False)
    assert await poll == wft(1)
    assert backlog(m, "tq") == 0


async def test_without_a_poller_tasks_wait_in_order() -> None:
    m = Matching()
    for n in (1, 2, 3):
        m.add_activity_task(activity(n), "tq")
    assert backlog(m, "tq", "activity") == 3
    got = [await m.poll(NS, "tq", "activity", timeout=60) for _ in range(3)]
    assert got == [activity(1), activity(2), activity(3)]


async def test_kinds_and_queues_do_not_mix() -> None:
    m = Matching()
    m.add_activity_task(activity(1), "tq")
    m.add_workflow_task(wft(2), "other", sticky=False)
    assert await m.poll(NS, "tq", "workflow", timeout=0) is None
    assert await m.poll("other-ns", "tq", "activity", timeout=0) is None
    assert await m.poll(NS, "tq", "activity", timeout=0) == activity(1)


async def test_poll_timeout_returns_none_and_forgets_the_poller() -> None:
    m = Matching()
    assert await m.poll(NS, "tq", "workflow", timeout=0) is None
    assert pollers(m, "tq") == 0
    # A task added afterwards is not handed to the departed poller.
    m.add_workflow_task(wft(1), "tq", sticky=False)
    assert backlog(m, "tq") == 1


async def test_pollers_are_served_first_come_first_served() -> None:
    m = Matching()
    first = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 1)
    second = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 2)
    m.add_workflow_task(wft(1), "tq", sticky=False)
    m.add_workflow_task(wft(2), "tq", sticky=False)
    assert (await first, await second) == (wft(1), wft(2))


async def test_cancelled_waiting_poller_is_removed() -> None:
    m = Matching()
    poll = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 1)
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    assert pollers(m, "tq") == 0
    m.add_workflow_task(wft(1), "tq", sticky=False)
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(1)


async def test_poller_cancelled_after_being_handed_a_task_puts_it_back() -> None:
    m = Matching()
    poll = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 1)
    m.add_workflow_task(wft(1), "tq", sticky=False)  # handed over...
    poll.cancel()  # ...but the poller is gone before it could return it
    with pytest.raises(asyncio.CancelledError):
        await poll
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(1)


async def test_task_of_a_cancelled_poller_reaches_a_poller_already_waiting() -> None:
    m = Matching()
    first = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 1)
    second = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=60))
    await until(lambda: pollers(m, "tq") == 2)
    m.add_workflow_task(wft(1), "tq", sticky=False)  # goes to `first`
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    try:
        await until(second.done)
        assert second.result() == wft(1)
    finally:
        second.cancel()


async def test_requeue_puts_a_task_at_the_front() -> None:
    m = Matching()
    m.add_workflow_task(wft(1), "tq", sticky=False)
    m.requeue(wft(2), "tq", "workflow")
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(2)


# -- sticky queues ---------------------------------------------------------------


async def test_sticky_queue_never_polled_falls_back_to_the_normal_queue() -> None:
    m = Matching()
    m.add_workflow_task(wft(1, normal_queue="tq"), "sticky-1", sticky=True)
    assert backlog(m, "tq") == 1 and backlog(m, "sticky-1") == 0


async def test_sticky_queue_polled_recently_keeps_its_task(clock: FakeMonotonic) -> None:
    m = Matching()
    assert await m.poll(NS, "sticky-1", "workflow", timeout=0) is None
    clock.now += queues.STICKY_LIVENESS - 1
    m.add_workflow_task(wft(1), "sticky-1", sticky=True)
    assert backlog(m, "sticky-1") == 1 and backlog(m, "tq") == 0


async def test_sticky_queue_without_a_recent_poller_falls_back(clock: FakeMonotonic) -> None:
    m = Matching()
    assert await m.poll(NS, "sticky-1", "workflow", timeout=0) is None
    clock.now += queues.STICKY_LIVENESS + 1
    m.add_workflow_task(wft(1), "sticky-1", sticky=True)
    assert backlog(m, "sticky-1") == 0
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(1)


async def test_sticky_queue_with_a_waiting_poller_gets_the_task(clock: FakeMonotonic) -> None:
    m = Matching()
    poll = asyncio.ensure_future(m.poll(NS, "sticky-1", "workflow", timeout=600))
    await until(lambda: pollers(m, "sticky-1") == 1)
    clock.now += 10 * queues.STICKY_LIVENESS  # a long poll in flight is alive however old
    m.add_workflow_task(wft(1), "sticky-1", sticky=True)
    assert await poll == wft(1)


async def test_query_goes_to_a_live_sticky_queue_else_the_normal_one() -> None:
    m = Matching()
    q = TaskRef("query", NS, "wf", "run", normal_queue="tq", query_id="q1")
    m.add_query_task(q, "sticky-1")
    assert backlog(m, "tq") == 1
    poll = asyncio.ensure_future(m.poll(NS, "sticky-1", "workflow", timeout=60))
    await until(lambda: pollers(m, "sticky-1") == 1)
    m.add_query_task(q, "sticky-1")
    assert await poll == q


async def test_unload_sticky_moves_its_backlog_to_the_normal_queue(clock: FakeMonotonic) -> None:
    m = Matching()
    assert await m.poll(NS, "sticky-1", "workflow", timeout=0) is None  # the worker is alive
    m.add_workflow_task(wft(1), "sticky-1", sticky=True)
    m.add_workflow_task(wft(2), "sticky-1", sticky=True)
    assert backlog(m, "sticky-1") == 2
    normal = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=600))
    await until(lambda: pollers(m, "tq") == 1)
    m.unload_sticky(NS, "sticky-1")
    assert await normal == wft(1)  # handed to the waiting normal poller
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(2)
    assert backlog(m, "sticky-1") == 0


async def test_unload_sticky_releases_its_pollers_with_none() -> None:
    m = Matching()
    polls = [asyncio.ensure_future(m.poll(NS, "sticky-1", "workflow", timeout=600)) for _ in "ab"]
    await until(lambda: pollers(m, "sticky-1") == 2)
    m.unload_sticky(NS, "sticky-1")
    assert await asyncio.gather(*polls) == [None, None]


async def test_unloaded_sticky_queue_takes_no_tasks_until_polled_again(
    clock: FakeMonotonic,
) -> None:
    m = Matching()
    assert await m.poll(NS, "sticky-1", "workflow", timeout=0) is None
    m.unload_sticky(NS, "sticky-1")
    m.add_workflow_task(wft(1), "sticky-1", sticky=True)
    assert await m.poll(NS, "tq", "workflow", timeout=0) == wft(1)
    # A worker that polls its sticky queue again makes it live again.
    assert await m.poll(NS, "sticky-1", "workflow", timeout=0) is None
    m.add_workflow_task(wft(2), "sticky-1", sticky=True)
    assert backlog(m, "sticky-1") == 1


async def test_unload_of_an_unknown_sticky_queue_is_harmless() -> None:
    m = Matching()
    m.unload_sticky(NS, "never-seen")
    assert m.stats() == {}


# --- the durable backlog (a real in-memory SQLite store) ------------------------------


async def backlog_store(*tasks: tuple[str, int]) -> SqliteStore:
    """A store whose `tasks` table holds workflow tasks of runs ("wf", scheduled id)."""
    store = SqliteStore(None)
    for wf, sched in tasks:
        row = TaskRow(NS, "tq", "workflow", wf, "run", sched, 1, "tq")
        await store.commit(
            [
                Mutation(
                    namespace_id=NS,
                    workflow_id=wf,
                    run_id="run",
                    db_version=1,
                    next_event_id=3,
                    status=1,
                    state=b"",
                    new_tasks=[row],
                )
            ]
        )
    return store


async def test_a_queue_reads_its_durable_backlog_at_its_first_poll() -> None:
    store = await backlog_store(("a", 2), ("b", 2))
    try:
        m = Matching(store)
        first = await m.poll(NS, "tq", "workflow", timeout=0)
        second = await m.poll(NS, "tq", "workflow", timeout=0)
        assert [(t.workflow_id, t.scheduled_event_id) for t in (first, second) if t] == [
            ("a", 2),
            ("b", 2),
        ]
        assert first is not None and first.normal_queue == "tq"
        # Rows already handed out are not offered again by the next read.
        queues_q = m._queue(NS, "tq", "workflow")
        queues_q.must_read = True
        assert await m.poll(NS, "tq", "workflow", timeout=0) is None
    finally:
        await store.close()


async def test_tasks_spilled_past_memory_are_read_back_from_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queues, "MEMORY_BACKLOG", 2)
    store = await backlog_store(("a", 2), ("b", 2), ("c", 2))
    try:
        m = Matching(store)
        q = m._queue(NS, "tq", "workflow")
        q.must_read = False  # as if read already: memory is what was offered
        q.read_at = float("inf")
        for wf in ("a", "b", "c"):
            m.add_workflow_task(TaskRef("workflow", NS, wf, "run", 2, 1, "tq"), "tq", False)
        assert backlog(m, "tq") == 2 and q.must_read  # "c" stayed in the table
        got = [await m.poll(NS, "tq", "workflow", timeout=0) for _ in range(3)]
        assert [t.workflow_id for t in got if t] == ["a", "b", "c"]
    finally:
        await store.close()


async def test_a_waiting_poller_finds_a_task_that_only_reached_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queues, "RECHECK", 0.05)
    store = await backlog_store()
    try:
        m = Matching(store)
        poll = asyncio.ensure_future(m.poll(NS, "tq", "workflow", timeout=30))
        await until(lambda: pollers(m, "tq") == 1)
        # Committed, but the offer to matching was lost (its owner was unreachable).
        await store.commit(
            [
                Mutation(
                    namespace_id=NS,
                    workflow_id="lost",
                    run_id="run",
                    db_version=1,
                    next_event_id=3,
                    status=1,
                    state=b"",
                    new_tasks=[TaskRow(NS, "tq", "workflow", "lost", "run", 2, 1, "tq")],
                )
            ]
        )
        task = await asyncio.wait_for(poll, 10)
        assert task is not None and task.workflow_id == "lost"
    finally:
        await store.close()


async def test_two_reads_of_one_row_are_two_offers() -> None:
    """Two processes reading one queue's table (while it moves) must not hand out the
    same offer: starting a task twice with one request id would give it to both."""
    store = await backlog_store(("a", 2))
    try:
        first, second = Matching(store), Matching(store)
        one = await first.poll(NS, "tq", "workflow", timeout=0)
        two = await second.poll(NS, "tq", "workflow", timeout=0)
        assert one is not None and two is not None
        assert one.request_id != two.request_id
    finally:
        await store.close()
