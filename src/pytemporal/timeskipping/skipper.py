"""When time may jump, and where to.

Temporal's Java test server holds a time lock while anything is runnable: a workflow
task from schedule to completion, an activity from schedule to completion, each request
being processed. pytemporal does the same from the run states the history engine
publishes after every commit (`runnable`), the timers being fired and the requests in
flight. While the lock count is zero and nothing is runnable, the clock jumps to the
earliest deadline: the head of the durable timer table (every run's next deadline:
timers, timeouts, retry backoffs, delayed and cron starts) or a TestService sleep.

Long polls wait for something else to happen and never hold time (a worker polling, a
client awaiting a result). A client waiting for an update's outcome releases one lock
while it waits (the Java server does not; the SDK unlocks only around results).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage

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


def runnable(ms: MutableState) -> bool:
    """Whether the run has work in progress or waiting for a worker (as opposed to
    waiting for a point in time or for something outside it)."""
    if ms.outbox:
        return True  # cross-workflow work being delivered
    if not ms.is_open:
        return False
    if ms.wft is not None:
        return True
    return any(
        ai.started or (ai.scheduled_event_id, ai.attempt) in ms.dispatched
        for ai in ms.activities.values()
    )


def waits_for_update_outcome(method: str, request: Any) -> bool:
    if method not in ("UpdateWorkflowExecution", "PollWorkflowExecutionUpdate"):
        return False
    return bool(request.wait_policy.lifecycle_stage == _COMPLETED)


class Skipper:
    def __init__(self, clock: SkippingClock, store: Store, timers: TimerQueue) -> None:
        self.clock = clock
        self._store = store
        self._timers = timers
        self._runnable: set[Key] = set()
        self.in_flight = 0
        self.jumps = 0

    # -- what the engine and the frontend tell us ------------------------------------

    def published(self, key: Key, ms: MutableState) -> None:
        if runnable(ms):
            self._runnable.add(key)
        elif key in self._runnable:
            self._runnable.discard(key)
            self.clock.changed.set()

    def poke(self) -> None:
        self.clock.changed.set()

    def busy(self) -> bool:
        return bool(self._runnable) or self.in_flight > 0 or self._timers.firing

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
        return self.clock.unlocked() and not self.busy()

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


class SkippingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Holds time while a public call is processed; releases a lock while a client
    waits for an update's outcome."""

    def __init__(self, skipper: Skipper) -> None:
        self.skipper = skipper

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        path: str = details.method  # type: ignore[attr-defined]
        if handler is None or handler.unary_unary is None:
            return handler
        if not (path.startswith(_WORKFLOW_SERVICE) or path.startswith(_OPERATOR_SERVICE)):
            return handler
        method = path.rsplit("/", 1)[-1]
        inner = handler.unary_unary
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
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
