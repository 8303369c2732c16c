"""The metric families pytemporal exposes, named and labelled as Temporal's server names
them (`common/metrics/metric_defs.go`), and the hooks the roles call.

A role holds a `Metrics` (or None when metrics are off, so that off costs nothing) and
calls one method per event; the method finds the cached series and updates it. Gauges
are read at scrape time from the role that owns the value (`read_*`). docs/metrics.md
lists every family with its labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from temporalio.api.enums.v1 import WorkflowExecutionStatus as S

from pytemporal.metrics import core
from pytemporal.metrics.core import BYTES_BUCKETS, COUNT_BUCKETS, Counter, Gauge, Histogram

UNKNOWN_NAMESPACE = "_unknown_"

# Close status -> the Temporal counter that counts it.
_CLOSE_COUNTERS = {
    S.WORKFLOW_EXECUTION_STATUS_COMPLETED: "workflow_success",
    S.WORKFLOW_EXECUTION_STATUS_FAILED: "workflow_failed",
    S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: "workflow_timeout",
    S.WORKFLOW_EXECUTION_STATUS_TERMINATED: "workflow_terminate",
    S.WORKFLOW_EXECUTION_STATUS_CANCELED: "workflow_cancel",
    S.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: "workflow_continued_as_new",
}
_TASK_TYPES = {"workflow": "Workflow", "activity": "Activity"}


def _const(service: str, operation: str | None = None) -> dict[str, str]:
    labels = {"service_name": service}
    if operation is not None:
        labels["operation"] = operation
    return labels


class Metrics:
    """Every family, in one registry; the hooks below are what the roles call."""

    def __init__(self) -> None:
        r = self.registry = core.Registry()
        frontend = _const("frontend")
        request = ("operation", "namespace")
        # -- frontend: one update per public call (metrics/interceptor.py) ------------
        self.service_requests = r.add(
            Counter("service_requests", "The number of RPC requests received.", request, frontend)
        )
        self.service_latency = r.add(
            Histogram("service_latency", "Latency of RPC requests (seconds).", request, frontend)
        )
        self.service_errors = r.add(
            Counter(
                "service_errors",
                "The number of unexpected service request errors (INTERNAL, UNAVAILABLE,"
                " UNKNOWN, DEADLINE_EXCEEDED, system RESOURCE_EXHAUSTED...).",
                request,
                frontend,
            )
        )
        self.service_error_with_type = r.add(
            Counter(
                "service_error_with_type",
                "The number of all service request errors by error type.",
                (*request, "error_type"),
                frontend,
            )
        )
        self.service_errors_resource_exhausted = r.add(
            Counter(
                "service_errors_resource_exhausted",
                "Requests refused with RESOURCE_EXHAUSTED, by cause and scope.",
                (*request, "resource_exhausted_cause", "resource_exhausted_scope"),
                frontend,
            )
        )
        # -- authorization (frontend/authorization.py), as Temporal's interceptor ------
        self.service_errors_unauthorized = r.add(
            Counter(
                "service_errors_unauthorized",
                "Calls the authorizer refused: a valid token without the permission.",
                ("namespace",),
                _const("frontend", "Authorization"),
            )
        )
        # -- persistence: one update per store call (metrics/store.py) ----------------
        self.persistence_requests = r.add(
            Counter(
                "persistence_requests", "Persistence requests, keyed by operation.", ("operation",)
            )
        )
        self.persistence_errors = r.add(
            Counter(
                "persistence_errors",
                "Persistence requests that failed unexpectedly (not a condition failure).",
                ("operation",),
            )
        )
        self.persistence_error_with_type = r.add(
            Counter(
                "persistence_error_with_type",
                "Persistence errors, keyed by error_type.",
                ("operation", "error_type"),
            )
        )
        self.persistence_latency = r.add(
            Histogram("persistence_latency", "Persistence latency (seconds).", ("operation",))
        )
        # -- history: workflow outcomes and sizes, when a run closes -----------------
        closed = ("namespace", "taskqueue", "workflowType")
        completion = _const("history", "CompletionStats")
        self._closes = {
            status: r.add(Counter(name, f"Workflow runs closed as {name}.", closed, completion))
            for status, name in _CLOSE_COUNTERS.items()
        }
        self.history_size = r.add(
            Histogram(
                "history_size",
                "History size (bytes) of each run when it closes.",
                ("namespace",),
                completion,
                BYTES_BUCKETS,
            )
        )
        self.history_count = r.add(
            Histogram(
                "history_count",
                "History length (events) of each run when it closes.",
                ("namespace",),
                completion,
                COUNT_BUCKETS,
            )
        )
        self.task_schedule_to_start_latency = r.add(
            Histogram(
                "task_schedule_to_start_latency",
                "Time from a task's scheduling to its start by a worker (seconds).",
                ("namespace", "taskqueue", "task_type", "operation"),
                _const("history"),
            )
        )
        # The timer queue's lag: how late a due deadline is fired (seconds).
        self.task_latency_queue = r.add(
            Histogram(
                "task_latency_queue",
                "How long a due timer-queue task waited before it was processed (seconds).",
                ("task_type",),
                _const("history", "TimerActiveQueueProcessor"),
            )
        )
        # -- matching ----------------------------------------------------------------
        queue = ("namespace", "taskqueue", "task_type")
        matching = _const("matching")
        self.approximate_backlog_count = r.add(
            Gauge(
                "approximate_backlog_count",
                "Tasks waiting in a task queue's in-memory backlog (the durable backlog can"
                " hold more).",
                queue,
                matching,
            )
        )
        self.no_poller_tasks = r.add(
            Counter(
                "no_poller_tasks",
                "Tasks added to a task queue that had no poller recently.",
                queue,
                matching,
            )
        )
        self.pending_polls = r.add(
            Gauge("pending_polls", "Polls waiting for a task in a task queue.", queue, matching)
        )
        # -- scheduler ---------------------------------------------------------------
        actions = ("namespace",)
        worker = {"service_name": "worker", "schedule_action": "start_workflow"}
        self.schedule_action_success = r.add(
            Counter(
                "schedule_action_success",
                "The number of successful StartWorkflow calls issued by a schedule.",
                actions,
                worker,
            )
        )
        self.schedule_action_errors = r.add(
            Counter(
                "schedule_action_errors",
                "The number of failed attempts to start a schedule's workflow.",
                actions,
                worker,
            )
        )
        # -- cluster: shard ownership (cluster/membership.py) -------------------------
        shards = _const("history", "ShardController")
        self.numshards_gauge = r.add(
            Gauge("numshards_gauge", "History shards this process owns.", (), shards)
        )
        self.sharditem_created_count = r.add(
            Counter("sharditem_created_count", "Shards this process acquired.", (), shards)
        )
        self.sharditem_removed_count = r.add(
            Counter(
                "sharditem_removed_count",
                "Shards this process gave up (lost, released to rebalance, or at stop).",
                (),
                shards,
            )
        )
        self.membership_changed_count = r.add(
            Counter(
                "membership_changed_count",
                "Changes of the set of live server processes seen by this one.",
                (),
                shards,
            )
        )
        self.shard_lease_renewals = r.add(
            Counter(
                "shard_lease_renewals",
                "Shard leases this process renewed (pytemporal; Temporal has no equivalent).",
                (),
                shards,
            )
        )
        self.shard_lease_renewal_failures = r.add(
            Counter(
                "shard_lease_renewal_failures",
                "Membership ticks whose lease renewal failed (pytemporal).",
                (),
                shards,
            )
        )
        self._shard_created = self.sharditem_created_count.labels()
        self._shard_removed = self.sharditem_removed_count.labels()
        self._renewals = self.shard_lease_renewals.labels()
        self._renewal_failures = self.shard_lease_renewal_failures.labels()
        self._membership = self.membership_changed_count.labels()

    # -- hooks -------------------------------------------------------------------------

    def workflow_closed(
        self,
        namespace: str,
        task_queue: str,
        workflow_type: str,
        status: int,
        history_bytes: int,
        history_events: int,
    ) -> None:
        counter = self._closes.get(status)  # type: ignore[call-overload]
        if counter is not None:
            counter.labels(namespace, task_queue, workflow_type).inc()
        self.history_size.labels(namespace).observe(history_bytes)
        self.history_count.labels(namespace).observe(history_events)

    def task_started(self, namespace: str, task_queue: str, kind: str, latency: float) -> None:
        task_type = _TASK_TYPES.get(kind, kind)
        operation = f"Record{task_type}TaskStarted"
        self.task_schedule_to_start_latency.labels(
            namespace, task_queue, task_type, operation
        ).observe(max(0.0, latency))

    def unauthorized(self, namespace: str) -> None:
        """`namespace`: a registered name or UNKNOWN_NAMESPACE (bounded label values)."""
        self.service_errors_unauthorized.labels(namespace).inc()

    def timer_lag(self, lag: float) -> None:
        self.task_latency_queue.labels("TimerActiveTask").observe(max(0.0, lag))

    def task_without_poller(self, namespace: str, task_queue: str, kind: str) -> None:
        self.no_poller_tasks.labels(namespace, task_queue, _TASK_TYPES.get(kind, kind)).inc()

    def schedule_action(self, namespace: str, ok: bool) -> None:
        family = self.schedule_action_success if ok else self.schedule_action_errors
        family.labels(namespace).inc()

    def shards_changed(self, acquired: int, removed: int) -> None:
        if acquired:
            self._shard_created.inc(acquired)
        if removed:
            self._shard_removed.inc(removed)

    def leases_renewed(self, count: int) -> None:
        self._renewals.inc(count)

    def lease_renewal_failed(self) -> None:
        self._renewal_failures.inc()

    def membership_changed(self) -> None:
        self._membership.inc()

    # -- gauges read at scrape time -----------------------------------------------------

    def read_queues(
        self,
        queues: Callable[[], Iterable[tuple[str, str, str, int, int]]],
        namespace_name: Callable[[str], str],
    ) -> None:
        """`queues()`: (namespace id, task queue, kind, backlog, waiting polls) each."""

        def rows(column: int) -> Iterable[tuple[tuple[str, ...], float]]:
            for row in queues():
                if row[2] in _TASK_TYPES:
                    ns = namespace_name(row[0])
                    yield (ns, row[1], _TASK_TYPES[row[2]]), float(row[column])

        self.approximate_backlog_count.read_from(lambda: rows(3))
        self.pending_polls.read_from(lambda: rows(4))

    def read_shards(self, owned: Callable[[], int]) -> None:
        self.numshards_gauge.read_from(lambda: [((), float(owned()))])

    def render(self) -> str:
        return self.registry.render()
