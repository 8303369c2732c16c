"""The history engine: runs loaded on demand, one lock per run, one commit per change.

Every change to a run goes through `locked()` + `commit()` (or `update()`, which does
both): take the run's lock, mutate its state (pure code in `history.workflow`), then
write state, new events, the run's timer-task row, its task-backlog rows and the
current-run pointer in one store transaction. Only after the commit do we tell anyone:
long-poll waiters, matching (new tasks), the timer queue and the transfer processor.
If anything raises before the commit, the cached state is dropped and reloaded from the
store, so a half-applied mutation can never leak.

The parts: `cache.RunCache` (bounded, on-demand), `timer_queue.TimerQueue` (durable
deadlines), `dispatch.TaskDispatcher` (tasks to matching). Histories are never held in
memory: `read_events` reads them from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from temporalio.api.history.v1 import History, HistoryEvent

from pytemporal.batch import keys as batch_keys
from pytemporal.cluster.membership import LocalCluster
from pytemporal.common import logcontext
from pytemporal.common.clock import Clock
from pytemporal.common.errors import (
    NamespaceNotFound,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)
from pytemporal.history import outgoing
from pytemporal.history.api.queries_registry import PendingQuery, QueryRegistry
from pytemporal.history.api.updates_registry import UpdateRegistry
from pytemporal.history.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, Entry, Key, RunCache
from pytemporal.history.dispatch import TaskDispatcher, pending_task_rows
from pytemporal.history.timer_queue import TimerQueue
from pytemporal.history.workflow import deadlines, reset_points, versioning
from pytemporal.history.workflow import updates as upd
from pytemporal.history.workflow.limits import WorkflowLimits
from pytemporal.history.workflow.state import MutableState, Transfer, decode
from pytemporal.matching.client import MatchingRoutes
from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.metrics import Metrics
from pytemporal.namespaces import hidden_namespace_ids
from pytemporal.persistence.api import (
    CurrentMode,
    CurrentUpdate,
    HistoryBatch,
    Mutation,
    Store,
    TaskRow,
)
from pytemporal.scheduler import keys as schedule_keys

__all__ = ["Change", "Entry", "HistoryEngine", "Key", "Limits", "ShardNotOwned"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Runs remembered as "last commit's outcome unknown" until they are loaded again; a
# bound, because a run that is never touched again would stay for ever.
MAX_SUSPECT = 10_000


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


def _lineage(ms: MutableState) -> dict[str, Any]:
    """The run's parent and root, as visibility columns (a run with no parent is its
    own root)."""
    s = ms.started
    parent = s.parent_workflow_execution if s.HasField("parent_workflow_execution") else None
    root = s.root_workflow_execution if s.HasField("root_workflow_execution") else None
    return {
        "parent_workflow_id": parent.workflow_id if parent is not None else None,
        "parent_run_id": parent.run_id if parent is not None else None,
        "root_workflow_id": root.workflow_id if root is not None else ms.workflow_id,
        "root_run_id": root.run_id if root is not None else ms.run_id,
    }


def _closes(ms: MutableState) -> bool:
    """Whether the run's pending events close it."""
    return (
        not ms.is_open
        and bool(ms.new_events)
        and any(e.event_id == ms.close_event_id for e in ms.new_events)
    )


