"""The durable scheduler: each schedule's state is a row, its next wake-up a timer row.

A wake-up (the timer queue firing the schedule's row, an RPC that changed it, or a
workflow it started closing) runs under the schedule's lock on the owner of its
shard: load the row, refresh the workflows it started that are still running, buffer
the spec's times since the last wake-up (catchup window), the backfills and the
triggers, apply the overlap policies, start / cancel / terminate workflows, and
commit the new state together with the next deadline in one transaction
(`Mutation` with `set_timer`), fenced on the shard's range id.

Starts are made before the commit that records them. A crash in between replays
the same wake-up from the same committed state, so the same starts get the same
workflow ids and request ids, and history answers the retried start with the run it
already started: an action is never started twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload, SearchAttributes, WorkflowExecution
from temporalio.api.enums.v1 import WorkflowIdReusePolicy
from temporalio.api.schedule.v1 import ScheduleActionResult
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.common.errors import (
    InvalidArgument,
    NotFound,
    ServiceError,
    Unavailable,
    WorkflowAlreadyStarted,
)
from pytemporal.common.keyed_locks import KeyedLocks
from pytemporal.common.protoutil import ts
from pytemporal.history.engine import HistoryEngine, ShardNotOwned
from pytemporal.namespaces import NamespaceRegistry
from pytemporal.persistence.api import Mutation
from pytemporal.scheduler import keys
from pytemporal.scheduler.actions import RUNNING, Actions
from pytemporal.scheduler.state import ALLOW_ALL, ScheduleState, process_buffer

log = logging.getLogger(__name__)

# Backfilled actions buffered per wake-up; more wake up again at once.
BACKFILLS_PER_WAKE = 100
# While starts wait for a running workflow to close: how often to look at it, in case
# its close was not heard (it closed on another process, or before a crash).
RUNNING_POLL = 5.0
# Spec times looked at per wake-up (after an outage, the rest at the next one, at once).
SCAN_BUDGET = 10_000
# After a start failed for a transient reason.
RETRY = 1.0
SCHEDULE_TYPE = "temporal-sys-scheduler-workflow"


class Scheduler:
    def __init__(
        self, engine: HistoryEngine, namespaces: NamespaceRegistry, actions: Actions
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = engine.clock
        self.namespaces = namespaces
        self.actions = actions
        self._locks = KeyedLocks()
        self._background: set[asyncio.Task[None]] = set()
        engine.system_timers = self.fire
        engine.on_scheduled_close = self.workflow_closed

    # -- ownership and locking ---------------------------------------------------------

    def shard(self, namespace_id: str, schedule_id: str) -> int:
        return self.engine.cluster.workflow_shard(
            namespace_id, keys.WORKFLOW_ID_PREFIX + schedule_id
        )

    def owns(self, namespace_id: str, schedule_id: str) -> bool:
        return self.engine.cluster.is_local(self.shard(namespace_id, schedule_id))

    @contextlib.asynccontextmanager
    async def locked(self, namespace_id: str, schedule_id: str) -> AsyncIterator[None]:
        if not self.owns(namespace_id, schedule_id):
            raise ShardNotOwned(f"shard of schedule {schedule_id} is owned by another process")
        async with self._locks.hold((namespace_id, schedule_id)):
            yield

    # -- rows --------------------------------------------------------------------------

    async def load(self, namespace_id: str, schedule_id: str) -> ScheduleState | None:
        """The stored schedule, deleted ones included (None: never created)."""
        row = await self.store.get_execution(*keys.row_key(namespace_id, schedule_id))
        if row is None:
            return None
        return ScheduleState.decode(row.state, row.db_version)

    async def get(self, namespace_id: str, schedule_id: str) -> ScheduleState:
        st = await self.load(namespace_id, schedule_id)
        if st is None or st.deleted:
            raise NotFound("schedule not found")
        return st

    async def commit(self, st: ScheduleState, deadline: float | None) -> None:
        key = keys.row_key(st.namespace_id, st.schedule_id)
        shard = self.shard(st.namespace_id, st.schedule_id)
        nw = st.schedule.action.start_workflow
        create_time = st.info.create_time.seconds + st.info.create_time.nanos / 1e9
        m = Mutation(
            namespace_id=key[0],
            workflow_id=key[1],
            run_id=key[2],
            db_version=st.db_version + 1,
            next_event_id=1,
            status=5 if st.deleted else RUNNING,  # TERMINATED: a tombstone
            state=st.encode(),
            active=not st.deleted,
            shard_id=shard,
            range_id=self.engine.cluster.range_of(shard),
            workflow_type=nw.workflow_type.name or SCHEDULE_TYPE,
            start_time=create_time,
            close_time=None,
            task_queue=nw.task_queue.name,
            execution_time=create_time,
            search_attributes=_visibility_json(st),
            set_timer=True,
            timer=None if st.deleted else deadline,
        )
        await self.store.commit([m])
        st.db_version += 1
        if self.owns(st.namespace_id, st.schedule_id):
            self.engine.timers.published(key, m.timer, False)

    # -- wake-ups ----------------------------------------------------------------------

    async def fire(self, key: keys.Key) -> float | None:
        """The timer queue's callback for a schedule's row: its next deadline."""
        namespace_id, schedule_id = keys.schedule_of(key)
        if not self.owns(namespace_id, schedule_id):
            return None
        try:
            async with self.locked(namespace_id, schedule_id):
                st = await self.load(namespace_id, schedule_id)
                if st is None or st.deleted:
                    return None
                return await self.run(st)
        except ShardNotOwned:
            return None

    def workflow_closed(self, namespace_id: str, schedule_id: str) -> None:
        """A workflow this schedule started closed on this process: wake the schedule
        now, here or on the owner of its shard."""
        if self.owns(namespace_id, schedule_id):
            self._spawn(self._wake(namespace_id, schedule_id))
        else:
            self._spawn(self._wake_owner(namespace_id, schedule_id))

    @property
    def waking(self) -> int:
        """Wake-ups in progress (time skipping holds time while there are any)."""
        return len(self._background)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _wake_owner(self, namespace_id: str, schedule_id: str) -> None:
        # An empty PatchSchedule on the owner is a wake-up. If it is lost, the schedule
        # still reads the workflow's state at its next wake-up, before any start.
        try:
            ns = self.namespaces.by_id(namespace_id)
            await self.actions.wake_schedule(ns, schedule_id)
        except Exception as e:
            log.warning("could not wake schedule %s on its owner: %s", schedule_id, e)

    async def _wake(self, namespace_id: str, schedule_id: str) -> None:
        try:
            await self.fire(keys.row_key(namespace_id, schedule_id))
        except Exception:
            # The timer row is still there: the timer queue wakes it again.
            log.exception("wake-up of schedule %s failed", schedule_id)

    async def close(self) -> None:
        for t in list(self._background):
            t.cancel()

    async def run(self, st: ScheduleState) -> float | None:
        """One iteration of Temporal's scheduler loop, committed. Call under the lock."""
        now = self.clock.now()
        deadline = await self.step(st, now)
        await self.commit(st, deadline)
        return deadline

    async def step(self, st: ScheduleState, now: float) -> float | None:
        """Process everything due at `now`; the next deadline (None: nothing to wait for)."""
        ns = self.namespaces.by_id(st.namespace_id)
        cspec = st.compiled()
        if st.info.running_workflows:
            await self._refresh(st)
        start, end = st.last_processed, max(now, st.last_processed)
        next_time = st.process_time_range(cspec, start, end, 0, False, budget=[SCAN_BUDGET])
        st.last_processed = end if st.scan_stopped is None else st.scan_stopped
        st.process_backfills(cspec, BACKFILLS_PER_WAKE)
        retry = False
        for _ in range(BACKFILLS_PER_WAKE):
            again, failed = await self._process_buffer(st, ns, now)
            retry = retry or failed
            if not again or not st.buffer:
                break
        deadlines = []
        if next_time is not None and st.can_take_scheduled_action(False, False):
            deadlines.append(next_time)
        if st.backfills or st.scan_stopped is not None:
            deadlines.append(now)
        if retry:
            deadlines.append(now + RETRY)
        if st.buffer and st.info.running_workflows:
            deadlines.append(now + RUNNING_POLL)
        return min(deadlines) if deadlines else None

    async def _refresh(self, st: ScheduleState) -> None:
        for ex in list(st.info.running_workflows):
            try:
                closed = await self.actions.closed(st.namespace_id, ex)
            except ServiceError:
                log.warning(
                    "cannot read workflow %s of schedule %s", ex.workflow_id, st.schedule_id
                )
                continue
            if closed is not None:
                st.record_close(ex.workflow_id, closed.status, closed.result, closed.failure)

    async def _process_buffer(self, st: ScheduleState, ns: Any, now: float) -> tuple[bool, bool]:
        """workflow.go processBuffer: (try again now, a start failed transiently)."""
        if not st.schedule.action.HasField("start_workflow") or not st.buffer:
            st.buffer = []
            return False, False
        is_running = bool(st.info.running_workflows)
        res = process_buffer(st.buffer, is_running, st.schedule.policies.overlap_policy)
        st.buffer = res.new_buffer
        st.info.overlap_skipped += res.overlap_skipped
        starts = list(res.overlapping)
        if res.non_overlapping is not None:
            starts.append(res.non_overlapping)
        again = failed = False
        for start in starts:
            if not st.can_take_scheduled_action(start.manual, True):
                again = True
                continue
            try:
                result = await self._start(st, ns, start, now)
            except (WorkflowAlreadyStarted, InvalidArgument, NotFound) as e:
                log.warning("schedule %s: start dropped: %s", st.schedule_id, e)
                again = True
                continue
            except (Unavailable, ShardNotOwned) as e:
                log.warning("schedule %s: start failed, retrying: %s", st.schedule_id, e)
                st.buffer.insert(0, start)
                failed = True
                continue
            st.record_action(result, start is res.non_overlapping)
        identity = _identity(st)
        for ex in (
            list(st.info.running_workflows) if (res.need_terminate or res.need_cancel) else []
        ):
            try:
                if res.need_terminate:
                    await self.actions.terminate(ns, ex, identity)
                else:
                    await self.actions.cancel(ns, ex, identity)
            except ServiceError as e:
                log.warning("schedule %s: cancel/terminate of %s: %s", st.schedule_id, ex, e)
        return again, failed

    async def _start(
        self, st: ScheduleState, ns: Any, start: Any, now: float
    ) -> ScheduleActionResult:
        nw = st.schedule.action.start_workflow
        workflow_id = st.workflow_id_for(start)
        req = StartWorkflowExecutionRequest(
            namespace=st.namespace,
            workflow_id=workflow_id,
            workflow_type=nw.workflow_type,
            task_queue=nw.task_queue,
            input=nw.input,
            workflow_execution_timeout=nw.workflow_execution_timeout,
            workflow_run_timeout=nw.workflow_run_timeout,
            workflow_task_timeout=nw.workflow_task_timeout,
            identity=_identity(st),
            request_id=st.request_id_for(start),
            workflow_id_reuse_policy=(
                WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
                if start.manual
                else WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
            ),
            memo=nw.memo,
            search_attributes=_scheduled_attributes(nw.search_attributes, st, start.nominal),
            header=nw.header,
        )
        for name in ("retry_policy", "user_metadata", "priority"):
            if nw.HasField(name):
                getattr(req, name).CopyFrom(getattr(nw, name))
        if st.resolve(start.overlap_policy) != ALLOW_ALL:
            if st.last_completion_result is not None:
                req.last_completion_result.CopyFrom(st.last_completion_result)
            if st.continued_failure is not None:
                req.continued_failure.CopyFrom(st.continued_failure)
        run_id = await self.actions.start(ns, req)
        return ScheduleActionResult(
            schedule_time=ts(start.actual),
            actual_time=ts(self.clock.now()),
            start_workflow_result=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            start_workflow_status=RUNNING,
        )


def _identity(st: ScheduleState) -> str:
    return f"temporal-scheduler-{st.namespace}-{st.schedule_id}"


def _json_payload(value: Any, typ: str) -> Payload:
    return Payload(
        metadata={"encoding": b"json/plain", "type": typ.encode()},
        data=json.dumps(value).encode(),
    )


def _scheduled_attributes(
    attrs: SearchAttributes, st: ScheduleState, nominal: float
) -> SearchAttributes:
    out = SearchAttributes()
    out.CopyFrom(attrs)
    when = datetime.fromtimestamp(int(nominal // 1), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.indexed_fields["TemporalScheduledStartTime"].CopyFrom(_json_payload(when, "Datetime"))
    out.indexed_fields["TemporalScheduledById"].CopyFrom(_json_payload(st.schedule_id, "Keyword"))
    return out


def _visibility_json(st: ScheduleState) -> str:
    out: dict[str, Any] = {}
    for name, payload in st.search_attributes.indexed_fields.items():
        try:
            out[name] = json.loads(payload.data)
        except ValueError:
            continue
    out["TemporalSchedulePaused"] = st.schedule.state.paused
    return json.dumps(out, sort_keys=True)
