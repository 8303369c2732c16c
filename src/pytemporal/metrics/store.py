"""`persistence_*` metrics at the persistence boundary: a wrapper around the store.

Every public coroutine method of the store is replaced, once, by a timed one on the
wrapper; anything else is forwarded as is. Operations carry Temporal's persistence
operation names where one exists (`common/metrics/metric_defs.go`), so dashboards
written for Temporal find them; others are the method's name in CamelCase.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from pytemporal.common.errors import (
    ConditionFailed,
    PersistenceError,
    ServiceError,
    ShardOwnershipLost,
)
from pytemporal.metrics.families import Metrics
from pytemporal.persistence.api import Store

OPERATIONS = {
    "get_namespace": "GetNamespace",
    "list_namespaces": "ListNamespaces",
    "create_namespace": "CreateNamespace",
    "update_namespace": "UpdateNamespace",
    "get_current_run": "GetCurrentExecution",
    "get_execution": "GetWorkflowExecution",
    "read_history": "ReadHistoryBranch",
    "read_timers": "GetTimerTasks",
    "read_tasks": "GetTasks",
    "commit": "UpdateWorkflowExecution",
    "list_executions": "ListWorkflowExecutions",
    "count_executions": "CountWorkflowExecutions",
    "heartbeat_member": "UpsertClusterMembership",
    "list_members": "GetClusterMembers",
    "list_shards": "ListShards",
    "acquire_shard": "GetOrCreateShard",
    "renew_shards": "UpdateShard",
    "release_shard": "UpdateShard",
}
# Outcomes Temporal does not count as failures of the database (persistence_errors):
# lost races the callers are built to lose, and answers about the data (absent,
# already exists, invalid). A PersistenceError otherwise, or any foreign exception,
# is the database failing.
_LOST_RACES = (ConditionFailed, ShardOwnershipLost)


def _unexpected(e: Exception) -> bool:
    if isinstance(e, _LOST_RACES):
        return False
    return isinstance(e, PersistenceError) or not isinstance(e, ServiceError)


_NOT_MEASURED = {"close"}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _measure(
    metrics: Metrics, operation: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    requests = metrics.persistence_requests.labels(operation)
    latency = metrics.persistence_latency.labels(operation)
    # Created up front: "0 errors" then reads as 0 in a query, not as no data.
    errors = metrics.persistence_errors.labels(operation)
    clock = time.perf_counter

    @functools.wraps(method)
    async def measured(*args: Any, **kwargs: Any) -> Any:
        requests.inc()
        start = clock()
        try:
            return await method(*args, **kwargs)
        except Exception as e:
            metrics.persistence_error_with_type.labels(operation, type(e).__name__).inc()
            if _unexpected(e):
                errors.inc()
            raise
        finally:
            latency.observe(clock() - start)

    return measured


class MeteredStore:
    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        for name, _member in inspect.getmembers(type(store), inspect.iscoroutinefunction):
            if name.startswith("_") or name in _NOT_MEASURED:
                continue
            operation = OPERATIONS.get(name) or _camel(name)
            setattr(self, name, _measure(metrics, operation, getattr(store, name)))

    def __getattr__(self, name: str) -> Any:
        # Only reached for what __init__ did not wrap (attributes, close, sync helpers).
        return getattr(self._store, name)


def metered(store: Store, metrics: Metrics) -> Store:
    """`store` with every call counted and timed."""
    return cast(Store, MeteredStore(store, metrics))
