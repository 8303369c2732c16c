"""Standalone activities through the SDK's `client.start_activity` and its handle.

Temporal's dev server serves them with `activity.enableStandalone`; the reference runs
here get that flag (pytemporal serves them always).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import (
    ActivityExecutionCount,
    ActivityExecutionStatus,
    ActivityFailureError,
    Client,
)
from temporalio.common import ActivityIDConflictPolicy
from temporalio.exceptions import ActivityAlreadyStartedError, CancelledError

from .harness import REFERENCE, ServerProcess, running_worker, unique, wait_for


@activity.defn
async def increment(x: int) -> int:
    return x + 1


@activity.defn
async def finish_later() -> int:
    activity.raise_complete_async()


class StandaloneServer(ServerProcess):
    def command(self) -> list[str]:
        cmd = super().command()
        if self.kind == REFERENCE:
            cmd += ["--dynamic-config-value", "activity.enableStandalone=true"]
        return cmd


@pytest.fixture
async def sa_client(server_kind: str, client: Client) -> AsyncIterator[Client]:
    if server_kind != REFERENCE:
        yield client
        return
    proc = StandaloneServer(server_kind)
    try:
        yield await proc.start()
    finally:
        proc.terminate(timeout=5)


async def test_start_run_and_read_the_result(sa_client: Client, task_queue: str) -> None:
    client = sa_client
    activity_id = unique("act")
    handle = await client.start_activity(
        increment,
        1,
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=10),
    )
    assert uuid.UUID(handle.run_id or "").version == 7
    assert (await handle.describe()).status == ActivityExecutionStatus.RUNNING
    async with running_worker(client, task_queue, activities=[increment]):
        assert await handle.result() == 2
    described = await handle.describe()
    assert described.status == ActivityExecutionStatus.COMPLETED
    assert described.activity_type == "increment"
    assert described.task_queue == task_queue

    async def counted() -> bool:
        count = await client.count_activities(f'ActivityId = "{activity_id}"')
        return count == ActivityExecutionCount(count=1, groups=[])

    await wait_for(counted, message="activity counted")
    listed = [a async for a in client.list_activities(f'ActivityId = "{activity_id}"')]
    assert [(a.activity_id, a.status) for a in listed] == [
        (activity_id, ActivityExecutionStatus.COMPLETED)
    ]
    # The id is free again once the activity has closed (ALLOW_DUPLICATE by default).
    again = await client.start_activity(
        increment,
        5,
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=10),
    )
    assert again.run_id != handle.run_id
    async with running_worker(client, task_queue, activities=[increment]):
        assert await again.result() == 6


async def test_a_running_id_conflicts_or_is_reused(sa_client: Client, task_queue: str) -> None:
    client = sa_client
    activity_id = unique("act")
    first = await client.start_activity(
        increment,
        1,
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=10),
    )
    with pytest.raises(ActivityAlreadyStartedError) as err:
        await client.start_activity(
            increment,
            1,
            id=activity_id,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=10),
        )
    assert err.value.run_id == first.run_id
    existing = await client.start_activity(
        increment,
        1,
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=10),
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING,
    )
    assert existing.run_id == first.run_id
    await first.terminate(reason="done")


async def test_cancel_before_any_worker(sa_client: Client, task_queue: str) -> None:
    handle = await sa_client.start_activity(
        increment,
        1,
        id=unique("act"),
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=10),
    )
    await handle.cancel()
    with pytest.raises(ActivityFailureError) as err:
        await handle.result()
    assert isinstance(err.value.cause, CancelledError)
    assert (await handle.describe()).status == ActivityExecutionStatus.CANCELED


async def test_complete_by_id_and_terminate(sa_client: Client, task_queue: str) -> None:
    client = sa_client
    completed = await client.start_activity(
        finish_later,
        id=unique("act"),
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=30),
    )
    terminated = await client.start_activity(
        finish_later,
        id=unique("act"),
        task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=30),
    )
    async with running_worker(client, task_queue, activities=[finish_later]):

        async def both_started() -> bool:
            described = [await h.describe() for h in (completed, terminated)]
            return all(d.last_started_time is not None for d in described)

        await wait_for(both_started, message="both activities started")
        await client.get_async_activity_handle(
            activity_id=completed.id, run_id=completed.run_id
        ).complete(7)
        assert await completed.result() == 7
        await terminated.terminate(reason="no longer needed")
        with pytest.raises(ActivityFailureError):
            await terminated.result()
    assert (await terminated.describe()).status == ActivityExecutionStatus.TERMINATED
