"""Schedules across SIGKILL and restart, and the `temporal schedule` commands.

A schedule firing every second keeps its state through a SIGKILL: after the restart
it starts the actions it missed while the server was down (its catchup window is a
year), and no action time is started twice (each is one workflow id, and the count of
workflows equals the schedule's action count).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy

from .harness import ServerProcess, is_pytemporal, reference_binary, unique, wait_for
from .test_schedules import Blocker, _schedule

ID_TIME = "%Y-%m-%dT%H:%M:%SZ"


async def scheduled_ids(client: Client, schedule_id: str) -> list[str]:
    query = f"TemporalScheduledById = '{schedule_id}'"
    return [w.id async for w in client.list_workflows(query)]


def action_seconds(ids: list[str]) -> list[datetime]:
    return sorted(datetime.strptime(i[-20:], ID_TIME).replace(tzinfo=UTC) for i in ids)


def assert_every_second_once(ids: list[str]) -> None:
    assert len(ids) == len(set(ids)), "an action time was started twice"
    times = action_seconds(ids)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g == timedelta(seconds=1) for g in gaps), f"missed action times: {times}"


async def test_schedule_catches_up_after_sigkill_without_duplicates(
    server_kind: str, tmp_path: Path
) -> None:
    if not is_pytemporal(server_kind):
        pytest.skip("kills and restarts pytemporal's own process")
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "sched.db"))
    client = await server.start()
    sid = unique("sched")
    try:
        # Nothing runs the workflows: with ALLOW_ALL every action time starts one.
        await client.create_schedule(
            sid,
            _schedule(
                Blocker.run,
                unique("tq"),
                every=timedelta(seconds=1),
                overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            ),
        )
        await wait_for(
            lambda: _at_least(client, sid, 2), within=15, interval=0.2, message="two actions"
        )
        server.kill()
        killed_at = datetime.now(UTC)
        # Downtime: the actions due meanwhile are the catch-up.
        await asyncio.sleep(3)
        client = await server.restart()
        await wait_for(
            lambda: _covers(client, sid, killed_at + timedelta(seconds=3)),
            within=20,
            interval=0.2,
            message="actions of the downtime",
        )
        handle = client.get_schedule_handle(sid)
        await handle.pause()
        desc = await handle.describe()
        ids = await scheduled_ids(client, sid)
        assert_every_second_once(ids)
        assert desc.info.num_actions == len(ids)
        await handle.delete()
    finally:
        server.kill()


async def test_actions_older_than_the_catchup_window_are_missed_after_restart(
    server_kind: str, tmp_path: Path
) -> None:
    if not is_pytemporal(server_kind):
        pytest.skip("kills and restarts pytemporal's own process")
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "catchup.db"))
    client = await server.start()
    sid = unique("sched")
    try:
        await client.create_schedule(
            sid,
            _schedule(
                Blocker.run,
                unique("tq"),
                every=timedelta(seconds=1),
                overlap=ScheduleOverlapPolicy.ALLOW_ALL,
                policy={"catchup_window": timedelta(seconds=10)},  # Temporal's minimum
            ),
        )
        await wait_for(
            lambda: _at_least(client, sid, 2), within=15, interval=0.2, message="two actions"
        )
        server.kill()
        await asyncio.sleep(13)  # downtime longer than the catchup window
        client = await server.restart()
        restarted = datetime.now(UTC)
        await wait_for(
            lambda: _covers(client, sid, restarted),
            within=20,
            interval=0.2,
            message="actions after the restart",
        )
        handle = client.get_schedule_handle(sid)
        await handle.pause()
        desc = await handle.describe()
        ids = await scheduled_ids(client, sid)
        times = action_seconds(ids)
        assert len(ids) == len(set(ids)) == desc.info.num_actions
        # Every action time was either started or missed (too old at the restart).
        missed = desc.info.num_actions_missed_catchup_window
        assert missed >= 2
        span = int((times[-1] - times[0]).total_seconds()) + 1
        assert span == len(ids) + missed
        # The ones within the window before the restart were caught up.
        assert any(restarted - timedelta(seconds=10) <= t < restarted for t in times)
        await handle.delete()
    finally:
        server.kill()


async def _at_least(client: Client, sid: str, n: int) -> bool:
    return len(await scheduled_ids(client, sid)) >= n


async def _covers(client: Client, sid: str, until: datetime) -> bool:
    times = action_seconds(await scheduled_ids(client, sid))
    return bool(times) and times[-1] >= until


# -- the temporal CLI ------------------------------------------------------------------


def _cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), "schedule", *args, "--address", target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def test_temporal_cli_schedule_commands(client: Client, server: ServerProcess) -> None:
    sid = unique("cli")
    target = server.target

    async def cli(*args: str) -> subprocess.CompletedProcess[str]:
        res = await asyncio.to_thread(_cli, target, *args)
        assert res.returncode == 0, f"{args}: {res.stderr}{res.stdout}"
        return res

    await cli(
        "create",
        "--schedule-id",
        sid,
        "--workflow-id",
        unique("wf"),
        "--type",
        "Blocker",
        "--task-queue",
        unique("tq"),
        "--interval",
        "8760h",
        "--overlap-policy",
        "AllowAll",
    )
    listed = await cli("list", "-o", "json")
    assert sid in listed.stdout
    described = json.loads((await cli("describe", "--schedule-id", sid, "-o", "json")).stdout)
    assert described["schedule"]["policies"]["overlapPolicy"] in (
        "SCHEDULE_OVERLAP_POLICY_ALLOW_ALL",
        "AllowAll",
    )

    await cli("toggle", "--schedule-id", sid, "--pause", "--reason", "cli pause")
    desc = await client.get_schedule_handle(sid).describe()
    assert desc.schedule.state.paused and desc.schedule.state.note == "cli pause"
    await cli("toggle", "--schedule-id", sid, "--unpause", "--reason", "cli unpause")

    await cli("trigger", "--schedule-id", sid)
    await cli(
        "backfill",
        "--schedule-id",
        sid,
        "--start-time",
        "2024-01-01T00:00:00Z",
        "--end-time",
        "2024-12-31T00:00:00Z",  # one 365-day interval time: 2024-12-18
        "--overlap-policy",
        "AllowAll",  # the CLI's default is Skip, and the triggered run is still running
    )
    handle = client.get_schedule_handle(sid)

    async def two_actions() -> bool:
        return (await handle.describe()).info.num_actions == 2

    await wait_for(two_actions, within=15, interval=0.2, message="trigger and backfill")
    await cli("delete", "--schedule-id", sid)
    gone = await asyncio.to_thread(_cli, target, "describe", "--schedule-id", sid)
    assert gone.returncode != 0
