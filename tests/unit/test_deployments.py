"""Worker deployments: the deployment document's rules (pure), version routing in
matching, and the registry's rows in a real SQLite store (kept across a reopen)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus as VS

from pytemporal.common.errors import FailedPrecondition, InvalidArgument, NotFound
from pytemporal.deployments.model import Deployment, parse_version, ramp_threshold
from pytemporal.deployments.registry import Deployments
from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.persistence.sqlite.store import SqliteStore

WF, ACT = 1, 2  # TaskQueueType


def deployment(*builds: str) -> Deployment:
    d = Deployment("dep", 1.0)
    for b in builds:
        d.register(b, "tq", WF, 1.0)
    return d


def test_set_current_checks_the_conflict_token_and_the_version() -> None:
    d = deployment("v1", "v2")
    token, previous = d.set_current("v1", b"", "me", False, 2.0)
    assert previous == ""
    assert d.versions["v1"].status == VS.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT
    with pytest.raises(FailedPrecondition, match="conflict token mismatch"):
        d.set_current("v2", token + b"x", "me", False, 3.0)
    with pytest.raises(NotFound, match="build ID 'v9' not found in Worker Deployment 'dep'"):
        d.set_current("v9", token, "me", False, 3.0)
    token2, previous = d.set_current("v2", token, "me", False, 3.0)
    assert previous == "v1" and token2 != token
    assert d.versions["v1"].status == VS.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
    # The same request again is "no change": success, same token.
    assert d.set_current("v2", b"stale", "me", False, 4.0) == (token2, "v2")


def test_a_new_current_version_must_serve_the_current_task_queues() -> None:
    d = deployment("v1", "v2")
    d.register("v1", "other", ACT, 1.0)
    d.set_current("v1", b"", "me", False, 2.0)
    with pytest.raises(FailedPrecondition, match="missing active task queues"):
        d.set_current("v2", b"", "me", False, 3.0)
    d.set_current("v2", b"", "me", True, 3.0)  # ignore_missing_task_queues
    assert d.current == "v2"


def test_ramping_rules() -> None:
    d = deployment("v1", "v2")
    d.set_current("v1", b"", "me", False, 2.0)
    with pytest.raises(InvalidArgument):
        d.set_ramping("v2", 101, b"", "me", False, 3.0)
    with pytest.raises(FailedPrecondition, match="already current"):
        d.set_ramping("v1", 10, b"", "me", False, 3.0)
    d.set_ramping("v2", 30, b"", "me", False, 3.0)
    assert d.versions["v2"].status == VS.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
    # Making the ramping version current ends the ramp.
    d.set_current("v2", b"", "other", False, 4.0)
    assert (d.ramping, d.ramp_percentage) == ("", 0.0)


def test_ramp_splits_by_workflow_id_deterministically() -> None:
    d = deployment("v1", "v2")
    d.set_current("v1", b"", "me", False, 2.0)
    d.set_ramping("v2", 30, b"", "me", False, 3.0)
    ids = [f"wf-{n}" for n in range(2000)]
    ramped = [i for i in ids if d.target(i) == "v2"]
    assert ramped == [i for i in ids if ramp_threshold(i) <= 30]
    assert 0.27 < len(ramped) / len(ids) < 0.33
    d.set_ramping("v2", 100, b"", "me", False, 4.0)
    assert {d.target(i) for i in ids} == {"v2"}
    d.set_ramping("v2", 0, b"", "me", False, 5.0)
    assert {d.target(i) for i in ids} == {"v1"}


def test_delete_version_and_deployment() -> None:
    d = deployment("v1", "v2")
    d.set_current("v1", b"", "me", False, 2.0)
    with pytest.raises(FailedPrecondition, match="current or ramping"):
        d.delete_version("v1", False, False)
    with pytest.raises(FailedPrecondition, match="has active pollers"):
        d.delete_version("v2", True, True)
    d.delete_version("v2", False, False)
    assert list(d.versions) == ["v1"]
    with pytest.raises(FailedPrecondition, match="has versions"):
        d.delete()


def test_version_strings_in_both_forms() -> None:
    assert parse_version("dep:b.1") == ("dep", "b.1")
    assert parse_version("dep.b:1") == ("dep", "b:1")
    with pytest.raises(InvalidArgument):
        parse_version("nodelimiter")


def test_encode_decode_round_trip() -> None:
    d = deployment("v1")
    d.set_current("v1", b"", "me", False, 2.0)
    d.versions["v1"].metadata["k"] = "AQ=="
    back = Deployment.decode(d.encode(), 7)
    assert back == Deployment(**{**d.__dict__, "db_version": 7})


async def test_matching_routes_by_version(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "db.sqlite"))
    try:
        registry = Deployments(store)
        await registry.register("ns", "dep", "v1", "tq", "workflow")
        await registry.register("ns", "dep", "v2", "tq", "workflow")
        await registry.change("ns", "dep", lambda d: d.set_current("v1", b"", "", False, 1.0))
        m = Matching()
        m.router = registry.route
        unpinned = TaskRef("workflow", "ns", "wf-a", "run", 2, 1, normal_queue="tq")
        pinned = TaskRef("workflow", "ns", "wf-b", "run", 2, 1, normal_queue="tq", pinned="dep:v2")
        m.add_workflow_task(unpinned, "tq", sticky=False)
        m.add_workflow_task(pinned, "tq", sticky=False)
        # Each version's pollers get only their tasks; unversioned pollers get neither.
        assert await m.poll("ns", "tq", "workflow", 0.01) is None
        assert await m.poll("ns", "tq", "workflow", 1, version="dep:v2") == pinned
        assert await m.poll("ns", "tq", "workflow", 1, version="dep:v1") == unpinned
        # A sticky queue of v1's worker is skipped once v2 is where the task goes.
        sticky_poll = asyncio.ensure_future(
            m.poll("ns", "sticky-1", "workflow", 0.05, version="dep:v1", sticky=True)
        )
        await asyncio.sleep(0)
        await registry.change("ns", "dep", lambda d: d.set_current("v2", b"", "", False, 2.0))
        m.add_workflow_task(unpinned, "sticky-1", sticky=True)
        assert await sticky_poll is None
        assert await m.poll("ns", "tq", "workflow", 1, version="dep:v2") == unpinned
    finally:
        await store.close()

    # The registry is durable: a new one over the reopened file routes the same way.
    store = SqliteStore(str(tmp_path / "db.sqlite"))
    try:
        again = Deployments(store)
        await again.load(["ns"])
        assert again.get("ns", "dep").current == "v2"
        assert again.route(TaskRef("workflow", "ns", "wf-c", "run"), "tq", "workflow") == "dep:v2"
        assert again.route(TaskRef("activity", "ns", "wf-c", "run"), "tq", "activity") == ""
    finally:
        await store.close()


def test_queue_listing_adds_up_the_versions_of_a_task_queue() -> None:
    m = Matching()
    m.router = lambda ref, queue, kind: ref.pinned
    m.add_workflow_task(TaskRef("workflow", "ns", "a", "r", 2, 1, "tq", pinned="d:v1"), "tq", False)
    m.add_workflow_task(TaskRef("workflow", "ns", "b", "r", 2, 1, "tq", pinned="d:v2"), "tq", False)
    m.add_workflow_task(TaskRef("workflow", "ns", "c", "r", 2, 1, "tq"), "tq", False)
    assert m.queues() == [("ns", "tq", "workflow", 3, 0)]


async def test_a_burst_of_new_pollers_writes_the_version_once() -> None:
    store = SqliteStore(None)
    try:
        registry = Deployments(store)
        await asyncio.gather(
            *(registry.register("ns", "dep", "v1", "tq", "workflow") for _ in range(10))
        )
        assert registry.get("ns", "dep").db_version == 1
        await registry.register("ns", "dep", "v1", "tq", "activity")
        assert registry.get("ns", "dep").versions["v1"].task_queues == [("tq", WF), ("tq", ACT)]
        assert registry.get("ns", "dep").db_version == 2
    finally:
        await store.close()


def test_a_task_handed_between_processes_keeps_its_pin() -> None:
    from pytemporal.rpc import codec

    ref = TaskRef("workflow", "ns", "wf", "run", 5, 2, "tq", "", "req", pinned="d:v1", ramping=True)
    assert codec.from_task_ref(codec.task_ref(ref)) == ref


async def test_tasks_waiting_in_memory_follow_a_routing_change() -> None:
    store = SqliteStore(None)
    try:
        registry = Deployments(store)
        m = Matching()
        m.router = registry.route
        registry.on_change = m.reroute
        await registry.register("ns", "dep", "v1", "tq", "workflow")
        task = TaskRef("workflow", "ns", "wf", "run", 2, 1, normal_queue="tq")
        sticky = TaskRef("workflow", "ns", "wf2", "run", 2, 1, normal_queue="tq")
        m.add_workflow_task(task, "tq", sticky=False)  # no current version: unversioned
        m._queue("ns", "sticky-1", "workflow").tasks.append(sticky)
        await registry.change("ns", "dep", lambda d: d.set_current("v1", b"", "", False, 1.0))
        assert await m.poll("ns", "tq", "workflow", 0.01) is None
        assert await m.poll("ns", "tq", "workflow", 1, version="dep:v1") == task
        # A worker's sticky queue keeps its tasks.
        assert list(m._queue("ns", "sticky-1", "workflow").tasks) == [sticky]
    finally:
        await store.close()
