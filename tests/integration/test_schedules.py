"""Schedules through the official SDK: create, describe, trigger, backfill, the six
overlap policies, pause / unpause, update, delete, list with a query, limited actions,
pause on failure, the last completion result handed to the next run.

Runs against every selected server (PYTEMPORAL_TEST_SERVER=reference runs it against
Temporal's dev server too). Schedules that must not fire on their own use an interval
of a year (their first time is far away); bulk actions come from backfills.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import UpdateScheduleRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from .harness import running_worker, unique, wait_for

YEAR = timedelta(days=365)


@workflow.defn(sandboxed=False)
class Blocker:
    """Runs until signalled; reports the previous run's result."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn(sandboxed=False)
class Counter:
    """Returns the previous run's result + 1: the last completion result reaches it."""

    @workflow.run
    async def run(self) -> int:
        last = (
            workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        )
        return (last or 0) + 1


@workflow.defn(sandboxed=False)
class Failing:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("boom", non_retryable=True)


@workflow.defn(sandboxed=False)
class FailOnce:
    """Fails unless the previous run failed; then reports that failure."""

    @workflow.run
    async def run(self) -> str:
        last = workflow.get_last_failure()
        if last is None:
            raise ApplicationError("first run fails", non_retryable=True)
        return f"after: {last.message}"


def _schedule(
    workflow_run: Any,
    task_queue: str,
    *,
    every: timedelta = YEAR,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
    **kwargs: Any,
) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(workflow_run, id=unique("wf"), task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=overlap, **kwargs.pop("policy", {})),
        state=ScheduleState(**kwargs),
    )


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[str]:
    async with running_worker(client, task_queue, workflows=[Blocker, Counter, Failing, FailOnce]):
        yield task_queue


async def _describe_until(
    handle: ScheduleHandle, ok: Any, message: str, within: float = 15.0
) -> ScheduleDescription:
    async def check() -> ScheduleDescription | None:
        desc = await handle.describe()
        return desc if ok(desc) else None

    return await wait_for(check, within=within, interval=0.2, message=message)


async def _running(handle: ScheduleHandle) -> list[str]:
    desc = await handle.describe()
    return [w.workflow_id for w in desc.info.running_actions]


async def _finish_running(client: Client, handle: ScheduleHandle) -> None:
    for wid in await _running(handle):
        await client.get_workflow_handle(wid).signal(Blocker.finish)


BACKFILL_START = datetime(2024, 1, 1, tzinfo=UTC)


def _backfill(n: int, overlap: ScheduleOverlapPolicy) -> ScheduleBackfill:
    """n action times of an every-minute schedule."""
    return ScheduleBackfill(
        start_at=BACKFILL_START,
        end_at=BACKFILL_START + timedelta(minutes=n - 1),
        overlap=overlap,
    )


async def _minute_schedule(
    client: Client, worker: str, overlap: ScheduleOverlapPolicy
) -> ScheduleHandle:
    """Every minute, paused (only backfills and triggers act), starting Blocker."""
    return await client.create_schedule(
        unique("sched"),
        _schedule(Blocker.run, worker, every=timedelta(minutes=1), overlap=overlap, paused=True),
    )


# -- basics ------------------------------------------------------------------------------


