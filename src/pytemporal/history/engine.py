"""The history engine: cached mutable state, one lock per run, one commit per change.

Every change to a run goes through `locked()` + `commit()`: take the run's lock,
mutate its state (pure code in `history.workflow`), then write state, new events and
the current-run pointer in one store transaction. Only after the commit do we tell
anyone: long-poll waiters, matching (new tasks) and the deadline timer. If anything
raises before the commit, the cached state is dropped and reloaded from the store, so
a half-applied mutation can never leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.history.v1 import History, HistoryEvent

from pytemporal.cluster.membership import LocalCluster
from pytemporal.common.clock import Clock
from pytemporal.common.errors import NotFound, ResourceExhausted, ServiceError, Unavailable
from pytemporal.history.api.queries_registry import PendingQuery, QueryRegistry
from pytemporal.history.api.updates_registry import UpdateRegistry
from pytemporal.history.workflow import deadlines
from pytemporal.history.workflow import updates as upd
from pytemporal.history.workflow.limits import WorkflowLimits
from pytemporal.history.workflow.state import MutableState, Transfer, decode
from pytemporal.matching.client import MatchingRoutes
from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.persistence.api import CurrentMode, CurrentUpdate, HistoryBatch, Mutation, Store

log = logging.getLogger(__name__)


class ShardNotOwned(Unavailable):
    """The run's shard belongs to another process (or is moving): retry there."""


def search_attributes_json(ms: MutableState) -> str:
    """The run's search attributes as a JSON object of decoded values (json/plain)."""
    fields = ms.started.search_attributes.indexed_fields
    if not fields:
        return "{}"
    out = {}
    for name, payload in fields.items():
        try:
            out[name] = json.loads(payload.data)
        except ValueError:
            continue
    return json.dumps(out, sort_keys=True)


Key = tuple[str, str, str]  # namespace_id, workflow_id, run_id
MAX_CACHED_CLOSED = 2000
# A task handed between processes that disagree on its queue's owner stops moving
# after this many hops; the periodic re-offer fixes any misplacement later.
MAX_TASK_HOPS = 3


@dataclass
class Entry:
    key: Key
    ms: MutableState
    events: list[HistoryEvent]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    valid: bool = True
    deadline: float | None = None

    def notify(self) -> None:
        old, self.changed = self.changed, asyncio.Event()
        old.set()


@dataclass
class Limits:
    blob_size: int = 2 * 1024 * 1024
    max_buffered_queries: int = 1
    history_long_poll: float = 20.0
    workflow: WorkflowLimits = field(default_factory=WorkflowLimits)


@dataclass
class Change:
    entry: Entry
    current: CurrentUpdate | None = None
    created: bool = False


