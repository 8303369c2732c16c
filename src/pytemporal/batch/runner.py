"""The durable batch runner: a batch job is a row, its next step a timer row.

Temporal runs a batch as a system workflow whose activity pages through the targets
and heartbeats its progress (`service/worker/batcher`). Here, as for schedules
(`scheduler/runtime.py`), the job is a system row of `executions` with a timer row
in the same transaction: each firing, on the owner of the job's shard and under the
job's lock, applies the operation to the next `rate` targets (the request's
`max_operations_per_second`, Temporal's default 50) and commits the progress with
the next firing one second later. A restart resumes from the last committed step;
a step that ran but was not committed runs again, which is harmless: terminating,
cancelling or deleting twice is a no-op, and a signal or reset carries the same
request id each time (derived from the job and the target).

As in Temporal, a target that is not found (closed, deleted) counts as done; any
other error counts as failed.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any, Protocol

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ResourceExhaustedCause, ResourceExhaustedScope
from temporalio.api.workflowservice.v1 import StartBatchOperationRequest

from pytemporal.batch import keys
from pytemporal.batch.state import COMPLETED, FAILED, ON_RUNNING, RUNNING, BatchState
from pytemporal.common.errors import (
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unimplemented,
    WorkflowAlreadyStarted,
)
from pytemporal.common.keyed_locks import KeyedLocks
from pytemporal.history.engine import HistoryEngine, ShardNotOwned
from pytemporal.persistence.api import Mutation, Store, VisibilityCursor
from pytemporal.visibility import attributes as sa
from pytemporal.visibility.query import And, Compare, Expr

log = logging.getLogger(__name__)

BATCH_TYPE = "temporal-sys-batch-workflow"
# Temporal's frontend.MaxConcurrentBatchOperationPerNamespace.
DEFAULT_MAX_CONCURRENT = 1
# Temporal's worker.batcherRPS default: targets per second when the request sets none.
DEFAULT_RPS = 50
STEP = 1.0  # seconds between two steps of a job
RETRY = 5.0  # after a step that could not run (storage trouble)
_RUNNING_STATUS = 1
_TERMINATED_STATUS = 5
_COMPLETED_STATUS = 2


class Targets(Protocol):
    """How a step applies the batch's operation to one workflow (`batch/operations.py`)."""

    @property
    def can_delete(self) -> bool: ...

    async def apply(self, st: BatchState, ex: WorkflowExecution) -> None:
        """Raises the error the operation met (NotFound counts as done)."""
        ...


class Visibility(Protocol):
    async def list_executions(
        self,
        namespace_id: str,
        where: Expr | None,
        *,
        page_size: int,
        after: VisibilityCursor | None = None,
    ) -> Any: ...

    async def count_executions(
        self, namespace_id: str, where: Expr | None, *, group_by_status: bool = False
    ) -> Any: ...


def _running() -> Expr:
    return Compare(sa.Attribute(sa.EXECUTION_STATUS, sa.KEYWORD, system=True), "=", 1)