async def test_create_trigger_describe_delete(client: Client, worker: str) -> None:
    sid = unique("sched")
    schedule = _schedule(Counter.run, worker)
    handle = await client.create_schedule(sid, schedule, memo={"m": "v"})
    with pytest.raises(ScheduleAlreadyRunningError):
        await client.create_schedule(sid, schedule)

    desc = await handle.describe()
    assert desc.id == sid
    assert desc.info.num_actions == 0
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert desc.schedule.policy.catchup_window == YEAR
    assert len(desc.info.next_action_times) == 10
    assert await desc.memo_value("m") == "v"

    await handle.trigger()
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 1, "one action")
    action = desc.info.recent_actions[0].action
    wid = action.workflow_id  # type: ignore[attr-defined]
    base = schedule.action.id  # type: ignore[attr-defined]
    assert wid.startswith(base + "-") and wid.endswith("Z")
    datetime.strptime(wid[len(base) + 1 :], "%Y-%m-%dT%H:%M:%SZ")

    wf = client.get_workflow_handle(wid)
    assert await wf.result() == 1
    described = await wf.describe()
    attrs = described.raw_description.workflow_execution_info.search_attributes.indexed_fields
    assert attrs["TemporalScheduledById"].data == f'"{sid}"'.encode()
    assert "TemporalScheduledStartTime" in attrs

    await handle.delete()
    with pytest.raises(RPCError) as err:
        await handle.describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_interval_schedule_fires_on_its_own(client: Client, worker: str) -> None:
    handle = await client.create_schedule(
        unique("sched"), _schedule(Counter.run, worker, every=timedelta(seconds=1))
    )
    try:
        desc = await _describe_until(handle, lambda d: d.info.num_actions >= 3, "three actions")
        ids = [a.action.workflow_id for a in desc.info.recent_actions]  # type: ignore[attr-defined]
        assert len(ids) == len(set(ids))
        times = [a.scheduled_at for a in desc.info.recent_actions]
        assert all(t.microsecond == 0 for t in times)  # on the spec's whole seconds
    finally:
        await handle.delete()


async def test_last_completion_result_reaches_the_next_run(client: Client, worker: str) -> None:
    handle = await client.create_schedule(unique("sched"), _schedule(Counter.run, worker))
    results = []
    for n in range(1, 4):
        await handle.trigger()
        desc = await _describe_until(handle, lambda d, n=n: d.info.num_actions == n, f"{n} actions")
        wid = desc.info.recent_actions[-1].action.workflow_id  # type: ignore[attr-defined]
        results.append(await client.get_workflow_handle(wid).result())
        # The result is recorded once the schedule hears of the close.
        await _describe_until(handle, lambda d: not d.info.running_actions, "not running")
    assert results == [1, 2, 3]
    await handle.delete()


async def test_continued_failure_reaches_the_next_run(client: Client, worker: str) -> None:
    handle = await client.create_schedule(unique("sched"), _schedule(FailOnce.run, worker))
    for n in (1, 2):
        await handle.trigger()
        await _describe_until(
            handle,
            lambda d, n=n: d.info.num_actions == n and not d.info.running_actions,
            f"run {n} closed",
        )
    desc = await handle.describe()
    second = desc.info.recent_actions[-1].action.workflow_id  # type: ignore[attr-defined]
    assert await client.get_workflow_handle(second).result() == "after: first run fails"
    await handle.delete()


# -- overlap policies --------------------------------------------------------------------


async def test_overlap_skip(client: Client, worker: str) -> None:
    handle = await _minute_schedule(client, worker, ScheduleOverlapPolicy.SKIP)
    await handle.backfill(_backfill(3, ScheduleOverlapPolicy.SKIP))
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 1, "one action")
    assert desc.info.num_actions_skipped_overlap == 2
    assert len(desc.info.running_actions) == 1
    await _finish_running(client, handle)
    await handle.delete()


async def test_overlap_buffer_one(client: Client, worker: str) -> None:
    handle = await _minute_schedule(client, worker, ScheduleOverlapPolicy.BUFFER_ONE)
    await handle.backfill(_backfill(3, ScheduleOverlapPolicy.BUFFER_ONE))
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 1, "one action")
    assert desc.info.num_actions_skipped_overlap == 1
    assert desc.raw_description.info.buffer_size == 1
    await _finish_running(client, handle)
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 2, "buffered start")
    assert desc.raw_description.info.buffer_size == 0
    await _finish_running(client, handle)
    await handle.delete()


async def test_overlap_buffer_all(client: Client, worker: str) -> None:
    handle = await _minute_schedule(client, worker, ScheduleOverlapPolicy.BUFFER_ALL)
    await handle.backfill(_backfill(3, ScheduleOverlapPolicy.BUFFER_ALL))
    for n in (1, 2, 3):
        desc = await _describe_until(handle, lambda d, n=n: d.info.num_actions == n, f"action {n}")
        assert len(desc.info.running_actions) == 1
        assert desc.raw_description.info.buffer_size == 3 - n
        await _finish_running(client, handle)
    assert desc.info.num_actions_skipped_overlap == 0
    await handle.delete()


