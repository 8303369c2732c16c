"""The history engine on a real in-memory SQLite store, with a manual clock.

No server and no SDK: runs are driven with the pure state machine under the engine's
lock, as the RPC modules do. A "restart" is a new engine (new cache, matching and
timer queue) on the same store, which is what a process restart leaves behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.api.command.v1 import (
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType, HistoryEventFilterType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.clock import ManualClock
from pytemporal.common.protoutil import dur
from pytemporal.history.api import read, workflow_tasks
from pytemporal.history.api.start import started_attributes
from pytemporal.history.engine import Change, HistoryEngine, Key, Limits
from pytemporal.history.workflow import commands, lifecycle
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.matching.queues import Matching
from pytemporal.persistence.api import CurrentMode, CurrentUpdate, Mutation, Store
from pytemporal.persistence.sqlite.store import SqliteStore

NS = "ns-id"
_ids = itertools.count()


@dataclass
class Server:
    """One engine "process" on a store: what a restart throws away and rebuilds."""

    engine: HistoryEngine
    timers: asyncio.Task[None]

    async def stop(self) -> None:
        self.timers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.timers


@contextlib.asynccontextmanager
async def server(store: Store, clock: ManualClock, **limits: int) -> AsyncIterator[Server]:
    engine = HistoryEngine(store, Matching(store), clock, Limits(**limits))  # type: ignore[arg-type]
    await engine.recover()
    srv = Server(engine, asyncio.get_running_loop().create_task(engine.run_timers()))
    try:
        yield srv
    finally:
        await srv.stop()


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds."""
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
        identity="client",
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


async def start_task(engine: HistoryEngine, key: Key) -> None:
    async with engine.locked(key) as entry:
        wt.start(entry.ms, request_id=f"poll-{next(_ids)}", identity="worker")
        await engine.commit_one(entry)


async def complete_task(engine: HistoryEngine, key: Key, *cmds: Command) -> None:
    req = RespondWorkflowTaskCompletedRequest(commands=list(cmds), identity="worker")
    async with engine.locked(key) as entry:
        commands.complete(entry.ms, req)
        await engine.commit_one(entry)


def timer(seconds: float, timer_id: str = "t") -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id=timer_id, start_to_fire_timeout=dur(seconds)
        ),
    )


def complete() -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(),
    )


async def with_timer(engine: HistoryEngine, workflow_id: str, seconds: float) -> Key:
    key = await start_run(engine, workflow_id)
    await start_task(engine, key)
    await complete_task(engine, key, timer(seconds))
    return key


async def event_types(store: Store, key: Key) -> list[int]:
    out = []
    from temporalio.api.history.v1 import History

    for batch in await store.read_history(*key):
        out.extend(e.event_type for e in History.FromString(batch.data).events)
    return out


async def fired(store: Store, key: Key) -> bool:
    return EventType.EVENT_TYPE_TIMER_FIRED in await event_types(store, key)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = SqliteStore(None)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_timers_fire_in_order_across_a_restart(store: Store, clock: ManualClock) -> None:
    async with server(store, clock) as first:
        a = await with_timer(first.engine, "a", 30)
        b = await with_timer(first.engine, "b", 10)
        c = await with_timer(first.engine, "c", 20)
    # Restarted: a new engine that has loaded nothing.
    async with server(store, clock) as second:
        assert len(second.engine.cache) == 0
        state: dict[Key, bool] = {}

        async def refresh() -> None:
            for k in (a, b, c):
                state[k] = await fired(store, k)

        for step, expected in ((15, {b}), (10, {b, c}), (10, {a, b, c})):
            clock.advance(step)
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                await refresh()
                if {k for k, v in state.items() if v} == expected:
                    break
                assert asyncio.get_running_loop().time() < deadline, (step, state)
                await asyncio.sleep(0.005)
        # Each fired run got its next workflow task, in the durable backlog.
        rows = await store.read_tasks(NS, "tq", "workflow", 0, 10)
        assert [r.workflow_id for r in rows] == ["b", "c", "a"]


async def test_a_timer_due_during_downtime_fires_at_start(store: Store, clock: ManualClock) -> None:
    async with server(store, clock) as first:
        key = await with_timer(first.engine, "late", 5)
    clock.advance(60)  # the server is down while the timer falls due
    async with server(store, clock):
        deadline = asyncio.get_running_loop().time() + 10
        while not await fired(store, key):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.005)


async def test_restart_reads_only_the_queue_heads(store: Store, clock: ManualClock) -> None:
    async with server(store, clock) as first:
        for i in range(200):
            await with_timer(first.engine, f"w{i}", 3600)
        pending = await start_run(first.engine, "pending-task")
    async with server(store, clock) as second:
        engine = second.engine
        await until(lambda: engine.timers.stats()["fired"] == 0, "timer queue to settle")
        # Nothing was loaded and no far-away deadline is held in memory.
        assert len(engine.cache) == 0
        assert engine.timers.stats()["in_memory"] == 0
        # The unstarted workflow task comes from the durable backlog.
        ref = await engine.matching.poll(NS, "tq", "workflow", timeout=5)
        assert ref is not None and ref.workflow_id == "pending-task"
        resp = await workflow_tasks.record_started(
            engine, ref, PollWorkflowTaskQueueRequest(identity="w2")
        )
        assert resp is not None and resp.workflow_execution.run_id == pending[2]
        assert len(engine.cache) == 1