class HistoryEngine:
    def __init__(
        self, store: Store, matching: Matching, clock: Clock, limits: Limits | None = None
    ) -> None:
        self.store = store
        self.matching = matching
        self.clock = clock
        self.limits = limits or Limits()
        self.queries = QueryRegistry()
        self.updates = UpdateRegistry()
        # Set by the transfer processor: delivers cross-workflow work after commits.
        self.on_transfer: Callable[[Key, Transfer], None] | None = None
        self.cluster: LocalCluster = LocalCluster()
        # Set by the server: lets workflow tasks check search attributes.
        self.namespaces: Any = None
        # Set by the server: which process serves a task queue (rpc/redirector.py).
        self.redirector: MatchingRoutes | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._cache: OrderedDict[Key, Entry] = OrderedDict()
        self._loading: dict[Key, asyncio.Future[Entry | None]] = {}
        self._timers: list[tuple[float, Key]] = []
        self._timer_wakeup = asyncio.Event()
        self._id_locks: dict[tuple[str, str], asyncio.Lock] = {}

    # -- loading -------------------------------------------------------------------

    async def get(self, key: Key) -> Entry:
        entry = self._cache.get(key)
        if entry is not None and entry.valid:
            self._cache.move_to_end(key)
            return entry
        loaded = await self._load(key)
        if loaded is None:
            raise NotFound(
                f'workflow execution not found for workflow ID "{key[1]}" and run ID "{key[2]}"'
            )
        return loaded

    async def _load(self, key: Key) -> Entry | None:
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = fut
        try:
            entry = await self._read(key)
            if entry is not None:
                self._put(entry)
                self._resume(entry)
            fut.set_result(entry)
            return entry
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved, so an unawaited future does not warn
            raise
        finally:
            del self._loading[key]

    async def _read(self, key: Key) -> Entry | None:
        row = await self.store.get_execution(*key)
        if row is None:
            return None
        ms = decode(row.state)
        ms.db_version = row.db_version
        events: list[HistoryEvent] = []
        for batch in await self.store.read_history(*key):
            events.extend(History.FromString(batch.data).events)
        return Entry(key, ms, events)

    def _put(self, entry: Entry) -> None:
        self._cache[entry.key] = entry
        if len(self._cache) > MAX_CACHED_CLOSED * 2:
            self._evict_closed()

    def _evict_closed(self) -> None:
        closed = [k for k, e in self._cache.items() if not e.ms.is_open and not e.lock.locked()]
        for k in closed[: len(closed) - MAX_CACHED_CLOSED // 2]:
            del self._cache[k]

    def _invalidate(self, entry: Entry) -> None:
        entry.valid = False
        if self._cache.get(entry.key) is entry:
            del self._cache[entry.key]

    # -- mutation ------------------------------------------------------------------

    def shard_of(self, key: Key) -> int:
        return self.cluster.workflow_shard(key[0], key[1])

    def owns(self, key: Key) -> bool:
        return self.cluster.is_local(self.shard_of(key))

    @contextlib.asynccontextmanager
    async def locked(self, key: Key) -> AsyncIterator[Entry]:
        if not self.owns(key):
            raise ShardNotOwned(f"shard of workflow {key[1]} is owned by another process")
        while True:
            entry = await self.get(key)
            await entry.lock.acquire()
            if entry.valid:
                break
            entry.lock.release()
        try:
            entry.ms.begin(self.clock.now())
            yield entry
        except BaseException:
            ms = entry.ms
            if ms.new_events or ms.tasks or ms.dirty:
                self._invalidate(entry)
            raise
        finally:
            entry.lock.release()

    @contextlib.asynccontextmanager
    async def workflow_id_lock(self, namespace_id: str, workflow_id: str) -> AsyncIterator[None]:
        """Serializes starts of one workflow id (the current-run pointer's writers)."""
        k = (namespace_id, workflow_id)
        lock = self._id_locks.get(k)
        if lock is None:
            lock = self._id_locks[k] = asyncio.Lock()
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not lock._waiters:  # type: ignore[attr-defined]
                self._id_locks.pop(k, None)

    def new_entry(self, ms: MutableState) -> Entry:
        return Entry((ms.namespace_id, ms.workflow_id, ms.run_id), ms, [])

    async def commit(self, changes: list[Change]) -> None:
        """Persist the changes atomically, then publish them."""
        mutations = [self._mutation(c) for c in changes]
        try:
            await self.store.commit(mutations)
        except BaseException:
            for c in changes:
                self._invalidate(c.entry)
            raise
        for c in changes:
            c.entry.ms.db_version += 1
            if c.created:
                self._put(c.entry)
            self._publish(c.entry)

    async def commit_one(self, entry: Entry) -> None:
        ms = entry.ms
        if ms.new_run is not None:
            # The chain's next run replaces this one as the workflow id's current run.
            nxt = ms.new_run
            current = CurrentUpdate(
                CurrentMode.REPLACE,
                nxt.start_request_id,
                nxt.status,
                nxt.first_execution_run_id,
                expected_run_id=ms.run_id,
            )
            await self.commit(
                [Change(entry), Change(self.new_entry(nxt), current=current, created=True)]
            )
            ms.new_run = None
        elif ms.new_events or ms.tasks or ms.dirty:
            await self.commit([Change(entry)])
        else:
            # Nothing durable changed (a speculative task started, say), but waiters
            # and deadlines still need to hear about it.
            self._publish(entry)

    def _mutation(self, c: Change) -> Mutation:
        ms = c.entry.ms
        batches = []
        if ms.new_events:
            batches.append(
                HistoryBatch(
                    ms.new_events[0].event_id,
                    ms.new_events[-1].event_id,
                    History(events=ms.new_events).SerializeToString(),
                )
            )
        current = c.current
        if (
            current is None
            and not ms.is_open
            and ms.close_event_id in {e.event_id for e in ms.new_events}
        ):
            current = CurrentUpdate(
                CurrentMode.UPDATE, ms.start_request_id, ms.status, ms.first_execution_run_id
            )
        return Mutation(
            namespace_id=ms.namespace_id,
            workflow_id=ms.workflow_id,
            run_id=ms.run_id,
            db_version=ms.db_version + 1,
            next_event_id=ms.next_event_id,
            status=ms.status,
            state=ms.encode(),
            active=ms.active,
            shard_id=self.shard_of(c.entry.key),
            range_id=self.cluster.range_of(self.shard_of(c.entry.key)),
            workflow_type=ms.workflow_type,
            start_time=ms.start_time,
            close_time=ms.close_time or None,
            task_queue=ms.task_queue,
            execution_time=ms.execution_time,
            search_attributes=search_attributes_json(ms),
            batches=batches,
            current=current,
        )

    def _publish(self, entry: Entry) -> None:
        ms = entry.ms
        if ms.new_events:
            entry.events.extend(ms.new_events)
            ms.new_events = []
        ms.dirty = False
        entry.notify()
        for t in ms.tasks:
            self._dispatch(entry, t.kind, t.scheduled_event_id, t.attempt, t.task_queue, t.sticky)
        ms.tasks = []
        self._arm(entry)
        if ms.outbox and self.on_transfer is not None:
            for transfer in ms.outbox:
                self.on_transfer(entry.key, transfer)
        if entry.key in self.queries.buffered:
            self._reconcile_queries(entry)
        if ms.update_effects:
            self.updates.apply(entry.key, ms.update_effects)
            ms.update_effects = []
        if entry.key in self.updates.by_run:
            self._reconcile_updates(entry)

    def _reconcile_updates(self, entry: Entry) -> None:
        ms = entry.ms
        if not ms.is_open:
            if ms.new_run is not None:
                # Not yet accepted: the client retries and lands on the next run.
                closing = ResourceExhausted(
                    "workflow operation can not be applied because workflow is closing",
                    cause=5,  # RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW
                )
                admitted: ServiceError = closing
            else:
                admitted = NotFound("workflow update was aborted by closing workflow")
            for u in list(self.updates.by_run.get(entry.key, {}).values()):
                if u.stage == upd.ACCEPTED:
                    u.advance(
                        upd.COMPLETED,
                        upd.server_rejection(
                            upd.ACCEPTED_BUT_CLOSED, "AcceptedUpdateCompletedWorkflow"
                        ),
                    )
            self.updates.drop(entry.key, {upd.ADMITTED: admitted, upd.ACCEPTED: admitted})
            return
        wft = ms.wft
        if wft is None or not wft.started_event_id:
            for u in self.updates.pending(entry.key):
                u.sent = False

    def _reconcile_queries(self, entry: Entry) -> None:
        """Consistent queries follow the workflow task; with none to ride, go direct."""
        ms = entry.ms
        wft = ms.wft
        in_flight = wft is not None and wft.started_event_id
        pending = list(self.queries.buffered.get(entry.key, {}).values())
        for q in pending:
            if q.sent and not in_flight:
                q.sent = False
        if ms.is_open and (wft is not None or ms.wft_completed_count == 0):
            return
        for q in pending:
            if not q.sent:
                self.queries.remove(entry.key, q.id)
                self.dispatch_query(entry, q)

    def dispatch_query(self, entry: Entry, pending: PendingQuery) -> None:
        ns_id, wf_id, run_id = entry.key
        self.queries.direct[pending.id] = pending
        ref = TaskRef(
            "query", ns_id, wf_id, run_id, normal_queue=entry.ms.task_queue, query_id=pending.id
        )
        self._offer(ref, entry.ms.sticky_queue, False)

    def _dispatch(
        self, entry: Entry, kind: str, sched_id: int, attempt: int, queue: str, sticky: bool
    ) -> None:
        ns_id, wf_id, run_id = entry.key
        ref = TaskRef(
            kind,
            ns_id,
            wf_id,
            run_id,
            sched_id,
            attempt,
            entry.ms.task_queue,
            request_id=str(uuid.uuid4()),
        )
        self._offer(ref, queue, sticky)

    def _queue_is_local(self, ref: TaskRef, queue: str) -> bool:
        # Activity tasks may go to another task queue than the workflow's; workflow
        # tasks (and their sticky queues) are routed by the workflow's normal queue.
        routed_by = queue if ref.kind == "activity" else ref.normal_queue
        return self.cluster.is_local(self.cluster.queue_shard(ref.namespace_id, routed_by))

    def _offer(self, ref: TaskRef, queue: str, sticky: bool, hops: int = 0) -> None:
        """Hand a task to matching: here, or on the process that owns its task queue."""
        if hops >= MAX_TASK_HOPS or self.redirector is None:
            self.add_task(ref, queue, sticky)
            return
        routed_by = queue if ref.kind == "activity" else ref.normal_queue
        try:
            target = self.redirector.matching(ref.namespace_id, routed_by)
        except Unavailable:
            return  # no owner yet: offered again when the ring settles (reoffer_all)
        target.add_task(ref, queue, sticky, hops + 1)

    def add_task(self, ref: TaskRef, queue: str, sticky: bool) -> None:
        if ref.kind == "workflow":
            self.matching.add_workflow_task(ref, queue, sticky)
        elif ref.kind == "query":
            self.matching.add_query_task(ref, queue)
        else:
            self.matching.add_activity_task(ref, queue)

    # -- deadlines -----------------------------------------------------------------

    def _arm(self, entry: Entry) -> None:
        when = deadlines.next_deadline(entry.ms)
        if when is None or (entry.deadline is not None and entry.deadline <= when):
            entry.deadline = when if when is not None else entry.deadline
            return
        entry.deadline = when
        heapq.heappush(self._timers, (when, entry.key))
        if self._timers[0][1] == entry.key:
            self._timer_wakeup.set()

    async def run_timers(self) -> None:
        while True:
            self._timer_wakeup.clear()
            now = self.clock.now()
            while self._timers and self._timers[0][0] <= now:
                _, key = heapq.heappop(self._timers)
                await self._fire(key)
            delay = self._timers[0][0] - self.clock.now() if self._timers else 3600.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(delay, 0.0)):
                    await self._timer_wakeup.wait()

    async def _fire(self, key: Key) -> None:
        if not self.owns(key):
            return  # its new owner re-arms it on recovery
        try:
            async with self.locked(key) as entry:
                entry.deadline = None
                if entry.ms.is_open:
                    deadlines.fire_due(entry.ms)
                await self.commit_one(entry)
                self._arm(entry)
        except (NotFound, ShardNotOwned):
            return
        except Exception:
            log.exception("timer processing failed for %s; retrying in 1s", key)
            heapq.heappush(self._timers, (self.clock.now() + 1.0, key))

    # -- recovery ------------------------------------------------------------------

    async def recover(self, shards: list[int] | None = None) -> int:
        """After a restart (or taking over shards): reload their active runs, re-arm
        deadlines, re-offer their tasks, re-deliver their outboxes."""
        rows = await self.store.list_active_executions(shards)
        for row in rows:
            key = (row.namespace_id, row.workflow_id, row.run_id)
            cached = self._cache.get(key)
            if cached is not None:
                self._invalidate(cached)
            entry = await self._read(key)
            if entry is None:
                continue
            self._put(entry)
            self._resume(entry)
        return len(rows)

    def _resume(self, entry: Entry) -> None:
        """A run (re)loaded from the store may hold changes nobody was told about: a
        commit whose reply was lost still committed. Arm its deadlines, offer its tasks
        and deliver its outbox again; duplicates are harmless."""
        if not self.owns(entry.key) or not entry.ms.active:
            return
        self._reoffer(entry)
        self._arm(entry)
        if self.on_transfer is not None:
            for t in entry.ms.outbox:
                self.on_transfer(entry.key, t)

    def drop_shards(self, shards: list[int]) -> None:
        """Forget the runs of shards this process no longer owns."""
        lost = set(shards)
        for key, entry in list(self._cache.items()):
            if self.shard_of(key) in lost:
                self._invalidate(entry)

    def accept_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        """A task another process handed over; passed on if its queue moved again."""
        self._offer(ref, queue, sticky, hops)

    def reoffer_all(self) -> None:
        """Task queues may have moved to other processes: hand over the backlog of the
        queues that left, and offer pending tasks again (a duplicate is harmless,
        starting a task checks it is still pending)."""
        for ref, queue, kind in self.matching.drain(lambda r, q, k: self._queue_is_local(r, q)):
            # A worker's sticky queue does not follow it elsewhere: use the normal one.
            self._offer(ref, ref.normal_queue if kind == "workflow" else queue, False)
        for key, entry in list(self._cache.items()):
            if entry.ms.is_open and self.owns(key):
                self._reoffer(entry)

    def _reoffer(self, entry: Entry) -> None:
        ms = entry.ms
        if not ms.is_open:
            return
        wft = ms.wft
        if wft is not None and not wft.started_event_id and not wft.speculative:
            self._dispatch(
                entry, "workflow", wft.scheduled_event_id, wft.attempt, wft.task_queue, wft.sticky
            )
        now = self.clock.now()
        for ai in ms.activities.values():
            if not ai.started and ai.attempt_scheduled_time <= now:
                ms.dispatched.add((ai.scheduled_event_id, ai.attempt))
                self._dispatch(
                    entry, "activity", ai.scheduled_event_id, ai.attempt, ai.task_queue, False
                )
