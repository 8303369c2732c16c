"""Parallel activities gathered together, then a durable timer."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from .harness import event_type_name, history_events, running_worker, unique
from .workflows import FanOutActivities, FanOutWorkflow


async def test_parallel_activities_then_durable_timer(client: Client, task_queue: str) -> None:
    acts = FanOutActivities()
    async with running_worker(
        client, task_queue, workflows=[FanOutWorkflow], activities=[acts.process_item]
    ):
        handle = await client.start_workflow(
            FanOutWorkflow.run, ["a", "b", "c"], id=unique("fanout"), task_queue=task_queue
        )
        assert await handle.result() == ["A", "B", "C"]

    assert sorted(acts.processed) == ["a", "b", "c"]
    events = await history_events(handle)
    types = [event_type_name(e) for e in events]
    scheduled = [i for i, t in enumerate(types) if t == "ACTIVITY_TASK_SCHEDULED"]
    completed = [i for i, t in enumerate(types) if t == "ACTIVITY_TASK_COMPLETED"]
    assert len(scheduled) == 3 and len(completed) == 3
    # All three were scheduled by the same workflow task completion.
    assert scheduled == [scheduled[0], scheduled[0] + 1, scheduled[0] + 2]
    assert types[scheduled[0] - 1] == "WORKFLOW_TASK_COMPLETED"
    assert types.count("TIMER_STARTED") == 1 and types.count("TIMER_FIRED") == 1
    timer_started = types.index("TIMER_STARTED")
    timer_fired = types.index("TIMER_FIRED")
    assert max(completed) < timer_started < timer_fired
    started_attrs = events[timer_started].timer_started_event_attributes
    assert started_attrs.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=1)
    assert (
        events[timer_fired].timer_fired_event_attributes.started_event_id
        == events[timer_started].event_id
    )
    fired_after = (
        events[timer_fired].event_time.ToDatetime() - events[timer_started].event_time.ToDatetime()
    )
    assert fired_after >= timedelta(seconds=1)
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