class Batcher:
    def __init__(
        self,
        engine: HistoryEngine,
        store: Store,
        targets: Targets,
        parse: Any,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    ) -> None:
        """`parse(namespace_id, query)` turns a visibility query into a filter."""
        self.engine = engine
        self.store = store
        self.targets = targets
        self.parse = parse
        self.clock = engine.clock
        self.max_concurrent = max_concurrent
        self._locks = KeyedLocks()
        engine.batch_timers = self.fire

    # -- ownership, locking, rows ------------------------------------------------------

    def shard(self, namespace_id: str, job_id: str) -> int:
        return self.engine.cluster.workflow_shard(namespace_id, job_id)

    def owns(self, namespace_id: str, job_id: str) -> bool:
        return self.engine.cluster.is_local(self.shard(namespace_id, job_id))

    @contextlib.asynccontextmanager
    async def locked(self, namespace_id: str, job_id: str) -> AsyncIterator[None]:
        if not self.owns(namespace_id, job_id):
            raise ShardNotOwned(f"shard of batch {job_id} is owned by another process")
        async with self._locks.hold((namespace_id, job_id)):
            yield

    async def load(self, namespace_id: str, job_id: str) -> BatchState | None:
        row = await self.store.get_execution(*keys.row_key(namespace_id, job_id))
        return None if row is None else BatchState.decode(row.state, row.db_version)

    async def get(self, namespace_id: str, job_id: str) -> BatchState:
        st = await self.load(namespace_id, job_id)
        if st is None:
            raise NotFound(f"workflow not found for ID: {job_id}")
        return st

    async def commit(self, st: BatchState, deadline: float | None) -> None:
        key = keys.row_key(st.namespace_id, st.job_id)
        shard = self.shard(st.namespace_id, st.job_id)
        status = {
            RUNNING: _RUNNING_STATUS,
            COMPLETED: _COMPLETED_STATUS,
            FAILED: _TERMINATED_STATUS,
        }[st.status]
        m = Mutation(
            namespace_id=key[0],
            workflow_id=key[1],
            run_id=key[2],
            db_version=st.db_version + 1,
            next_event_id=1,
            status=status,
            state=st.encode(),
            active=st.status == RUNNING,
            shard_id=shard,
            range_id=self.engine.cluster.range_of(shard),
            workflow_type=BATCH_TYPE,
            start_time=st.start_time,
            close_time=st.close_time or None,
            execution_time=st.start_time,
            set_timer=True,
            timer=deadline if st.status == RUNNING else None,
        )
        await self.store.commit([m])
        st.db_version += 1
        if self.owns(st.namespace_id, st.job_id):
            self.engine.timers.published(key, m.timer, False)

    # -- the RPCs ------------------------------------------------------------------------

    async def start(self, namespace_id: str, req: StartBatchOperationRequest) -> None:
        if req.WhichOneof("operation") == "deletion_operation" and not self.targets.can_delete:
            raise Unimplemented("batch delete needs DeleteWorkflowExecution, not on this server")
        async with self.locked(namespace_id, req.job_id):
            running = await self.store.count_executions(
                namespace_id + keys.NAMESPACE_SUFFIX, _running()
            )
            if running.total >= self.max_concurrent:
                raise ResourceExhausted(
                    "Max concurrent batch operations is reached",
                    cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT,
                    scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
                )
            if await self.load(namespace_id, req.job_id) is not None:
                raise WorkflowAlreadyStarted(
                    f"Workflow execution already finished. WorkflowId: {req.job_id}, "
                    f"RunId: {keys.RUN_ID}. Workflow Id reuse policy: reject duplicate "
                    "workflow Id.",
                    start_request_id="",
                    run_id=keys.RUN_ID,
                    first_execution_run_id=keys.RUN_ID,
                )
            st = BatchState(namespace_id, req.job_id, req, start_time=self.clock.now())
            if req.visibility_query:
                where = self._where(st)
                st.total = (await self.store.count_executions(namespace_id, where)).total
            else:
                st.total = len(req.executions)
            await self.commit(st, st.start_time)

    async def stop(self, namespace_id: str, job_id: str, reason: str) -> None:
        async with self.locked(namespace_id, job_id):
            st = await self.get(namespace_id, job_id)
            if st.status != RUNNING:
                raise NotFound("workflow execution already completed")
            st.status = FAILED
            st.close_time = self.clock.now()
            await self.commit(st, None)

    # -- steps -----------------------------------------------------------------------------

    async def fire(self, key: keys.Key) -> float | None:
        """The timer queue's callback for a job's row: its next step's time."""
        namespace_id, job_id = keys.batch_of(key)
        if not self.owns(namespace_id, job_id):
            return None
        try:
            async with self.locked(namespace_id, job_id):
                st = await self.load(namespace_id, job_id)
                if st is None or st.status != RUNNING:
                    return None
                deadline = await self.step(st)
                await self.commit(st, deadline)
                return deadline
        except ShardNotOwned:
            return None

    async def step(self, st: BatchState) -> float | None:
        """Apply the operation to the next targets; the next step's time (None: done)."""
        # Temporal's batcher runs at its dynamic-config rate whatever the request says;
        # a request may only ask for less (inf, NaN and negatives mean the default).
        asked = st.request.max_operations_per_second
        rate = min(asked, DEFAULT_RPS) if math.isfinite(asked) and asked > 0 else DEFAULT_RPS
        budget = max(1, int(rate * STEP))
        targets, more = await self._next(st, budget)
        for ex in targets:
            try:
                await self.targets.apply(st, ex)
            except NotFound:
                pass  # closed or deleted already: done, as in Temporal
            except ServiceError as e:
                log.info("batch %s: %s on %s failed: %s", st.job_id, st.operation, ex, e)
                st.failed += 1
                continue
            except Exception:
                # A bug, not the target's state: count it and go on, rather than
                # retrying the same step for ever.
                log.exception("batch %s: %s on %s failed", st.job_id, st.operation, ex)
                st.failed += 1
                continue
            st.done += 1
        if more:
            return self.clock.now() + STEP
        st.status = COMPLETED
        st.close_time = self.clock.now()
        # Temporal reports what it did once done: the estimate becomes the real count.
        st.total = st.done + st.failed
        return None

    async def _next(self, st: BatchState, n: int) -> tuple[list[WorkflowExecution], bool]:
        if not st.request.visibility_query:
            listed = st.executions()
            chunk = listed[st.position : st.position + n]
            st.position += len(chunk)
            return chunk, st.position < len(listed)
        where = self._where(st)
        after = VisibilityCursor(**st.cursor) if st.cursor else None
        rows = await self.store.list_executions(
            st.namespace_id, where, page_size=n + 1, after=after
        )
        more = len(rows) > n
        rows = rows[:n]
        if rows:
            st.cursor = asdict(rows[-1].cursor)
        found = [
            WorkflowExecution(workflow_id=r.workflow_id, run_id=r.run_id)
            for r in rows
            if r.run_id not in st.reset_runs
        ]
        if st.operation == "reset_operation":
            # A reset closes a running run, which then sorts after the cursor again:
            # remember it so that it is not reset twice.
            st.reset_runs.extend(r.run_id for r in rows if r.status == _RUNNING_STATUS)
        return found, more

    def _where(self, st: BatchState) -> Expr:
        """The request's query; for the operations on running workflows only those,
        as Temporal's batcher adds (`adjustQueryBatchTypeEnum`)."""
        where: Expr = self.parse(st.namespace_id, st.request.visibility_query)
        if st.operation in ON_RUNNING:
            return And(where, _running())
        return where


def and_running(where: Expr | None) -> Expr:
    """Only the running jobs (ListBatchOperations shows all of them; the limit counts these)."""
    return _running() if where is None else And(_running(), where)
