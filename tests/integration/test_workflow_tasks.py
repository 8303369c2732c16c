"""Workflow-task mechanics: failures and retries, sticky fallback after a worker
restart, queries on both delivery paths, activity cancellation, async completion."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.service import RPCError, RPCStatusCode

from .harness import event_types, has_event, running_worker, unique, wait_for

_failures: dict[str, int] = {}


@workflow.defn(sandboxed=False)
class FlakyTaskWorkflow:
    """Its first workflow task fails (a bug that a worker fix or retry gets past)."""

    @workflow.run
    async def run(self, key: str) -> str:
        if _failures.get(key, 0) < 1:
            _failures[key] = _failures.get(key, 0) + 1
            raise RuntimeError("workflow task bug")
        return "recovered"


async def test_failed_workflow_task_is_retried(client: Client, task_queue: str) -> None:
    key = unique("flaky-task")
    async with running_worker(client, task_queue, workflows=[FlakyTaskWorkflow]):
        handle = await client.start_workflow(
            FlakyTaskWorkflow.run, key, id=key, task_queue=task_queue
        )
        assert await handle.result() == "recovered"
    types = await event_types(handle)
    assert types[:4] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
    ]
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    history = await handle.fetch_history()
    failed = next(e for e in history.events if e.HasField("workflow_task_failed_event_attributes"))
    assert "workflow task bug" in failed.workflow_task_failed_event_attributes.failure.message
    retry = [e for e in history.events if e.HasField("workflow_task_scheduled_event_attributes")]
    assert retry[1].workflow_task_scheduled_event_attributes.attempt == 2


@workflow.defn(sandboxed=False)
class WaitForSignalWorkflow:
    def __init__(self) -> None:
        self.values: list[str] = []

    @workflow.run
    async def run(self, count: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.values) >= count)
        return self.values

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.query
    def seen(self) -> list[str]:
        return self.values


async def test_new_worker_picks_up_after_sticky_worker_stops(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[WaitForSignalWorkflow]):
        handle = await client.start_workflow(
            WaitForSignalWorkflow.run, 2, id=unique("sticky"), task_queue=task_queue
        )
        await handle.signal(WaitForSignalWorkflow.add, "one")
        await wait_for(lambda: _seen(handle, ["one"]), message="first signal handled")
    # The first worker (and its sticky queue) is gone: the next task must reach a new
    # worker through the normal queue, with full history to replay.
    await handle.signal(WaitForSignalWorkflow.add, "two")
    async with running_worker(client, task_queue, workflows=[WaitForSignalWorkflow]):
        assert await asyncio.wait_for(handle.result(), 20) == ["one", "two"]


async def _seen(handle, expected: list[str]) -> bool:  # type: ignore[no-untyped-def]
    return bool(await handle.query(WaitForSignalWorkflow.seen) == expected)


async def test_query_while_idle_and_right_after_signal(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[WaitForSignalWorkflow]):
        handle = await client.start_workflow(
            WaitForSignalWorkflow.run, 3, id=unique("query"), task_queue=task_queue
        )
        # Before the first task has run, the query waits for it (consistent query).
        assert await handle.query(WaitForSignalWorkflow.seen) == []
        for value in ["a", "b"]:
            await handle.signal(WaitForSignalWorkflow.add, value)
            # A query right after a signal sees it: it rides the task the signal made,
            # or goes directly to the worker once that task is done.
            assert value in await handle.query(WaitForSignalWorkflow.seen)
        await handle.signal(WaitForSignalWorkflow.add, "c")
        assert await handle.result() == ["a", "b", "c"]
        # A closed workflow is still queryable by a worker replaying its history.
        assert await handle.query(WaitForSignalWorkflow.seen) == ["a", "b", "c"]


@activity.defn
async def heartbeat_until_cancelled() -> str:
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.05)


@workflow.defn(sandboxed=False)
class CancelActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity(
            heartbeat_until_cancelled,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.sleep(0.3)
        handle.cancel()
        try:
            await handle
        except ActivityError as err:
            assert isinstance(err.cause, CancelledError)
            return "cancelled"
        return "completed"


async def test_activity_cancel_reaches_heartbeating_activity(
    client: Client, task_queue: str
) -> None:
    async with running_worker(
        client,
        task_queue,
        workflows=[CancelActivityWorkflow],
        activities=[heartbeat_until_cancelled],
    ):
        handle = await client.start_workflow(
            CancelActivityWorkflow.run, id=unique("cancel-act"), task_queue=task_queue
        )
        assert await handle.result() == "cancelled"
    types = await event_types(handle)
    assert "ACTIVITY_TASK_CANCEL_REQUESTED" in types
    assert "ACTIVITY_TASK_CANCELED" in types


_async_tokens: dict[str, bytes] = {}


@activity.defn
async def complete_me_later(key: str) -> str:
    _async_tokens[key] = activity.info().task_token
    activity.raise_complete_async()


@workflow.defn(sandboxed=False)
class AsyncCompletionWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return str(
            await workflow.execute_activity(
                complete_me_later,
                key,
                activity_id="manual",
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        )


@pytest.mark.parametrize("by", ["token", "id"])
async def test_async_activity_completion(client: Client, task_queue: str, by: str) -> None:
    key = unique(f"async-{by}")
    async with running_worker(
        client, task_queue, workflows=[AsyncCompletionWorkflow], activities=[complete_me_later]
    ):
        handle = await client.start_workflow(
            AsyncCompletionWorkflow.run, key, id=key, task_queue=task_queue
        )
        await wait_for(lambda: key in _async_tokens, message="activity started")
        if by == "token":
            act = client.get_async_activity_handle(task_token=_async_tokens[key])
        else:
            act = client.get_async_activity_handle(
                workflow_id=key, run_id=handle.result_run_id, activity_id="manual"
            )
        await act.heartbeat("progress")
        await act.complete(f"done by {by}")
        assert await handle.result() == f"done by {by}"
        with pytest.raises(RPCError) as exc_info:
            await act.complete("twice")
        assert exc_info.value.status == RPCStatusCode.NOT_FOUND


async def test_cancel_of_closed_workflow_is_a_no_op(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[WaitForSignalWorkflow]):
        handle = await client.start_workflow(
            WaitForSignalWorkflow.run, 1, id=unique("noop"), task_queue=task_queue
        )
        await handle.signal(WaitForSignalWorkflow.add, "x")
        await handle.result()
        await handle.cancel()  # no error, nothing written
    assert not await has_event(handle, "WORKFLOW_EXECUTION_CANCEL_REQUESTED")
    with pytest.raises(RPCError) as exc_info:
        await handle.terminate()
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    assert exc_info.value.message == "workflow execution already completed"