async def test_the_cache_is_bounded_and_reloads_on_demand(store: Store, clock: ManualClock) -> None:
    async with server(store, clock, cache_max_count=10) as srv:
        engine = srv.engine
        keys = [await with_timer(engine, f"w{i}", 3600) for i in range(50)]
        assert len(engine.cache) <= 10
        assert engine.cache.stats().evictions >= 40
        # An evicted run comes back from the store with its committed state.
        entry = await engine.get(keys[0])
        assert entry.ms.timers and entry.ms.db_version == 3
        assert len(engine.cache) <= 10


async def test_the_cache_byte_bound(store: Store, clock: ManualClock) -> None:
    async with server(store, clock, cache_max_bytes=1) as srv:
        for i in range(5):
            await with_timer(srv.engine, f"w{i}", 3600)
        assert len(srv.engine.cache) <= 1


async def test_a_run_evicted_during_its_workflow_task_completes_it(
    store: Store, clock: ManualClock
) -> None:
    async with server(store, clock, cache_max_count=2) as srv:
        engine = srv.engine
        key = await start_run(engine, "evicted")
        await start_task(engine, key)
        for i in range(5):  # push it out of the cache
            await start_run(engine, f"other{i}")
        assert engine.cache.peek(key) is None
        await complete_task(engine, key, complete())
        types = await event_types(store, key)
        assert types[-3:] == [
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        ]
        assert await store.read_tasks(NS, "tq", "workflow", 0, 10) != []  # the others'
        assert all(
            r.workflow_id != "evicted" for r in await store.read_tasks(NS, "tq", "workflow", 0, 10)
        )


async def test_the_backlog_follows_the_state(store: Store, clock: ManualClock) -> None:
    async with server(store, clock) as srv:
        key = await start_run(srv.engine, "wf")
        rows = await store.read_tasks(NS, "tq", "workflow", 0, 10)
        assert [(r.workflow_id, r.scheduled_event_id) for r in rows] == [("wf", 2)]
        await start_task(srv.engine, key)  # started: no longer in the backlog
        assert await store.read_tasks(NS, "tq", "workflow", 0, 10) == []
        await complete_task(srv.engine, key, timer(5))
        row = await store.get_execution(*key)
        assert row is not None and row.timer == clock.now() + 5
        await complete_task_after_timer(srv, store, clock, key)
        assert await store.read_timers(None, 1e12, 10) == []


async def complete_task_after_timer(
    srv: Server, store: Store, clock: ManualClock, key: Key
) -> None:
    clock.advance(5)
    deadline = asyncio.get_running_loop().time() + 10
    while not await store.read_tasks(NS, "tq", "workflow", 0, 10):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    await start_task(srv.engine, key)
    await complete_task(srv.engine, key, complete())


class GatedStore(SqliteStore):
    """Real SQLite whose commits wait at a gate: a commit in flight, held open."""

    def __init__(self) -> None:
        super().__init__(None)
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def commit(self, mutations: list[Mutation]) -> None:  # type: ignore[override]
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        await super().commit(mutations)


async def test_readers_never_see_a_close_before_its_event(clock: ManualClock) -> None:
    """Regression: a reader saw the run closed while its close event was not committed
    yet (IndexError -> INTERNAL on PostgreSQL, whose commits take a while)."""
    store = GatedStore()
    try:
        async with server(store, clock) as srv:
            engine = srv.engine
            key = await start_run(engine, "closing")
            await start_task(engine, key)
            store.gate = asyncio.Event()
            closing = asyncio.get_running_loop().create_task(complete_task(engine, key, complete()))
            await store.waiting.wait()  # the close is applied in memory, not committed
            req = GetWorkflowExecutionHistoryRequest(
                history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
                wait_new_event=False,
            )
            reader = asyncio.get_running_loop().create_task(
                read.get_history(engine, key, req, timeout=5)
            )
            describe = asyncio.get_running_loop().create_task(read.describe(engine, key))
            await asyncio.sleep(0)
            assert not reader.done() and not describe.done()  # they wait for the commit
            store.gate.set()
            await closing
            resp = await reader
            assert [e.event_type for e in resp.history.events] == [
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
            ]
            assert (await describe).workflow_execution_info.status == 2
    finally:
        await store.close()


