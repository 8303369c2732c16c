"""A history longer than one poll-response page, replayed from scratch on every task.

The worker keeps no workflow cache, so every workflow task carries the whole history:
the poll response holds its first page (256 events) and the SDK fetches the rest with
the response's `next_page_token`. A page missing or out of order would make the replay
diverge (a nondeterminism failure) instead of completing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

from .harness import history_events, running_worker, unique

STEPS = 100  # six events each: more than two 256-event pages


@activity.defn(name="long_history_step")
async def step(i: int) -> int:
    return i + 1


@workflow.defn(name="LongHistory")
class LongHistory:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for i in range(steps):
            total += await workflow.execute_activity(
                step, i, start_to_close_timeout=timedelta(seconds=30)
            )
        return total


async def test_a_long_history_is_replayed_page_by_page(client: Client, task_queue: str) -> None:
    async with running_worker(
        client,
        task_queue,
        workflows=[LongHistory],
        activities=[step],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            LongHistory.run, STEPS, id=unique("long-history"), task_queue=task_queue
        )
        assert await handle.result() == sum(range(1, STEPS + 1))
    events = await history_events(handle)
    assert len(events) > 2 * 256
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
