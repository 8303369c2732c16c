"""Order saga: retried payment, inventory check, compensating refund, shipping."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from .harness import history_events, running_worker, unique
from .workflows import Order, OrderActivities, OrderSagaWorkflow


async def test_order_saga_happy_path_retries_payment(client: Client, task_queue: str) -> None:
    acts = OrderActivities(payment_failures=2)
    async with running_worker(
        client, task_queue, workflows=[OrderSagaWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            OrderSagaWorkflow.run, Order("o-1", 100), id=unique("saga"), task_queue=task_queue
        )
        assert await handle.result() == "track-o-1"

    assert acts.payment_attempts == [1, 2, 3]
    assert acts.inventory_attempts == [1]
    assert acts.shipments == ["o-1"]
    assert acts.refunds == []
    # Retries are invisible in history: one ActivityTaskStarted, carrying the final
    # attempt number and the previous attempt's failure.
    events = await history_events(handle)
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert [s.attempt for s in started] == [3, 1, 1]
    assert started[0].last_failure.message == "payment gateway unavailable"
    assert started[0].last_failure.application_failure_info.type == "GatewayUnavailable"


async def test_order_saga_compensates_when_inventory_fails(client: Client, task_queue: str) -> None:
    acts = OrderActivities(payment_failures=2)
    async with running_worker(
        client, task_queue, workflows=[OrderSagaWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            OrderSagaWorkflow.run,
            Order("o-2", 50, in_stock=False),
            id=unique("saga"),
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()

    failure = exc_info.value.cause
    assert isinstance(failure, ApplicationError)
    assert failure.type == "OrderCompensated"
    activity_error = failure.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.activity_type == "reserve_inventory"
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "OutOfStock"

    assert acts.payment_attempts == [1, 2, 3]
    assert acts.inventory_attempts == [1]
    assert acts.refunds == ["pay-o-2"]
    assert acts.shipments == []
