"""What the scheduler relies on when it stores a schedule as a system row of
`executions` (scheduler/keys.py, scheduler/runtime.py): a row with no current-run
pointer and no history, kept apart from the namespace's workflows, whose timer row is
written in the same commit, read by shard, and deleted with its tombstone."""

from __future__ import annotations

import pytest

from pytemporal.common.errors import ConditionFailed
from pytemporal.persistence.api import Mutation, Store
from pytemporal.scheduler import keys
from pytemporal.visibility import attributes as sa
from pytemporal.visibility.query import Compare

from .helpers import NS, create, new_id

RUNNING, TERMINATED = 1, 5
ALIVE = Compare(sa.Attribute(sa.EXECUTION_STATUS, sa.KEYWORD, system=True), "=", RUNNING)


def schedule_row(
    schedule_id: str, version: int, timer: float | None, *, status: int = RUNNING
) -> Mutation:
    ns, sid, run = keys.row_key(NS, schedule_id)
    return Mutation(
        namespace_id=ns,
        workflow_id=sid,
        run_id=run,
        db_version=version,
        next_event_id=1,
        status=status,
        state=b'{"v": 1}',
        active=status == RUNNING,
        shard_id=3,
        start_time=100.0,
        search_attributes='{"TemporalSchedulePaused": false}',
        set_timer=True,
        timer=timer,
    )


async def test_schedule_row_timer_and_visibility(store: Store) -> None:
    sid = new_id("sched")
    await store.commit([schedule_row(sid, 1, 50.0)])
    await store.commit([create(new_id("wf"), new_id("run"))])  # a workflow beside it

    row = await store.get_execution(*keys.row_key(NS, sid))
    assert row is not None and row.db_version == 1 and row.timer == 50.0
    due = await store.read_timers([3], 60.0, 10)
    assert [(t.workflow_id, t.fire_time) for t in due] == [(sid, 50.0)]
    assert await store.read_timers([2], 60.0, 10) == []

    # Workflow visibility of the namespace never sees it; schedule visibility does.
    workflows = await store.list_executions(NS, None, page_size=100)
    assert sid not in [r.workflow_id for r in workflows]
    schedules = await store.list_executions(NS + keys.NAMESPACE_SUFFIX, ALIVE, page_size=100)
    assert [r.workflow_id for r in schedules] == [sid]

    # Conditional on the version, like any run.
    with pytest.raises(ConditionFailed):
        await store.commit([schedule_row(sid, 3, 70.0)])
    await store.commit([schedule_row(sid, 2, 70.0)])
    assert [t.fire_time for t in await store.read_timers([3], 80.0, 10)] == [70.0]

    # Deleted: a tombstone without a timer, invisible to the schedule list.
    await store.commit([schedule_row(sid, 3, None, status=TERMINATED)])
    assert await store.read_timers([3], 1e12, 10) == []
    assert await store.list_executions(NS + keys.NAMESPACE_SUFFIX, ALIVE, page_size=100) == []
    # Created again: the row continues its version.
    await store.commit([schedule_row(sid, 4, 90.0)])
    row = await store.get_execution(*keys.row_key(NS, sid))
    assert row is not None and row.db_version == 4