async def test_poll_responses_page_long_histories(store: Store, clock: ManualClock) -> None:
    async with server(store, clock) as srv:
        engine = srv.engine
        key = await start_run(engine, "long")
        async with engine.locked(key) as entry:
            for i in range(400):
                lifecycle.signal(entry.ms, "s", None, "client", None, f"sig-{i}")
            await engine.commit_one(entry)
        ref = await engine.matching.poll(NS, "tq", "workflow", timeout=5)
        assert ref is not None
        resp = await workflow_tasks.record_started(
            engine, ref, PollWorkflowTaskQueueRequest(identity="w")
        )
        assert resp is not None
        first = list(resp.history.events)
        assert len(first) == workflow_tasks.POLL_PAGE_SIZE and resp.next_page_token
        events = list(first)
        token = resp.next_page_token
        while token:
            page = await read.get_history(
                engine,
                key,
                GetWorkflowExecutionHistoryRequest(next_page_token=token),
                timeout=5,
            )
            events.extend(page.history.events)
            token = page.next_page_token
        assert [e.event_id for e in events] == list(range(1, resp.started_event_id + 1))
        assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED


class SlowTimerReads(SqliteStore):
    """Real SQLite whose timer reads return late: a commit lands after the read's
    snapshot but before its rows reach the timer queue (as on PostgreSQL)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.gate: asyncio.Event | None = None
        self.read_waiting = asyncio.Event()

    async def read_timers(self, *args: Any, **kwargs: Any) -> list[Any]:
        rows = await super().read_timers(*args, **kwargs)
        if self.gate is not None:
            self.read_waiting.set()
            await self.gate.wait()
        return rows


async def test_a_deadline_committed_during_a_read_of_the_table_is_kept(
    clock: ManualClock,
) -> None:
    store = SlowTimerReads()
    store.gate = asyncio.Event()
    try:
        async with server(store, clock) as srv:
            await store.read_waiting.wait()  # the first read has its (empty) snapshot
            key = await with_timer(srv.engine, "racing", 5)
            store.gate.set()
            store.gate = None
            await until(lambda: srv.engine.timers.stats()["in_memory"] == 1, "the deadline")
            clock.advance(5)
            deadline = asyncio.get_running_loop().time() + 10
            while not await fired(store, key):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)
    finally:
        await store.close()


class FailingCommits(SqliteStore):
    """Real SQLite whose commits fail while `failing` is set (a read-only failover)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.failing = False
        self.timer_reads = 0

    async def commit(self, mutations: list[Mutation]) -> None:  # type: ignore[override]
        if self.failing:
            from pytemporal.common.errors import PersistenceError

            raise PersistenceError("database is read-only")
        await super().commit(mutations)

    async def read_timers(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.timer_reads += 1
        return await super().read_timers(*args, **kwargs)


async def test_a_deadline_whose_firing_failed_is_retried(clock: ManualClock) -> None:
    store = FailingCommits()
    try:
        async with server(store, clock) as srv:
            key = await with_timer(srv.engine, "retried", 5)
            store.failing = True
            clock.advance(5)
            await until(lambda: srv.engine.timers.stats()["fired"] >= 1, "a failed firing")
            # A signal published meanwhile must not hide the retry (it fails too).
            with contextlib.suppress(Exception):
                async with srv.engine.locked(key) as entry:
                    lifecycle.signal(entry.ms, "s", None, "client", None, "sig-1")
                    await srv.engine.commit_one(entry)
            store.failing = False
            for _ in range(3):
                clock.advance(1)
                await asyncio.sleep(0.01)
            deadline = asyncio.get_running_loop().time() + 10
            while not await fired(store, key):
                assert asyncio.get_running_loop().time() < deadline
                clock.advance(1)
                await asyncio.sleep(0.01)
    finally:
        await store.close()


async def test_many_deadlines_at_once_are_read_page_by_page(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytemporal.history import timer_queue

    monkeypatch.setattr(timer_queue, "READ_LIMIT", 5)
    store = FailingCommits()
    try:
        async with server(store, clock) as first:
            keys = [await with_timer(first.engine, f"burst{i}", 40) for i in range(23)]
        async with server(store, clock) as srv:
            # The window holds 23 deadlines (more than a page) that are not due yet: the
            # queue holds the earliest page and waits, it does not re-read in a loop.
            await until(lambda: srv.engine.timers.stats()["in_memory"] == 5, "a page")
            reads = store.timer_reads
            for _ in range(20):
                await asyncio.sleep(0)
            assert store.timer_reads == reads  # idle until something is due
            clock.advance(40)
            deadline = asyncio.get_running_loop().time() + 10
            while not all([await fired(store, k) for k in keys]):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
    finally:
        await store.close()


async def test_a_speculative_task_made_normal_gets_its_backlog_row(
    store: Store, clock: ManualClock
) -> None:
    async with server(store, clock) as srv:
        engine = srv.engine
        key = await with_timer(engine, "spec", 3600)
        async with engine.locked(key) as entry:
            wt.schedule(entry.ms, speculative=True)  # an update on an idle run
            await engine.commit_one(entry)
        assert await store.read_tasks(NS, "tq", "workflow", 0, 10) == []
        async with engine.locked(key) as entry:  # a signal makes it a normal task
            lifecycle.signal(entry.ms, "s", None, "client", None, "sig-1")
            await engine.commit_one(entry)
        rows = await store.read_tasks(NS, "tq", "workflow", 0, 10)
        assert [r.workflow_id for r in rows] == ["spec"]
