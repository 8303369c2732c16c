"""Workflows and activities shared by the scenario and differential tests.

Activities live on small classes so each test gets fresh counters: the test
process counts every execution and attempt, which is what the assertions check.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0)
NO_RETRY = RetryPolicy(maximum_attempts=1)
STEP_TIMEOUT = timedelta(seconds=10)


# --- order saga -------------------------------------------------------------------


@dataclass
class Order:
    order_id: str
    amount: int
    in_stock: bool = True


@dataclass
class OrderActivities:
    """Payment fails ``payment_failures`` times before it succeeds."""

    payment_failures: int = 2
    payment_attempts: list[int] = field(default_factory=list)
    inventory_attempts: list[int] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    shipments: list[str] = field(default_factory=list)

    @activity.defn(name="charge_payment")
    async def charge_payment(self, order: Order) -> str:
        attempt = activity.info().attempt
        self.payment_attempts.append(attempt)
        if attempt <= self.payment_failures:
            raise ApplicationError("payment gateway unavailable", type="GatewayUnavailable")
        return f"pay-{order.order_id}"

    @activity.defn(name="reserve_inventory")
    async def reserve_inventory(self, order: Order) -> None:
        self.inventory_attempts.append(activity.info().attempt)
        if not order.in_stock:
            raise ApplicationError("out of stock", type="OutOfStock", non_retryable=True)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, payment_id: str) -> None:
        self.refunds.append(payment_id)

    @activity.defn(name="ship_order")
    async def ship_order(self, order: Order) -> str:
        self.shipments.append(order.order_id)
        return f"track-{order.order_id}"

    def activities(self) -> list[object]:
        return [self.charge_payment, self.reserve_inventory, self.refund_payment, self.ship_order]


@workflow.defn
class OrderSagaWorkflow:
    @workflow.run
    async def run(self, order: Order) -> str:
        payment_id = await workflow.execute_activity(
            "charge_payment",
            order,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=5,
            ),
            result_type=str,
        )
        try:
            await workflow.execute_activity(
                "reserve_inventory",
                order,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=FAST_RETRY,
            )
        except ActivityError as err:
            await workflow.execute_activity(
                "refund_payment", payment_id, start_to_close_timeout=STEP_TIMEOUT
            )
            raise ApplicationError(
                f"order {order.order_id} compensated", type="OrderCompensated", non_retryable=True
            ) from err
        return await workflow.execute_activity(
            "ship_order", order, start_to_close_timeout=STEP_TIMEOUT, result_type=str
        )


# --- approval (signal + timeout + query) --------------------------------------------


@dataclass
class Decision:
    approved: bool
    approver: str


@workflow.defn
class ApprovalWorkflow:
    def __init__(self) -> None:
        self._decision: Decision | None = None

    @workflow.run
    async def run(self, timeout_seconds: float) -> str:
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=timedelta(seconds=timeout_seconds)
            )
        except TimeoutError:
            return "timed-out"
        assert self._decision is not None
        verdict = "approved" if self._decision.approved else "rejected"
        return f"{verdict} by {self._decision.approver}"

    @workflow.signal
    def decide(self, decision: Decision) -> None:
        self._decision = decision

    @workflow.query
    def status(self) -> str:
        if self._decision is None:
            return "waiting"
        return "approved" if self._decision.approved else "rejected"


# --- fan-out + durable timer -----------------------------------------------------------


@dataclass
class FanOutActivities:
    processed: list[str] = field(default_factory=list)

    @activity.defn(name="process_item")
    async def process_item(self, item: str) -> str:
        self.processed.append(item)
        return item.upper()


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, items: list[str]) -> list[str]:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(
                    "process_item", item, start_to_close_timeout=STEP_TIMEOUT, result_type=str
                )
                for item in items
            )
        )
        await asyncio.sleep(1)
        return list(results)


# --- heartbeats --------------------------------------------------------------------------


@dataclass
class HeartbeatActivities:
    """``resume_chunks`` crashes after chunk ``crash_after`` on attempt 1."""

    crash_after: int = 3
    started_from: list[int] = field(default_factory=list)
    processed: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="resume_chunks")
    async def resume_chunks(self, total: int) -> int:
        info = activity.info()
        start = int(info.heartbeat_details[0]) if info.heartbeat_details else 0
        self.started_from.append(start)
        for chunk in range(start, total):
            self.processed.append(chunk)
            activity.heartbeat(chunk + 1)
            if info.attempt == 1 and chunk + 1 == self.crash_after:
                raise ApplicationError("worker crashed mid-batch", type="Crash")
        return total

    @activity.defn(name="stalls_first_attempt")
    async def stalls_first_attempt(self) -> int:
        attempt = activity.info().attempt
        self.attempts.append(attempt)
        activity.heartbeat("alive")
        if attempt == 1:
            # Stop heartbeating; the server's heartbeat timeout must retry us.  The
            # worker shutdown at the end of the test cancels this wait.
            await self.released.wait()
        return attempt


@workflow.defn
class ResumeChunksWorkflow:
    @workflow.run
    async def run(self, total: int) -> int:
        return await workflow.execute_activity(
            "resume_chunks",
            total,
            start_to_close_timeout=STEP_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=FAST_RETRY,
            result_type=int,
        )


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            "stalls_first_attempt",
            start_to_close_timeout=STEP_TIMEOUT,
            heartbeat_timeout=timedelta(milliseconds=500),
            retry_policy=FAST_RETRY,
            result_type=int,
        )


# --- failures and timeouts ------------------------------------------------------------


@dataclass
class FailingActivities:
    attempts: list[int] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="decline_card")
    async def decline_card(self) -> None:
        self.attempts.append(activity.info().attempt)
        raise ApplicationError("card declined", "4242", type="CardDeclined", non_retryable=True)

    @activity.defn(name="always_flaky")
    async def always_flaky(self) -> None:
        self.attempts.append(activity.info().attempt)
        raise ApplicationError("still flaky", type="Flaky")

    @activity.defn(name="flaky_then_hang")
    async def flaky_then_hang(self) -> None:
        """Attempt 1 fails; later attempts outlive the schedule-to-close budget.

        The hang ends when the worker shuts down at the end of the test.
        """
        attempt = activity.info().attempt
        self.attempts.append(attempt)
        if attempt == 1:
            raise ApplicationError("first attempt failed", type="Flaky")
        await self.released.wait()

    def activities(self) -> list[object]:
        return [self.decline_card, self.always_flaky, self.flaky_then_hang]


@workflow.defn
class NonRetryableWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            "decline_card",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=5
            ),
        )


@dataclass
class ScheduleToCloseInput:
    activity: str
    schedule_to_close_seconds: float
    initial_interval_seconds: float


@workflow.defn
class ScheduleToCloseWorkflow:
    @workflow.run
    async def run(self, params: ScheduleToCloseInput) -> None:
        await workflow.execute_activity(
            params.activity,
            schedule_to_close_timeout=timedelta(seconds=params.schedule_to_close_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=params.initial_interval_seconds),
                backoff_coefficient=1.0,
            ),
        )


# --- cancellation with compensation ---------------------------------------------------


@dataclass
class CompensationActivities:
    compensations: list[str] = field(default_factory=list)

    @activity.defn(name="compensate")
    async def compensate(self, reason: str) -> None:
        self.compensations.append(reason)


@workflow.defn
class CancellableWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await workflow.execute_activity(
                "compensate", "cancelled", start_to_close_timeout=STEP_TIMEOUT
            )
            raise
        return "finished"


# --- a blocking activity, for describe ----------------------------------------------


@dataclass
class GateActivities:
    release: asyncio.Event = field(default_factory=asyncio.Event)
    runs: int = 0

    @activity.defn(name="wait_at_gate")
    async def wait_at_gate(self) -> str:
        self.runs += 1
        await self.release.wait()
        return "through"


@workflow.defn
class GateWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "wait_at_gate", start_to_close_timeout=timedelta(seconds=30), result_type=str
        )


# --- trivial + multi-step (for restart and start_local) ------------------------------


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


@dataclass
class StepActivities:
    executions: dict[str, int] = field(default_factory=dict)
    task_tokens: dict[str, bytes] = field(default_factory=dict)

    @activity.defn(name="step")
    async def step(self, name: str) -> str:
        self.executions[name] = self.executions.get(name, 0) + 1
        self.task_tokens[name] = activity.info().task_token
        return name


@workflow.defn
class MultiStepWorkflow:
    @workflow.run
    async def run(self, timer_seconds: float) -> list[str]:
        done = []
        for name in ("a", "b"):
            done.append(
                await workflow.execute_activity(
                    "step", name, start_to_close_timeout=STEP_TIMEOUT, result_type=str
                )
            )
        await asyncio.sleep(timer_seconds)
        for name in ("c", "d"):
            done.append(
                await workflow.execute_activity(
                    "step", name, start_to_close_timeout=STEP_TIMEOUT, result_type=str
                )
            )
        return done
