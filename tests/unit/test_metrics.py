"""The metric families' exposition, and the store wrapper on a real SQLite store."""

from __future__ import annotations

import re

import grpc
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.enums.v1 import ResourceExhaustedCause, ResourceExhaustedScope
from temporalio.api.enums.v1 import WorkflowExecutionStatus as S
from temporalio.api.errordetails.v1 import (
    ResourceExhaustedFailure,
    WorkflowExecutionAlreadyStartedFailure,
)

from pytemporal.common.errors import NamespaceAlreadyExists
from pytemporal.metrics import Metrics, core
from pytemporal.metrics.interceptor import ServiceMetricsInterceptor
from pytemporal.metrics.store import metered
from pytemporal.persistence.api import NamespaceRecord
from pytemporal.persistence.sqlite.store import SqliteStore


def samples(text: str, name: str) -> dict[str, float]:
    """`labels text` -> value of each sample named exactly `name`."""
    out = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(\{{.*\}})? (\S+)", line)
        if match:
            out[match.group(1) or ""] = float(match.group(2))
    return out


def test_counters_keep_temporals_names_without_a_total_suffix() -> None:
    m = Metrics()
    m.service_requests.labels("StartWorkflowExecution", "default").inc()
    m.service_requests.labels("StartWorkflowExecution", "default").inc(2)
    text = m.render()
    assert "# TYPE service_requests counter" in text
    assert "service_requests_total" not in text
    assert samples(text, "service_requests") == {
        '{namespace="default",operation="StartWorkflowExecution",service_name="frontend"}': 3.0
    }


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    h = core.Histogram("lat", "doc", ("op",), buckets=(0.1, 1.0))
    child = h.labels("x")
    for value in (0.05, 0.1, 0.5, 7.0):
        child.observe(value)
    text = "\n".join(h.render())
    assert samples(text, "lat_bucket") == {
        '{op="x",le="0.1"}': 2.0,  # an observation equal to a bound falls in that bucket
        '{op="x",le="1.0"}': 3.0,
        '{op="x",le="+Inf"}': 4.0,
    }
    assert samples(text, "lat_sum") == {'{op="x"}': pytest.approx(7.65)}
    assert samples(text, "lat_count") == {'{op="x"}': 4.0}


def test_label_values_are_escaped() -> None:
    c = core.Counter("c", "doc", ("q",))
    c.labels('a"b\\c\nd').inc()
    assert 'c{q="a\\"b\\\\c\\nd"} 1.0' in c.render()


def test_a_family_stops_growing_at_max_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "MAX_SERIES", 3)
    c = core.Counter("c", "doc", ("q",))
    for i in range(10):
        c.labels(f"queue-{i}").inc()
    assert len(c.children) == 4  # three, then one shared overflow series
    assert c.labels(core.OVERFLOW).value == 7


def test_workflow_close_counts_by_status_and_observes_history() -> None:
    m = Metrics()
    m.workflow_closed("default", "tq", "Order", S.WORKFLOW_EXECUTION_STATUS_COMPLETED, 4096, 11)
    m.workflow_closed("default", "tq", "Order", S.WORKFLOW_EXECUTION_STATUS_TERMINATED, 100, 5)
    text = m.render()
    labels = (
        '{namespace="default",operation="CompletionStats",service_name="history",'
        'taskqueue="tq",workflowType="Order"}'
    )
    assert samples(text, "workflow_success") == {labels: 1.0}
    assert samples(text, "workflow_terminate") == {labels: 1.0}
    assert samples(text, "workflow_failed") == {}
    assert list(samples(text, "history_count_sum").values()) == [16.0]


def test_scrape_time_gauges_read_the_roles() -> None:
    m = Metrics()
    queues = [("ns-id", "orders", "workflow", 3, 0), ("ns-id", "orders", "query", 1, 0)]
    m.read_queues(lambda: queues, lambda _id: "default")
    m.read_shards(lambda: 2)
    text = m.render()
    assert samples(text, "approximate_backlog_count") == {
        '{namespace="default",service_name="matching",task_type="Workflow",taskqueue="orders"}': 3.0
    }  # query tasks are not a backlog
    assert list(samples(text, "numshards_gauge").values()) == [2.0]


async def test_metered_store_counts_calls_and_classifies_errors() -> None:
    m = Metrics()
    store = metered(SqliteStore(None), m)
    try:
        record = NamespaceRecord(id="id-1", name="orders", data="{}")
        await store.create_namespace(record)
        assert await store.get_namespace(name="orders") == record
        with pytest.raises(NamespaceAlreadyExists):
            await store.create_namespace(record)
    finally:
        await store.close()
    text = m.render()
    assert samples(text, "persistence_requests")['{operation="CreateNamespace"}'] == 2.0
    assert samples(text, "persistence_requests")['{operation="GetNamespace"}'] == 1.0
    assert samples(text, "persistence_latency_count")['{operation="CreateNamespace"}'] == 2.0
    assert samples(text, "persistence_error_with_type") == {
        '{error_type="NamespaceAlreadyExists",operation="CreateNamespace"}': 1.0
    }
    # An answer about the data, not a failing database.
    assert samples(text, "persistence_errors")['{operation="CreateNamespace"}'] == 0.0


def _status_with(detail: Message) -> GrpcStatus:
    status = GrpcStatus()
    status.details.add().Pack(detail)
    return status


def test_service_errors_are_classified_as_temporal_does() -> None:
    m = Metrics()
    interceptor = ServiceMetricsInterceptor(m, lambda name: True)
    op = ("StartWorkflowExecution", "default")
    namespace_limit = ResourceExhaustedFailure(
        cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT,
        scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
    )
    system_limit = ResourceExhaustedFailure(
        cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT,
        scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_SYSTEM,
    )
    started = WorkflowExecutionAlreadyStartedFailure(run_id="r")
    interceptor._error(*op, grpc.StatusCode.RESOURCE_EXHAUSTED, _status_with(namespace_limit))
    interceptor._error(*op, grpc.StatusCode.RESOURCE_EXHAUSTED, _status_with(system_limit))
    interceptor._error(*op, grpc.StatusCode.ALREADY_EXISTS, _status_with(started))
    interceptor._error(*op, grpc.StatusCode.NOT_FOUND, None)
    interceptor._error(*op, grpc.StatusCode.INTERNAL, None)
    text = m.render()
    by_type = {
        re.search(r'error_type="(\w+)"', k).group(1): v  # type: ignore[union-attr]
        for k, v in samples(text, "service_error_with_type").items()
    }
    assert by_type == {
        "serviceerror_ResourceExhausted": 2.0,
        "serviceerror_WorkflowExecutionAlreadyStarted": 1.0,
        "serviceerror_NotFound": 1.0,
        "serviceerror_Internal": 1.0,
    }
    exhausted = samples(text, "service_errors_resource_exhausted")
    assert sorted(re.search(r'scope="(\w+)"', k).group(1) for k in exhausted) == [  # type: ignore[union-attr]
        "RESOURCE_EXHAUSTED_SCOPE_NAMESPACE",
        "RESOURCE_EXHAUSTED_SCOPE_SYSTEM",
    ]
    # Unexpected: the instance's own limit and INTERNAL; a namespace's limit, an
    # existing workflow and NOT_FOUND are the caller's doing.
    assert list(samples(text, "service_errors").values()) == [2.0]
