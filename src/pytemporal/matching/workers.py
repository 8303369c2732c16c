"""The workers' own heartbeats (RecordWorkerHeartbeat), for ListWorkers and
DescribeWorker: in memory, as Temporal's matching keeps them
(`service/matching/workers/registry_impl.go`). A worker that has not heartbeated for
TTL is forgotten; one that reports SHUTDOWN at once. Nothing is stored: after a
restart the list fills again with the workers' next heartbeats (every 60 s by
default)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.worker.v1 import WorkerHeartbeat

# Temporal's matching.workerRegistryEntryTTL.
TTL = 300.0
# Per namespace: the oldest entries go first beyond it (Temporal bounds its registry too).
MAX_PER_NAMESPACE = 10_000


@dataclass
class _Entry:
    heartbeat: WorkerHeartbeat
    last_seen: float


class WorkerRegistry:
    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, _Entry]] = {}

    def record(
        self, namespace_id: str, heartbeats: list[WorkerHeartbeat], now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        workers = self._namespaces.setdefault(namespace_id, {})
        for hb in heartbeats:
            key = hb.worker_instance_key
            workers.pop(key, None)  # re-inserted last: dict order is recency
            if hb.status == WorkerStatus.WORKER_STATUS_SHUTDOWN:
                continue
            workers[key] = _Entry(hb, now)
        while len(workers) > MAX_PER_NAMESPACE:
            del workers[next(iter(workers))]

    def all(self, namespace_id: str, now: float | None = None) -> list[WorkerHeartbeat]:
        now = time.monotonic() if now is None else now
        workers = self._namespaces.get(namespace_id, {})
        for key in [k for k, e in workers.items() if now - e.last_seen > TTL]:
            del workers[key]
        return [e.heartbeat for e in workers.values()]

    def get(self, namespace_id: str, worker_instance_key: str) -> WorkerHeartbeat | None:
        for hb in self.all(namespace_id):
            if hb.worker_instance_key == worker_instance_key:
                return hb
        return None
