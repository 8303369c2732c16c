"""When time may jump, and where to.

Temporal's Java test server counts time locks: the client's (LockTimeSkipping; the
SDKs' environment holds one except while awaiting a result) and the server's own, one
per piece of work runnable or running (a workflow task from schedule to completion, an
activity from schedule to completion, a request being processed). pytemporal does the
same: its own locks are counted from the run states the history engine publishes after
every commit (`runnable`), the timers being fired and the requests in flight. While the
count is zero, the clock jumps to the earliest deadline: the head of the durable timer
table (every run's next deadline: timers, timeouts, retry backoffs, delayed and cron
starts) or a TestService sleep.

Long polls wait for something else to happen and hold no lock (a worker polling, a
client awaiting a result). A client waiting for an update's outcome releases one lock
while it waits (the Java server does not; the SDK unlocks only around results).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import grpc
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage

from pytemporal.common.interceptors import UnaryBehavior, UnaryInterceptor
from pytemporal.history.timer_queue import Key, TimerQueue
from pytemporal.history.workflow.state import MutableState
from pytemporal.persistence.api import Store
from pytemporal.timeskipping.clock import SkippingClock

log = logging.getLogger(__name__)

# Re-check this often (real seconds) when no event says what changed.
IDLE_POLL = 0.05
_FAR = 1e18
_WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
_OPERATOR_SERVICE = "/temporal.api.operatorservice.v1.OperatorService/"
# Calls that wait for something else to happen: they hold no time lock.
LONG_POLLS = frozenset(
    {
        "PollWorkflowTaskQueue",
        "PollActivityTaskQueue",
        "PollNexusTaskQueue",
        "GetWorkflowExecutionHistory",
        "PollWorkflowExecutionUpdate",
        "UpdateWorkflowExecution",
        "ExecuteMultiOperation",
        "QueryWorkflow",
    }
)
# ... and of those, these release a lock while they wait for an update's outcome.
_COMPLETED = (
    UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
)


def runnable(ms: MutableState) -> tuple[int, int]:
    """How many pieces of work the run has in progress or waiting for a worker (as
    opposed to waiting for a point in time or for something outside it), each holding a
    time lock as in the Java server; and how many of those an unbalanced client unlock
    may release: all but a started workflow task (a worker is processing it: its
    timeout must never be skipped to) and cross-workflow deliveries (the server's)."""
    outbox = 1 if ms.outbox else 0
    if not ms.is_open:
        return outbox, 0
    releasable = 0
    started_wft = 0
    if ms.wft is not None:
        if ms.wft.started_event_id:
            started_wft = 1
        else:
            releasable += 1
    for ai in ms.activities.values():
        if ai.started or (ai.scheduled_event_id, ai.attempt) in ms.dispatched:
            releasable += 1
    return outbox + started_wft + releasable, releasable


def waits_for_update_outcome(method: str, request: Any) -> bool:
    if method not in ("UpdateWorkflowExecution", "PollWorkflowExecutionUpdate"):
        return False
    return bool(request.wait_policy.lifecycle_stage == _COMPLETED)


class Skipper:
    def __init__(self, clock: SkippingClock, store: Store, timers: TimerQueue) -> None:
        self.clock = clock
        self._store = store
        self._timers = timers
        self._runnable: dict[Key, tuple[int, int]] = {}
        self._units = 0
        self._releasable = 0
        self.in_flight = 0
        self.jumps = 0
        # More work in progress the server holds time for (the scheduler's wake-ups).
        self.also_running: list[Callable[[], int]] = []
        clock.internal_locks = self.internal_locks

    # -- what the engine and the frontend tell us ------------------------------------

    def published(self, key: Key, ms: MutableState) -> None:
        units, releasable = runnable(ms)
        units_before, releasable_before = self._runnable.pop(key, (0, 0))
        if units:
            self._runnable[key] = (units, releasable)
        self._units += units - units_before
        self._releasable += releasable - releasable_before
        if units < units_before:
            self.clock.changed.set()

    def poke(self) -> None:
        self.clock.changed.set()

    def internal_locks(self) -> int:
        extra = sum(count() for count in self.also_running)
        return self._units + self.in_flight + self._timers.firing + extra

    @contextlib.contextmanager
    def request(self) -> Any:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self.clock.changed.set()

    @contextlib.contextmanager
    def awaiting_update(self) -> Any:
        """A client waits for an update's outcome: one lock counts as released."""
        self.clock.update_waiters += 1
        self.clock.changed.set()
        try:
            yield
        finally:
            self.clock.update_waiters -= 1

    # -- the loop --------------------------------------------------------------------

    async def _next_deadline(self) -> float | None:
        rows = await self._store.read_timers(None, _FAR, 1)
        times = [rows[0].fire_time] if rows else []
        sleeper = self.clock.next_sleeper()
        if sleeper is not None:
            times.append(sleeper)
        return min(times) if times else None

    def _may_skip(self) -> bool:
        clock = self.clock
        # Client unlocks beyond the client's locks (Java allows them while the server
        # holds locks) release the server's: an activity that waits for time with
        # UnlockTimeSkippingWithSleep, a test sleeping while a workflow task waits for
        # a worker. Never a started workflow task's (see `runnable`).
        client = clock.locks
        if clock.update_waiters and client > 0:
            client -= 1  # a client waits for an update's outcome: one of its locks
        explicit = max(client, -self._releasable)
        return explicit + self.internal_locks() <= 0

    async def run(self) -> None:
        clock = self.clock
        while True:
            clock.changed.clear()
            if self._may_skip():
                try:
                    target = await self._next_deadline()
                except Exception:
                    log.exception("reading the next deadline failed")
                    target = None
                # Re-checked: the read yielded, and a deadline already due must fire
                # (and whatever it makes runnable run) before time moves on.
                if target is not None and self._may_skip() and target > clock.now():
                    log.debug("skipping %.3fs", target - clock.now())
                    clock.jump_to(target)
                    self.jumps += 1
                    await asyncio.sleep(0)
                    continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL):
                    await clock.changed.wait()


class SkippingInterceptor(UnaryInterceptor):
    """Holds time while a public call is processed; releases a lock while a client
    waits for an update's outcome."""

    prefixes = (_WORKFLOW_SERVICE, _OPERATOR_SERVICE)

    def __init__(self, skipper: Skipper) -> None:
        self.skipper = skipper

    def wrap(self, path: str, inner: UnaryBehavior) -> UnaryBehavior:
        method = path.rsplit("/", 1)[-1]
        skipper = self.skipper

        if method in LONG_POLLS:

            async def polled(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                if waits_for_update_outcome(method, request):
                    with skipper.awaiting_update():
                        return await inner(request, context)
                return await inner(request, context)

            behavior = polled
        else:

            async def held(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                with skipper.request():
                    return await inner(request, context)

            behavior = held
        return behavior
