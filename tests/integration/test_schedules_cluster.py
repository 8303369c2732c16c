"""Schedules on several `server start` processes sharing one PostgreSQL database.

Each schedule runs on the owner of its shard (that of `temporal-sys-scheduler:<id>`)
and starts its workflows on the owners of theirs. Schedule RPCs made to any process
reach the owner. One process is killed with SIGKILL: its schedules move with their
shards and keep firing from the survivors, without a missed or a repeated action.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, ScheduleOverlapPolicy

from .harness import unique, wait_for
from .test_scale_out import ClusterServer, cluster  # noqa: F401 (fixture)
from .test_schedules import Blocker, Counter, _schedule
from .test_schedules_durability import action_seconds, assert_every_second_once, scheduled_ids

SCHEDULES = 6


async def test_schedules_fire_on_their_owners_and_survive_sigkill(
    cluster: list[ClusterServer],  # noqa: F811
) -> None:
    a, b, c = cluster
    client_a: Client = await a.connect()
    client_b: Client = await b.connect()
    sids = [unique("sched") for _ in range(SCHEDULES)]
    for sid in sids:
        await client_a.create_schedule(
            sid,
            _schedule(
                Blocker.run,
                unique("tq"),
                every=timedelta(seconds=1),
                overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            ),
        )

    async def all_fired(client: Client, n: int) -> bool:
        for sid in sids:
            if len(await scheduled_ids(client, sid)) < n:
                return False
        return True

    await wait_for(lambda: all_fired(client_b, 2), within=60, interval=0.5, message="firing")
    c.kill()  # owns about a third of the shards, so of the schedules
    marks = {sid: action_seconds(await scheduled_ids(client_a, sid))[-1] for sid in sids}

    seen: dict[str, list[str]] = {}

    async def fired_after_kill() -> bool:
        # Starts for workflows on the dead process's shards wait for their new owner;
        # then every second since the first action has its workflow.
        for sid in sids:
            ids = await scheduled_ids(client_a, sid)
            times = action_seconds(ids)
            if times[-1] < marks[sid] + timedelta(seconds=3):
                return False
            try:
                assert_every_second_once(ids)
            except AssertionError:
                return False
            seen[sid] = ids
        return True

    await wait_for(fired_after_kill, within=60, interval=0.5, message="firing after the kill")
    for sid in sids:
        handle = client_b.get_schedule_handle(sid)
        await handle.pause()
        desc = await handle.describe()
        ids = await scheduled_ids(client_b, sid)
        assert len(ids) == len(set(ids)), "an action time was started twice"
        assert set(seen[sid]) <= set(ids)
        assert desc.info.num_actions == len(ids)
        await handle.delete()


async def test_schedule_rpcs_reach_the_owner_from_any_process(
    cluster: list[ClusterServer],  # noqa: F811
) -> None:
    clients = [await s.connect() for s in cluster]
    from .harness import running_worker

    task_queue = unique("tq")
    async with running_worker(clients[0], task_queue, workflows=[Counter]):
        for i in range(3):
            sid = unique("sched")
            await clients[i].create_schedule(sid, _schedule(Counter.run, task_queue))
            for n, client in enumerate(clients, start=1):
                await client.get_schedule_handle(sid).trigger()

                async def done(n: int = n, sid: str = sid) -> bool:
                    desc = await clients[0].get_schedule_handle(sid).describe()
                    return desc.info.num_actions == n and not desc.info.running_actions

                await wait_for(done, within=30, interval=0.2, message=f"action {n}")
            # Each run got the previous one's result, whichever process started it.
            desc = await clients[1].get_schedule_handle(sid).describe()
            last = desc.info.recent_actions[-1].action.workflow_id  # type: ignore[attr-defined]
            assert await clients[2].get_workflow_handle(last).result() == 3
            await clients[2].get_schedule_handle(sid).delete()