@dataclass
class Limits:
    blob_size: int = 2 * 1024 * 1024
    max_buffered_queries: int = 1
    history_long_poll: float = 20.0
    workflow: WorkflowLimits = field(default_factory=WorkflowLimits)
    # The mutable-state cache's bounds (history.hostLevelCacheMaxSize / ...Bytes).
    cache_max_count: int = DEFAULT_MAX_COUNT
    cache_max_bytes: int = DEFAULT_MAX_BYTES
    # system.enableEagerWorkflowStart: a start may hand back its first workflow task.
    eager_workflow_start: bool = True
    # system.enableActivityEagerExecution: a workflow task's reply may carry the
    # activities it scheduled with `request_eager_execution`.
    eager_activities: bool = True


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
        # Set by the time-skipping mode: sees each run's state after every publish.
        self.on_published: Callable[[Key, MutableState], None] | None = None
        self.cluster: LocalCluster = LocalCluster()
        # Set by the server: lets workflow tasks check search attributes.
        self.namespaces: Any = None
        # Set by the server: which process serves a task queue (rpc/redirector.py).
        self.redirector: MatchingRoutes | None = None
        # Set by the scheduler (scheduler/runtime.py): fires a schedule's timer row, and
        # hears that a workflow a schedule started closed (namespace id, schedule id).
        self.system_timers: Callable[[Key], Awaitable[float | None]] | None = None
        self.on_scheduled_close: Callable[[str, str], None] | None = None
        # Set by the server when metrics are on: counts closes, times task starts.
        self.metrics: Metrics | None = None
        # Set by the batch runner (batch/runner.py): fires a batch job's timer row.
        self.batch_timers: Callable[[Key], Awaitable[float | None]] | None = None
        self.cache = RunCache(
            max_count=self.limits.cache_max_count,
            max_bytes=self.limits.cache_max_bytes,
            pinned=self._pinned,
        )
        self.tasks = TaskDispatcher(self)
        self.timers = TimerQueue(store, clock, self._fire, lambda: self.cluster.local_shards())
        self._loading: dict[Key, asyncio.Future[Entry | None]] = {}
        self._id_locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Runs whose last commit failed in an unknown way: on reload, offer their tasks
        # and publish their deadline again, in case it did commit.
        self._suspect: dict[Key, None] = {}
        # Closed runs are deleted after their namespace's retention (off in the
        # time-skipping mode, whose clock would jump to those deletions).
        self.retention = True
        self.deleted = 0
        # Set by the server: the worker deployment version new tasks of a (namespace id,
        # task queue, workflow id) go to ("" unversioned), to tell a pinned run that its
        # deployment has moved on (WorkflowTaskStarted's target_..._version_changed).
        self.deployment_target: Callable[[str, str, str], str] | None = None
        # Set by the server: whether a version ("deployment:build") polls a workflow
        # task queue, (namespace id, version, task queue) (UpdateWorkflowExecutionOptions).
        self.version_present: Callable[[str, str, str], bool] | None = None

    def _pinned(self, entry: Entry) -> bool:
        # In-flight queries and updates live in memory beside the entry and are
        # reconciled with it after each commit.
        return entry.key in self.queries.buffered or entry.key in self.updates.by_run

    # -- loading -------------------------------------------------------------------

    async def get(self, key: Key) -> Entry:
        entry = self.cache.get(key)
        if entry is not None:
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
                self.cache.put(entry)
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
        if schedule_keys.is_schedule(key) or batch_keys.is_batch(key):
            return None  # a schedule's or a batch job's row: not a run
        row = await self.store.get_execution(*key)
        if row is None:
            return None
        ms = decode(row.state)
        ms.db_version = row.db_version
        return Entry(key, ms, size=len(row.state), timer=row.timer, task_rows=None)

    async def read_events(
        self, key: Key, first: int = 1, last: int | None = None
    ) -> list[HistoryEvent]:
        """Committed events `first`..`last` of a run, from the store."""
        events: list[HistoryEvent] = []
        for batch in await self.store.read_history(*key, first, last):
            for ev in History.FromString(batch.data).events:
                if ev.event_id >= first and (last is None or ev.event_id <= last):
                    events.append(ev)
        type_of = self.search_attribute_types(key[0])
        if type_of is not None:
            outgoing.apply_types_to_events(events, type_of)
        return events

    def search_attribute_types(self, namespace_id: str) -> outgoing.TypeOf | None:
        if self.namespaces is None:
            return None
        try:
            ns = self.namespaces.by_id(namespace_id)
        except NamespaceNotFound:
            return None
        type_of: outgoing.TypeOf = ns.search_attribute_type
        return type_of

    async def read_event(self, key: Key, event_id: int) -> HistoryEvent:
        events = await self.read_events(key, event_id, event_id)
        if not events:
            raise NotFound(f"event {event_id} of workflow {key[1]} not found")
        return events[0]

    def _invalidate(self, entry: Entry) -> None:
        self.cache.invalidate(entry)

    # -- mutation ------------------------------------------------------------------

    def shard_of(self, key: Key) -> int:
        if schedule_keys.is_schedule(key):
            return self.cluster.workflow_shard(*schedule_keys.shard_workflow(key))
        if batch_keys.is_batch(key):
            return self.cluster.workflow_shard(*batch_keys.batch_of(key))
        return self.cluster.workflow_shard(key[0], key[1])

    def owns(self, key: Key) -> bool:
        return self.cluster.is_local(self.shard_of(key))

    async def _acquire(self, key: Key) -> Entry:
        while True:
            entry = await self.get(key)
            await entry.lock.acquire()
            if entry.valid:
                return entry
            entry.lock.release()

    @contextlib.asynccontextmanager
    async def locked(self, key: Key) -> AsyncIterator[Entry]:
        if not self.owns(key):
            raise ShardNotOwned(f"shard of workflow {key[1]} is owned by another process")
        entry = await self._acquire(key)
        try:
            entry.ms.begin(self.clock.now())
            with logcontext.run_tags(key):  # every line logged while changing the run
                yield entry
        except BaseException:
            ms = entry.ms
            if ms.new_events or ms.tasks or ms.dirty:
                self._invalidate(entry)
            raise
        finally:
            entry.lock.release()

    @contextlib.asynccontextmanager
    async def reading(self, key: Key) -> AsyncIterator[Entry]:
        """The run's committed state, with no change in flight while the caller reads
        it: a reader must never see state whose events are not committed yet."""
        entry = await self._acquire(key)
        try:
            yield entry
        finally:
            entry.lock.release()

    async def update(self, key: Key, fn: Callable[[Entry], T | Awaitable[T]]) -> T:
        """Lock the run, apply `fn`, commit: all of it, or (if anything raises) none."""
        async with self.locked(key) as entry:
            result = fn(entry)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            await self.commit_one(entry)
            return result  # type: ignore[return-value]

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
        return Entry((ms.namespace_id, ms.workflow_id, ms.run_id), ms)

    async def commit(self, changes: list[Change]) -> None:
        """Persist the changes atomically, then publish them."""
        closing = [c.entry for c in changes if _closes(c.entry.ms)]
        for entry in closing:
            self._schedule_deletion(entry.ms)
        mutations = [self._mutation(c) for c in changes]
        try:
            await self.store.commit(mutations)
        except BaseException:
            for c in changes:
                self._invalidate(c.entry)
                self._suspect[c.entry.key] = None
            while len(self._suspect) > MAX_SUSPECT:
                del self._suspect[next(iter(self._suspect))]
            raise
        for c, m in zip(changes, mutations, strict=True):
            entry = c.entry
            entry.ms.db_version += 1
            entry.timer = m.timer if m.set_timer else entry.timer
            if m.keep_tasks is not None:
                entry.task_rows = set(m.keep_tasks)
            if entry.task_rows is not None:
                entry.task_rows.update((t.kind, t.scheduled_event_id) for t in m.new_tasks)
            if c.created:
                entry.size = len(m.state)
                self.cache.put(entry)
            else:
                self.cache.resize(entry, len(m.state))
            self._publish(entry)
        for entry in closing:
            self._scheduled_closed(entry)
            if self.metrics is not None:
                ms = entry.ms
                self.metrics.workflow_closed(
                    ms.namespace,
                    ms.task_queue,
                    ms.workflow_type,
                    ms.status,
                    ms.history_size_bytes,
                    ms.next_event_id - 1,
                )

    def _schedule_deletion(self, ms: MutableState) -> None:
        """As Temporal's DeleteHistoryEventTask, created at close: the run and its
        history and visibility are deleted once the namespace's retention has passed,
        by the run's timer row (`_fire`)."""
        if ms.delete_after or not self.retention:
            return
        retention = self._retention(ms.namespace_id)
        if retention > 0:
            ms.delete_after = (ms.close_time or ms.now) + retention

    def _retention(self, namespace_id: str) -> float:
        """The namespace's retention in seconds (0: unknown)."""
        if self.namespaces is None:
            return 0.0
        try:
            return float(self.namespaces.by_id(namespace_id).retention_seconds)
        except NotFound:
            return 0.0

    def _scheduled_closed(self, entry: Entry) -> None:
        """A run a schedule started closed: tell the scheduler (it reads how)."""
        payload = entry.ms.started.search_attributes.indexed_fields.get("TemporalScheduledById")
        if payload is None or self.on_scheduled_close is None:
            return
        try:
            schedule_id = json.loads(payload.data)
        except ValueError:
            return
        if isinstance(schedule_id, str):
            self.on_scheduled_close(entry.key[0], schedule_id)

    async def commit_one(self, entry: Entry) -> None:
        ms = entry.ms
        if ms.new_run is not None:
            # The chain's next run replaces this one as the workflow id's current run.
            nxt = ms.new_run
            reset_points.roll_over(nxt, self._retention(nxt.namespace_id))
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
        elif (
            ms.new_events
            or ms.tasks
            or ms.dirty
            or self._timer_value(entry, deadlines.next_deadline(ms)) != entry.timer
        ):
            await self.commit([Change(entry)])
        else:
            # Nothing durable changed (a speculative task started, say), but waiters
            # and deadlines still need to hear about it.
            self._publish(entry)

    def _timer_value(self, entry: Entry, deadline: float | None) -> float | None:
        """What the run's timer-task row must say: its next deadline, or while it has
        cross-workflow work to deliver, a time already due (so a restart delivers it)."""
        ms = entry.ms
        if ms.outbox:
            if entry.timer is not None and entry.timer <= ms.now:
                return entry.timer
            return ms.now
        return deadline

    def _mutation(self, c: Change) -> Mutation:
        ms = c.entry.ms
        entry = c.entry
        key = entry.key
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
        deadline = deadlines.next_deadline(ms)
        entry.armed = (deadline,)
        timer = self._timer_value(entry, deadline)
        pending = pending_task_rows(entry)
        new_tasks = [
            TaskRow(
                namespace_id=key[0],
                task_queue=ms.task_queue if t.kind == "workflow" else t.task_queue,
                kind=t.kind,
                workflow_id=key[1],
                run_id=key[2],
                scheduled_event_id=t.scheduled_event_id,
                attempt=t.attempt,
                normal_queue=ms.task_queue,
            )
            for t in ms.tasks
            if (t.kind, t.scheduled_event_id) in pending
        ]
        stored = entry.task_rows
        keep = None if stored is not None and stored <= pending else sorted(pending)
        shard = self.shard_of(key)
        return Mutation(
            namespace_id=ms.namespace_id,
            workflow_id=ms.workflow_id,
            run_id=ms.run_id,
            db_version=ms.db_version + 1,
            next_event_id=ms.next_event_id,
            status=ms.status,
            state=ms.encode(),
            active=ms.active,
            shard_id=shard,
            range_id=self.cluster.range_of(shard),
            workflow_type=ms.workflow_type,
            start_time=ms.start_time,
            close_time=ms.close_time or None,
            task_queue=ms.task_queue,
            execution_time=ms.execution_time,
            search_attributes=search_attributes_json(ms),
            **_lineage(ms),
            history_size_bytes=ms.history_size_bytes,
            batches=batches,
            current=current,
            set_timer=timer != entry.timer,
            timer=timer,
            new_tasks=new_tasks,
            keep_tasks=keep,
        )

    def _publish(self, entry: Entry) -> None:
        ms = entry.ms
        ms.new_events = []
        ms.dirty = False
        entry.notify()
        for t in ms.tasks:
            self.tasks.dispatch(
                entry, t.kind, t.scheduled_event_id, t.attempt, t.task_queue, t.sticky
            )
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
        if self.on_published is not None:
            self.on_published(entry.key, ms)

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
            "query",
            ns_id,
            wf_id,
            run_id,
            normal_queue=entry.ms.task_queue,
            query_id=pending.id,
            pinned=versioning.pinned_version(entry.ms),
        )
        self.tasks.offer(ref, entry.ms.sticky_queue, False)

    def accept_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        """A task another process handed over; passed on if its queue moved again."""
        self.tasks.offer(ref, queue, sticky, hops)

    # -- deadlines -----------------------------------------------------------------

    def _arm(self, entry: Entry) -> None:
        armed, entry.armed = entry.armed, None
        if self.owns(entry.key):
            deadline = armed[0] if armed is not None else deadlines.next_deadline(entry.ms)
            self.timers.published(entry.key, deadline, bool(entry.ms.outbox))

    async def run_timers(self) -> None:
        await self.timers.run()

    async def _fire(self, key: Key) -> float | None:
        """The timer queue's callback: handle what is due; the run's next deadline."""
        if schedule_keys.is_schedule(key):
            return None if self.system_timers is None else await self.system_timers(key)
        if batch_keys.is_batch(key):
            return None if self.batch_timers is None else await self.batch_timers(key)
        if not self.owns(key):
            return None  # its new owner reads the row
        try:
            async with self.locked(key) as entry:
                ms = entry.ms
                if ms.is_open:
                    deadlines.fire_due(ms)
                elif deadlines.deletion_due(ms):
                    await self._delete(entry)
                    return None
                await self.commit_one(entry)
                return deadlines.next_deadline(entry.ms)
        except (NotFound, ShardNotOwned):
            return None

    async def _delete(self, entry: Entry) -> None:
        """Delete a closed run (under its lock): its row, history, visibility, timer
        and backlog rows, and the current-run pointer if it names the run."""
        await self.store.delete_execution(*entry.key)
        self.deleted += 1
        self._invalidate(entry)

    # -- recovery ------------------------------------------------------------------

    async def recover(self, shards: list[int] | None = None) -> int:
        """After a restart or a shard takeover: nothing is loaded. The timer queue reads
        the due head of its table (which also re-delivers outboxes) and matching reads
        each queue's backlog at its next poll. Returns the runs still cached for the
        shards, which are dropped: another process may have changed them."""
        dropped = 0
        for entry in self.cache:
            mine = shards is None or self.shard_of(entry.key) in shards
            if mine and not entry.lock.locked():
                self._invalidate(entry)
                dropped += 1
        self.timers.reset()
        return dropped

    def _resume(self, entry: Entry) -> None:
        """A run loaded from the store. If it has cross-workflow work this process is
        not already delivering, deliver it; if its last commit here failed in an
        unknown way, it may hold changes nobody was told about: offer its tasks and
        publish its deadline again (duplicates are harmless)."""
        if not self.owns(entry.key) or not entry.ms.active:
            return
        if entry.key in self._suspect:
            del self._suspect[entry.key]
            self.tasks.reoffer(entry)
            self._arm(entry)
        outbox = entry.ms.outbox
        if outbox and self.on_transfer is not None and not self.timers.delivering(entry.key):
            self._arm(entry)
            for t in outbox:
                self.on_transfer(entry.key, t)

    def forget_namespace(self, namespace_id: str) -> None:
        """A deleted namespace's runs are going: drop them from the cache and the timer
        queue's memory (their rows are deleted by the caller)."""
        ids = set(hidden_namespace_ids(namespace_id))
        for entry in [e for e in self.cache if e.key[0] in ids]:
            self._invalidate(entry)
        self.timers.forget(lambda key: key[0] in ids)

    def drop_shards(self, shards: list[int]) -> None:
        """Forget the runs of shards this process no longer owns."""
        lost = set(shards)

        def is_lost(key: Key) -> bool:
            return self.shard_of(key) in lost

        for entry in self.cache:
            if is_lost(entry.key):
                self._invalidate(entry)
        self.timers.forget(is_lost)
        self._suspect = {k: None for k in self._suspect if not is_lost(k)}

    def reoffer_all(self) -> None:
        """Task queues may have moved between processes."""
        self.tasks.ring_changed()
