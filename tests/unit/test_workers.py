"""The worker-heartbeat registry and the ListWorkers query filter (pure, explicit times)."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.worker.v1 import WorkerHeartbeat

from pytemporal.common.errors import InvalidArgument
from pytemporal.frontend.worker_rpcs import _page, worker_filter
from pytemporal.matching.workers import TTL, WorkerRegistry


def hb(key: str, queue: str = "tq", status: int = 1, start: int = 1_700_000_000) -> WorkerHeartbeat:
    return WorkerHeartbeat(
        worker_instance_key=key,
        task_queue=queue,
        sdk_name="temporal-python",
        status=status,  # type: ignore[arg-type]
        start_time=Timestamp(seconds=start),
    )


def test_registry_upserts_expires_and_forgets_a_shut_down_worker() -> None:
    reg = WorkerRegistry()
    reg.record("ns", [hb("a"), hb("b")], now=0.0)
    reg.record("ns", [hb("a", queue="other")], now=TTL)
    assert [w.task_queue for w in reg.all("ns", now=TTL)] == ["tq", "other"]
    assert [w.worker_instance_key for w in reg.all("ns", now=TTL + 1)] == ["a"]
    reg.record("ns", [hb("a", status=WorkerStatus.WORKER_STATUS_SHUTDOWN)], now=TTL + 2)
    assert reg.get("ns", "a") is None and reg.all("other-ns") == []


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("", ["a", "b", "c"]),
        ("TaskQueue = 'q1'", ["a", "b"]),
        ("TaskQueue = 'q1' AND WorkerInstanceKey != 'a'", ["b"]),
        ("TaskQueue = 'q2' OR WorkerInstanceKey = 'a'", ["a", "c"]),
        ("NOT TaskQueue = 'q1'", ["c"]),
        ("WorkerInstanceKey IN ('a', 'c')", ["a", "c"]),
        ("TaskQueue STARTS_WITH 'q'", ["a", "b", "c"]),
        ("StartTime > '2023-11-14T22:13:21Z'", ["b", "c"]),
        ("WorkerStatus = 'WORKER_STATUS_RUNNING'", ["a", "b", "c"]),
        ("NoSuchColumn = 'x'", []),
    ],
)
def test_filter(query: str, keys: list[str]) -> None:
    workers = [hb("a", "q1", start=1_700_000_000), hb("b", "q1", start=1_700_000_100)]
    workers.append(hb("c", "q2", start=1_700_000_200))
    keep = worker_filter(query)
    assert [w.worker_instance_key for w in workers if keep(w)] == keys


def test_filter_rejects_what_is_not_a_filter() -> None:
    for bad in ("TaskQueue =", "TaskQueue = 'x' ORDER BY StartTime", "StartTime > 'yesterday'"):
        with pytest.raises(InvalidArgument):
            worker_filter(bad)


def test_pages_by_instance_key() -> None:
    workers = [hb(k) for k in "dbca"]
    page, token = _page(list(workers), 3, b"")
    assert [w.worker_instance_key for w in page] == ["a", "b", "c"] and token
    page, token = _page(list(workers), 3, token)
    assert [w.worker_instance_key for w in page] == ["d"] and token == b""
    with pytest.raises(InvalidArgument, match="invalid next_page_token"):
        _page(list(workers), 3, b"junk")
