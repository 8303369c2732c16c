"""The worker deployments of every namespace: kept in memory, stored as system rows.

A deployment is one system row of `executions` (as a schedule is, see
docs/architecture/scheduler.md): namespace id plus `NAMESPACE_SUFFIX`, the deployment
name as workflow id, the reserved run id `RUN_ID`, its `Deployment` document as state.
Every change is an ordinary conditional commit on `db_version`. The server loads all
rows at start (`load`), so matching can route a task by a plain dictionary lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from temporalio.api.enums.v1 import TaskQueueType

from pytemporal.common.errors import ConditionFailed, NotFound, PersistenceError
from pytemporal.deployments.model import NOT_FOUND, Deployment, parse_version, version_string
from pytemporal.matching.queues import TaskRef
from pytemporal.namespaces import DEPLOYMENTS_SUFFIX
from pytemporal.persistence.api import Mutation, Store

NAMESPACE_SUFFIX = DEPLOYMENTS_SUFFIX
RUN_ID = "00000000-0000-0000-0000-de9107000000"
RUNNING, TERMINATED = 1, 5
T = TypeVar("T")
# How often `server start` processes re-read the deployments (cluster mode).
REFRESH = 5.0
log = logging.getLogger(__name__)
# A version whose pollers were seen this recently "has pollers" (Temporal asks matching,
# which keeps poller history for matching.PollerHistoryTTL, 5 minutes by default).
POLLER_LIVENESS = 300.0
KIND_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    "query": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
}


@dataclass(frozen=True)
class Key:
    namespace_id: str
    name: str


class Deployments:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._deployments: dict[Key, Deployment] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        # (namespace id, version string) -> when a poller of it was last seen.
        self._polled: dict[tuple[str, str], float] = {}
        # Called when routing may have changed (matching moves its waiting tasks).
        self.on_change: Callable[[], None] | None = None

    # -- rows --------------------------------------------------------------------------

    async def load(self, namespace_ids: Iterable[str]) -> None:
        """Read every namespace's deployments (at start: routing needs them in memory)."""
        for ns_id in namespace_ids:
            rows = await self.store.list_executions(
                ns_id + NAMESPACE_SUFFIX, None, page_size=10_000
            )
            found = set()
            changed = False
            for row in rows:
                if row.run_id == RUN_ID:
                    full = await self.store.get_execution(
                        ns_id + NAMESPACE_SUFFIX, row.workflow_id, RUN_ID
                    )
                    key = Key(ns_id, row.workflow_id)
                    found.add(key)
                    if full is not None and not self._busy(key):
                        old = self._deployments.get(key)
                        if old is None or old.db_version != full.db_version:
                            changed = True
                            self._deployments[key] = Deployment.decode(full.state, full.db_version)
            # Rows gone from the store (their namespace was deleted) leave memory too.
            for key in [k for k in self._deployments if k.namespace_id == ns_id]:
                if key not in found and not self._busy(key):
                    del self._deployments[key]
                    changed = True
            if changed:
                self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _busy(self, key: Key) -> bool:
        lock = self._locks.get(key)
        return lock is not None and lock.locked()

    async def refresh(
        self, namespace_ids: Callable[[], Iterable[str]], interval: float = REFRESH
    ) -> None:
        """With several processes, each changes the rows: read them again now and then,
        so routing follows changes made elsewhere within `interval`."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.load(namespace_ids())
            except PersistenceError as e:
                log.warning("reading worker deployments failed: %s", e)

    async def _commit(self, ns_id: str, d: Deployment) -> None:
        m = Mutation(
            namespace_id=ns_id + NAMESPACE_SUFFIX,
            workflow_id=d.name,
            run_id=RUN_ID,
            db_version=d.db_version + 1,
            next_event_id=1,
            status=TERMINATED if d.deleted else RUNNING,
            state=d.encode(),
            active=not d.deleted,
            workflow_type="temporal-sys-worker-deployment-workflow",
            start_time=d.create_time,
            execution_time=d.create_time,
        )
        await self.store.commit([m])
        d.db_version += 1

    async def _reload(self, key: Key) -> Deployment | None:
        row = await self.store.get_execution(key.namespace_id + NAMESPACE_SUFFIX, key.name, RUN_ID)
        if row is None:
            self._deployments.pop(key, None)
            return None
        d = Deployment.decode(row.state, row.db_version)
        self._deployments[key] = d
        return d

    async def change(
        self,
        ns_id: str,
        name: str,
        fn: Callable[[Deployment], T],
        *,
        create: bool = False,
        unchanged: T | None = None,
    ) -> tuple[Deployment, T]:
        """Apply `fn` to the deployment under its lock and commit; a lost race (another
        process wrote it) reloads and applies again. `fn` raises to refuse; when it
        returns `unchanged` (not None), there is nothing to write."""
        key = Key(ns_id, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            for attempt in range(5):
                d = self._deployments.get(key)
                if (d is None or d.deleted) and attempt == 0:
                    # Another process may have made it since this one last read the
                    # rows (`refresh`): the store decides, not the memory.
                    d = await self._reload(key)
                if d is None or d.deleted:
                    if not create:
                        raise NotFound(NOT_FOUND.format(name))
                    d = Deployment(name, time.time(), db_version=d.db_version if d else 0)
                work = Deployment.decode(d.encode(), d.db_version)  # refused: memory unchanged
                result = fn(work)
                if unchanged is not None and result == unchanged:
                    return d, result
                try:
                    await self._commit(ns_id, work)
                except ConditionFailed:
                    await self._reload(key)
                    continue
                self._deployments[key] = work
                self._changed()
                return work, result
            raise ConditionFailed("worker deployment changed concurrently; try again")

    # -- reads -------------------------------------------------------------------------

    def get(self, ns_id: str, name: str) -> Deployment:
        d = self._deployments.get(Key(ns_id, name))
        if d is None or d.deleted:
            raise NotFound(NOT_FOUND.format(name))
        return d

    def list(self, ns_id: str) -> list[Deployment]:
        found = [d for k, d in self._deployments.items() if k.namespace_id == ns_id]
        return sorted((d for d in found if not d.deleted), key=lambda d: d.create_time)

    def has_pollers(self, ns_id: str, version: str) -> bool:
        seen = self._polled.get((ns_id, version))
        return seen is not None and time.monotonic() - seen < POLLER_LIVENESS

    # -- pollers -----------------------------------------------------------------------

    async def register(
        self, ns_id: str, deployment: str, build_id: str, queue: str, kind: str
    ) -> None:
        """A poller declared its version: record the version and its task queue."""
        self._polled[(ns_id, version_string(deployment, build_id))] = time.monotonic()
        qtype = KIND_TYPES[kind]
        d = self._deployments.get(Key(ns_id, deployment))
        if d is not None and not d.deleted:
            v = d.versions.get(build_id)
            if v is not None and (queue, qtype) in v.task_queues:
                return
        now = time.time()
        # A burst of new pollers waits on the lock: only the first one writes.
        await self.change(
            ns_id,
            deployment,
            lambda d: d.register(build_id, queue, qtype, now),
            create=True,
            unchanged=False,
        )

    # -- routing (matching's router) ---------------------------------------------------

    def serves(self, ns_id: str, version: str, queue: str) -> bool:
        """Whether `version` has pollers of the workflow task queue `queue` registered."""
        name, build = parse_version(version)
        d = self._deployments.get(Key(ns_id, name))
        v = None if d is None or d.deleted else d.versions.get(build)
        return v is not None and (queue, KIND_TYPES["workflow"]) in v.task_queues

    def target(self, ns_id: str, queue: str, workflow_id: str) -> str:
        """The version a new workflow task of this workflow on `queue` goes to."""
        return self.route(TaskRef("workflow", ns_id, workflow_id, ""), queue, "workflow")

    def route(self, ref: TaskRef, queue: str, kind: str) -> str:
        """The version whose pollers get this task ("" the unversioned ones): the run's
        pinned version when it polls the queue, else the current (or ramping) version
        of the deployment that serves the queue, when that version polls it."""
        qtype = KIND_TYPES[kind]
        if ref.pinned:
            name, build = parse_version(ref.pinned)
            d = self._deployments.get(Key(ref.namespace_id, name))
            v = None if d is None else d.versions.get(build)
            if v is not None and (queue, qtype) in v.task_queues:
                return ref.pinned
            # Not served by its version (an activity on another deployment's queue):
            # routed as any other task of that queue.
        for key, d in self._deployments.items():
            if key.namespace_id != ref.namespace_id or d.deleted:
                continue
            if not any((queue, qtype) in v.task_queues for v in d.versions.values()):
                continue
            build = d.ramping if ref.ramping and d.ramping else d.target(ref.workflow_id)
            v = d.versions.get(build)
            if v is not None and (queue, qtype) in v.task_queues:
                return version_string(d.name, build)
            return ""
        return ""