async def test_overlap_allow_all(client: Client, worker: str) -> None:
    handle = await _minute_schedule(client, worker, ScheduleOverlapPolicy.ALLOW_ALL)
    await handle.backfill(_backfill(3, ScheduleOverlapPolicy.ALLOW_ALL))
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 3, "three actions")
    ids = [a.action.workflow_id for a in desc.info.recent_actions]  # type: ignore[attr-defined]
    expected = [
        f"-{(BACKFILL_START + timedelta(minutes=i)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        for i in range(3)
    ]
    assert sorted(i[-21:] for i in ids) == expected
    for wid in ids:
        desc_wf = await client.get_workflow_handle(wid).describe()
        assert desc_wf.status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(wid).signal(Blocker.finish)
    await handle.delete()


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        (ScheduleOverlapPolicy.CANCEL_OTHER, WorkflowExecutionStatus.CANCELED),
        (ScheduleOverlapPolicy.TERMINATE_OTHER, WorkflowExecutionStatus.TERMINATED),
    ],
)
async def test_overlap_cancel_or_terminate_other(
    client: Client, worker: str, policy: ScheduleOverlapPolicy, status: WorkflowExecutionStatus
) -> None:
    handle = await _minute_schedule(client, worker, policy)
    await handle.trigger()
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 1, "first action")
    first = desc.info.recent_actions[0].action.workflow_id  # type: ignore[attr-defined]
    # A second, a second later: another workflow id.
    await wait_for(
        lambda: datetime.now(UTC).replace(microsecond=0) > desc.info.recent_actions[0].scheduled_at,
        message="next second",
    )
    await handle.trigger()
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 2, "second action")
    assert (await client.get_workflow_handle(first).describe()).status == status
    running = [w.workflow_id for w in desc.info.running_actions]
    assert len(running) == 1 and running[0] != first
    await _finish_running(client, handle)
    await handle.delete()


# -- state: pause, update, limited actions, pause on failure -----------------------------


async def test_pause_unpause_with_notes_and_list_query(client: Client, worker: str) -> None:
    handle = await client.create_schedule(unique("sched"), _schedule(Counter.run, worker))
    await handle.pause(note="maintenance")
    desc = await handle.describe()
    assert desc.schedule.state.paused and desc.schedule.state.note == "maintenance"

    async def listed(query: str) -> list[str]:
        return [s.id async for s in await client.list_schedules(query=query)]

    assert handle.id in await listed("TemporalSchedulePaused = true")
    assert handle.id not in await listed("TemporalSchedulePaused = false")
    assert await listed(f"ScheduleId = '{handle.id}'") == [handle.id]

    await handle.unpause(note="back")
    desc = await handle.describe()
    assert not desc.schedule.state.paused and desc.schedule.state.note == "back"
    assert handle.id in await listed("TemporalSchedulePaused = false")
    entries = [s async for s in await client.list_schedules(query=f"ScheduleId = '{handle.id}'")]
    assert entries[0].info is not None and len(entries[0].info.next_action_times) == 5
    await handle.delete()
    assert await listed(f"ScheduleId = '{handle.id}'") == []


