"""Workflows for the web UI's tests and screenshots, and `populate`, which runs one of
each kind so that every page has something to show."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowHandle,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from .harness import unique, wait_for

TIMEOUT = timedelta(seconds=10)


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def charge_card(order_id: str) -> str:
    activity.heartbeat({"progress": "contacting bank"})
    raise ApplicationError(f"bank unavailable for {order_id}", type="BankUnavailable")


@workflow.defn
class UIGreeting:
    @workflow.run
    async def run(self, name: str) -> dict[str, Any]:
        greeting = await workflow.execute_activity(greet, name, start_to_close_timeout=TIMEOUT)
        await workflow.sleep(timedelta(milliseconds=50))
        return {"greeting": greeting, "length": len(greeting)}


@workflow.defn
class UIApproval:
    def __init__(self) -> None:
        self.approved_by: str | None = None

    @workflow.run
    async def run(self, order: dict[str, Any]) -> str:
        await workflow.wait_condition(lambda: self.approved_by is not None)
        return f"order {order['id']} approved by {self.approved_by}"

    @workflow.signal
    def approve(self, who: str) -> None:
        self.approved_by = who

    @workflow.query
    def state(self) -> str:
        return "approved" if self.approved_by else "waiting"


@workflow.defn
class UIPayment:
    @workflow.run
    async def run(self, order_id: str) -> None:
        raise ApplicationError(f"card declined for {order_id}", type="PaymentDeclined")


@workflow.defn
class UIRetrying:
    """Keeps an activity pending, failing and retrying (pending activities panel)."""

    @workflow.run
    async def run(self, order_id: str) -> str:
        return await workflow.execute_activity(
            charge_card,
            order_id,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=1),
        )


@workflow.defn
class UIParent:
    @workflow.run
    async def run(self, name: str) -> dict[str, Any]:
        return await workflow.execute_child_workflow(
            UIGreeting.run, name, id=f"{workflow.info().workflow_id}-child"
        )


@workflow.defn
class UICounter:
    """Continues as new until `left` is 0: a run chain."""

    @workflow.run
    async def run(self, left: int) -> int:
        if left > 0:
            workflow.continue_as_new(left - 1)
        return 0


WORKFLOWS = [UIGreeting, UIApproval, UIPayment, UIRetrying, UIParent, UICounter]
ACTIVITIES = [greet, charge_card]


@dataclass
class Scenario:
    task_queue: str
    greetings: list[WorkflowHandle[Any, Any]] = field(default_factory=list)
    approvals: list[WorkflowHandle[Any, Any]] = field(default_factory=list)
    failed: WorkflowHandle[Any, Any] | None = None
    retrying: WorkflowHandle[Any, Any] | None = None
    parent: WorkflowHandle[Any, Any] | None = None
    counter: WorkflowHandle[Any, Any] | None = None
    schedule_id: str = ""


async def populate(client: Client, task_queue: str, approvals: int = 3) -> Scenario:
    """Start one of each; return once the short ones have closed (a worker must run)."""
    s = Scenario(task_queue)
    start = client.start_workflow
    for name in ("Ada", "Grace"):
        s.greetings.append(
            await start(UIGreeting.run, name, id=unique("greeting"), task_queue=task_queue)
        )
    for i in range(approvals):
        order = {"id": f"A-{i}", "amount": 100 + i, "items": ["book", "lamp"]}
        s.approvals.append(
            await start(UIApproval.run, order, id=unique("approval"), task_queue=task_queue)
        )
    s.failed = await start(UIPayment.run, "P-7", id=unique("payment"), task_queue=task_queue)
    s.retrying = await start(UIRetrying.run, "R-1", id=unique("charge"), task_queue=task_queue)
    s.parent = await start(UIParent.run, "child", id=unique("parent"), task_queue=task_queue)
    s.counter = await start(UICounter.run, 2, id=unique("counter"), task_queue=task_queue)
    s.schedule_id = unique("nightly-report")
    await client.create_schedule(
        s.schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                UIGreeting.run, "schedule", id=unique("scheduled"), task_queue=task_queue
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    for handle in [*s.greetings, s.parent]:
        await handle.result()
    await asyncio.gather(_closed(s.failed), _closed(s.counter), _attempts(s.retrying, at_least=2))
    return s


async def _closed(handle: WorkflowHandle[Any, Any]) -> None:
    async def closed() -> bool:
        return (await handle.describe()).close_time is not None

    await wait_for(closed, within=20, message=f"{handle.id} closed")


async def _attempts(handle: WorkflowHandle[Any, Any], at_least: int) -> None:
    async def retried() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return bool(pending) and pending[0].attempt >= at_least

    await wait_for(retried, within=20, message=f"{handle.id} retried")