async def test_update_and_stale_conflict_token(client: Client, worker: str) -> None:
    handle = await client.create_schedule(unique("sched"), _schedule(Counter.run, worker))
    before = await handle.describe()

    def longer_window(inp: ScheduleUpdateInput) -> ScheduleUpdate:
        sched = inp.description.schedule
        sched.policy.catchup_window = timedelta(minutes=5)
        sched.state.note = "updated"
        return ScheduleUpdate(schedule=sched)

    await handle.update(longer_window)
    after = await handle.describe()
    assert after.schedule.policy.catchup_window == timedelta(minutes=5)
    assert after.schedule.state.note == "updated"
    assert after.info.last_updated_at is not None

    # An update made with a token from before the last change is dropped, as Temporal's
    # scheduler does (the call itself succeeds).
    stale = before.raw_description.conflict_token
    raw = after.raw_description.schedule
    raw.policies.catchup_window.FromTimedelta(timedelta(minutes=7))
    await client.workflow_service.update_schedule(
        UpdateScheduleRequest(
            namespace=client.namespace,
            schedule_id=handle.id,
            schedule=raw,
            conflict_token=stale,
            request_id=unique("req"),
        )
    )
    unchanged = await handle.describe()
    assert unchanged.schedule.policy.catchup_window == timedelta(minutes=5)
    await handle.delete()


async def test_limited_actions(client: Client, worker: str) -> None:
    handle = await client.create_schedule(
        unique("sched"),
        _schedule(
            Counter.run,
            worker,
            every=timedelta(seconds=1),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            limited_actions=True,
            remaining_actions=2,
        ),
    )
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 2, "two actions")
    assert desc.schedule.state.remaining_actions == 0
    assert desc.info.next_action_times == []
    # Nothing more fires: two seconds later there are still two.
    deadline = asyncio.get_running_loop().time() + 2.5
    while asyncio.get_running_loop().time() < deadline:
        assert (await handle.describe()).info.num_actions == 2
        await asyncio.sleep(0.25)
    await handle.delete()


async def test_pause_on_failure(client: Client, worker: str) -> None:
    handle = await client.create_schedule(
        unique("sched"), _schedule(Failing.run, worker, policy={"pause_on_failure": True})
    )
    await handle.trigger()
    desc = await _describe_until(handle, lambda d: d.schedule.state.paused, "paused", within=20)
    wid = desc.info.recent_actions[0].action.workflow_id  # type: ignore[attr-defined]
    assert desc.schedule.state.note == f"paused due to workflow failure: {wid}: boom"
    assert desc.info.recent_actions[0].action.workflow_id == wid  # type: ignore[attr-defined]
    await handle.delete()


# -- search attributes and memo ----------------------------------------------------------

TEAM = SearchAttributeKey.for_keyword("ScheduleTeam")


async def _register_team(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={TEAM.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )

    async def registered() -> bool:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        return TEAM.name in listed.custom_attributes

    await wait_for(registered, message="search attribute registered")


async def test_search_attributes_of_schedules_and_their_workflows(
    client: Client, worker: str
) -> None:
    await _register_team(client)
    team = unique("team")
    schedule = _schedule(Counter.run, worker)
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    action.typed_search_attributes = TypedSearchAttributes(
        [SearchAttributePair(TEAM, "wf-" + team)]
    )
    action.memo = {"from": "schedule"}
    handle = await client.create_schedule(
        unique("sched"),
        schedule,
        search_attributes=TypedSearchAttributes([SearchAttributePair(TEAM, team)]),
    )

    async def listed(query: str) -> list[str]:
        return [s.id async for s in await client.list_schedules(query=query)]

    await wait_for(lambda: _eq(listed(f"ScheduleTeam = '{team}'"), [handle.id]), message="list")
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(TEAM) == team

    await handle.trigger()
    desc = await _describe_until(handle, lambda d: d.info.num_actions == 1, "one action")
    wid = desc.info.recent_actions[0].action.workflow_id  # type: ignore[attr-defined]
    wf = await client.get_workflow_handle(wid).describe()
    assert wf.typed_search_attributes.get(TEAM) == "wf-" + team
    assert await wf.memo_value("from") == "schedule"

    other = unique("team")

    def retag(inp: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(
            schedule=inp.description.schedule,
            search_attributes=TypedSearchAttributes([SearchAttributePair(TEAM, other)]),
        )

    await handle.update(retag)
    await wait_for(lambda: _eq(listed(f"ScheduleTeam = '{other}'"), [handle.id]), message="retag")
    assert await listed(f"ScheduleTeam = '{team}'") == []
    await handle.delete()


async def _eq(got: Any, expected: Any) -> bool:
    return bool(await got == expected)
