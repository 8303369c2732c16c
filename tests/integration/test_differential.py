"""Differential checks: the same scenarios against the selected server and the reference.

A reference server (Temporal's Go dev server) is started here regardless of
PYTEMPORAL_TEST_SERVER; each scenario returns a normalized observation (event-type
sequence, failure chains, error codes/messages/detail types) with ids, timestamps
and other run-specific values stripped, and both servers must produce the same one.
With PYTEMPORAL_TEST_SERVER=reference both sides are reference servers, which
validates the harness itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.failure.v1 import Failure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    RespondActivityTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from .harness import (
    REFERENCE,
    ServerProcess,
    event_type_name,
    has_event,
    history_events,
    running_worker,
    unique,
    wait_for,
)
from .workflows import (
    ApprovalWorkflow,
    CancellableWorkflow,
    CompensationActivities,
    Decision,
    FailingActivities,
    HeartbeatActivities,
    HeartbeatTimeoutWorkflow,
    HelloWorkflow,
    NonRetryableWorkflow,
    Order,
    OrderActivities,
    OrderSagaWorkflow,
    ScheduleToCloseInput,
    ScheduleToCloseWorkflow,
)

pytestmark = pytest.mark.reference

Observation = dict[str, Any]
Scenario = Callable[[Client], Awaitable[Observation]]


@pytest.fixture(scope="session")
async def reference_client() -> AsyncIterator[Client]:
    proc = ServerProcess(REFERENCE)
    client = await proc.start()
    try:
        yield client
    finally:
        proc.terminate(timeout=5)


# --- normalization -------------------------------------------------------------------


def failure_chain(failure: Failure) -> list[dict[str, Any]]:
    """Each level of a failure: kind, message, source and the kind's key fields."""
    chain: list[dict[str, Any]] = []
    current: Failure | None = failure
    while current is not None:
        kind = current.WhichOneof("failure_info")
        level: dict[str, Any] = {"kind": kind, "message": current.message, "source": current.source}
        info = getattr(current, kind) if kind else None
        if kind == "application_failure_info":
            level |= {"type": info.type, "non_retryable": info.non_retryable}
        elif kind == "activity_failure_info":
            level |= {"activity_type": info.activity_type.name, "retry_state": info.retry_state}
        elif kind == "timeout_failure_info":
            level |= {"timeout_type": info.timeout_type}
        chain.append(level)
        current = current.cause if current.HasField("cause") else None
    return chain


async def history_shape(handle: WorkflowHandle[Any, Any]) -> Observation:
    events = await history_events(handle)
    shape: Observation = {"events": [event_type_name(e) for e in events]}
    last = events[-1]
    if last.HasField("workflow_execution_failed_event_attributes"):
        attrs = last.workflow_execution_failed_event_attributes
        shape["failure"] = failure_chain(attrs.failure)
        shape["retry_state"] = attrs.retry_state
    shape["activity_started_attempts"] = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    return shape


def rpc_error_shape(err: RPCError, replacements: dict[str, str] | None = None) -> Observation:
    message = err.message
    for value, placeholder in (replacements or {}).items():
        message = message.replace(value, placeholder)
    return {
        "status": err.status.name if err.status is not None else None,
        "message": message,
        "details": [d.type_url for d in err.grpc_status.details],
    }


async def rpc_outcome(
    call: Awaitable[Any], replacements: dict[str, str] | None = None
) -> Observation:
    try:
        await call
    except RPCError as err:
        return rpc_error_shape(err, replacements)
    return {"status": "OK"}


async def result_outcome(handle: WorkflowHandle[Any, Any]) -> str:
    try:
        return repr(await handle.result())
    except Exception as err:  # the exception class is part of the observation
        return type(err).__name__


# --- scenarios -----------------------------------------------------------------------


async def saga_happy(client: Client) -> Observation:
    task_queue = unique("diff")
    acts = OrderActivities(payment_failures=2)
    async with running_worker(
        client, task_queue, workflows=[OrderSagaWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            OrderSagaWorkflow.run, Order("d-1", 10), id=unique("diff"), task_queue=task_queue
        )
        result = await result_outcome(handle)
    return {"result": result, "payment_attempts": acts.payment_attempts} | await history_shape(
        handle
    )


async def saga_compensation(client: Client) -> Observation:
    task_queue = unique("diff")
    acts = OrderActivities(payment_failures=0)
    async with running_worker(
        client, task_queue, workflows=[OrderSagaWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            OrderSagaWorkflow.run,
            Order("d-2", 10, in_stock=False),
            id=unique("diff"),
            task_queue=task_queue,
        )
        result = await result_outcome(handle)
    return {"result": result, "refunds": len(acts.refunds)} | await history_shape(handle)


async def approval_signal_after_query(client: Client) -> Observation:
    task_queue = unique("diff")
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=unique("diff"), task_queue=task_queue
        )
        query = await handle.query(ApprovalWorkflow.status)
        await handle.signal(ApprovalWorkflow.decide, Decision(True, "alice"))
        result = await result_outcome(handle)
    return {"query": query, "result": result} | await history_shape(handle)


async def approval_timeout(client: Client) -> Observation:
    task_queue = unique("diff")
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 0.3, id=unique("diff"), task_queue=task_queue
        )
        result = await result_outcome(handle)
    return {"result": result} | await history_shape(handle)


async def signal_with_start(client: Client) -> Observation:
    task_queue = unique("diff")
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            30.0,
            id=unique("diff"),
            task_queue=task_queue,
            start_signal="decide",
            start_signal_args=[Decision(False, "bob")],
        )
        result = await result_outcome(handle)
    return {"result": result} | await history_shape(handle)


async def non_retryable(client: Client) -> Observation:
    task_queue = unique("diff")
    acts = FailingActivities()
    async with running_worker(
        client, task_queue, workflows=[NonRetryableWorkflow], activities=[acts.decline_card]
    ):
        handle = await client.start_workflow(
            NonRetryableWorkflow.run, id=unique("diff"), task_queue=task_queue
        )
        result = await result_outcome(handle)
    return {"result": result, "attempts": acts.attempts} | await history_shape(handle)


async def _schedule_to_close(client: Client, params: ScheduleToCloseInput) -> Observation:
    task_queue = unique("diff")
    acts = FailingActivities()
    async with running_worker(
        client, task_queue, workflows=[ScheduleToCloseWorkflow], activities=acts.activities()
    ):
        handle = await client.start_workflow(
            ScheduleToCloseWorkflow.run, params, id=unique("diff"), task_queue=task_queue
        )
        result = await result_outcome(handle)
    return {"result": result, "attempts": acts.attempts} | await history_shape(handle)


async def schedule_to_close_timer(client: Client) -> Observation:
    return await _schedule_to_close(client, ScheduleToCloseInput("flaky_then_hang", 2, 0.1))


async def schedule_to_close_backoff(client: Client) -> Observation:
    return await _schedule_to_close(client, ScheduleToCloseInput("always_flaky", 1.8, 1))


async def heartbeat_timeout(client: Client) -> Observation:
    task_queue = unique("diff")
    acts = HeartbeatActivities()
    async with running_worker(
        client,
        task_queue,
        workflows=[HeartbeatTimeoutWorkflow],
        activities=[acts.stalls_first_attempt],
    ):
        handle = await client.start_workflow(
            HeartbeatTimeoutWorkflow.run, id=unique("diff"), task_queue=task_queue
        )
        result = await result_outcome(handle)
    events = await history_events(handle)
    started = next(e for e in events if e.HasField("activity_task_started_event_attributes"))
    last_failure = started.activity_task_started_event_attributes.last_failure
    return {
        "result": result,
        "attempts": acts.attempts,
        "last_failure": failure_chain(last_failure),
    } | await history_shape(handle)


async def cancel_with_compensation(client: Client) -> Observation:
    task_queue = unique("diff")
    acts = CompensationActivities()
    async with running_worker(
        client, task_queue, workflows=[CancellableWorkflow], activities=[acts.compensate]
    ):
        handle = await client.start_workflow(
            CancellableWorkflow.run, id=unique("diff"), task_queue=task_queue
        )
        await wait_for(lambda: has_event(handle, "TIMER_STARTED"), message="timer started")
        await handle.cancel()
        result = await result_outcome(handle)
    return {"result": result, "compensations": acts.compensations} | await history_shape(handle)


async def terminate_before_first_task(client: Client) -> Observation:
    handle = await client.start_workflow(
        ApprovalWorkflow.run, 30.0, id=unique("diff"), task_queue=unique("no-worker")
    )
    await handle.terminate("detail", reason="stop")
    events = await history_events(handle)
    attrs = events[-1].workflow_execution_terminated_event_attributes
    again = await rpc_outcome(handle.terminate(reason="again"))
    return {
        "result": await result_outcome(handle),
        "events": [event_type_name(e) for e in events],
        "reason": attrs.reason,
        "status": (await handle.describe()).status,
        "terminate_again": again,
    }


async def id_conflicts(client: Client) -> Observation:
    task_queue = unique("diff")
    async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
        done = await client.start_workflow(
            HelloWorkflow.run, "x", id=unique("diff"), task_queue=task_queue
        )
        await done.result()
    running = _start_request(task_queue)
    first = await client.workflow_service.start_workflow_execution(running)
    repeat = await client.workflow_service.start_workflow_execution(running)
    duplicate = _start_request(task_queue, workflow_id=running.workflow_id)
    reject = _start_request(task_queue, workflow_id=done.id)
    reject.workflow_id_reuse_policy = WorkflowIDReusePolicy.REJECT_DUPLICATE.value  # type: ignore[assignment]
    ids = {running.workflow_id: "<running-id>", first.run_id: "<running-run>", done.id: "<done-id>"}
    ids[done.result_run_id or ""] = "<done-run>"
    observation = {
        "idempotent_same_run": repeat.run_id == first.run_id,
        "started_flags": [first.started, repeat.started],
        "duplicate_running": await rpc_outcome(
            client.workflow_service.start_workflow_execution(duplicate), ids
        ),
        "reject_duplicate": await rpc_outcome(
            client.workflow_service.start_workflow_execution(reject), ids
        ),
    }
    await client.get_workflow_handle(running.workflow_id).terminate()
    return observation


async def bad_inputs(client: Client) -> Observation:
    svc = client.workflow_service
    big = Payloads(
        payloads=[
            Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * (2 * 1024 * 1024 + 1))
        ]
    )
    oversized = _start_request(unique("tq"), input=big)
    missing_id = f"missing-{uuid.uuid4()}"
    ids = {oversized.workflow_id: "<oversized-id>", missing_id: "<missing-id>"}
    start = svc.start_workflow_execution
    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "unknown_namespace": lambda: start(_start_request("tq", namespace="no-such-ns")),
        "missing_workflow_id": lambda: start(_start_request("tq", workflow_id="")),
        "missing_workflow_type": lambda: start(_start_request("tq", workflow_type=WorkflowType())),
        "missing_task_queue": lambda: start(_start_request("")),
        "oversized_input": lambda: start(oversized),
        "oversized_then_describe": lambda: svc.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=oversized.workflow_id)
            )
        ),
        "describe_missing": lambda: svc.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=missing_id)
            )
        ),
        "garbage_token": lambda: svc.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace="default", task_token=b"garbage")
        ),
        "empty_token": lambda: svc.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace="default", task_token=b"")
        ),
    }
    return {name: await rpc_outcome(call(), ids) for name, call in cases.items()}


async def query_without_worker(client: Client) -> Observation:
    handle = await client.start_workflow(
        ApprovalWorkflow.run, 30.0, id=unique("diff"), task_queue=unique("no-worker")
    )
    outcome = await rpc_outcome(
        handle.query(ApprovalWorkflow.status, rpc_timeout=timedelta(seconds=1))
    )
    await handle.terminate()
    # Either the client deadline or the server's DEADLINE_EXCEEDED may win the race.
    return {"timed_out": outcome["status"] in ("CANCELLED", "DEADLINE_EXCEEDED")}


def _start_request(task_queue: str, **overrides: Any) -> StartWorkflowExecutionRequest:
    fields: dict[str, Any] = {
        "namespace": "default",
        "workflow_id": unique("diff-raw"),
        "workflow_type": WorkflowType(name="ApprovalWorkflow"),
        "task_queue": TaskQueue(name=task_queue),
        "request_id": str(uuid.uuid4()),
    }
    fields.update(overrides)
    return StartWorkflowExecutionRequest(**fields)


SCENARIOS: list[Scenario] = [
    saga_happy,
    saga_compensation,
    approval_signal_after_query,
    approval_timeout,
    signal_with_start,
    non_retryable,
    schedule_to_close_timer,
    schedule_to_close_backoff,
    heartbeat_timeout,
    cancel_with_compensation,
    terminate_before_first_task,
    id_conflicts,
    bad_inputs,
    query_without_worker,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
async def test_matches_reference(
    scenario: Scenario, client: Client, reference_client: Client
) -> None:
    expected = await scenario(reference_client)
    actual = await scenario(client)
    assert actual == expected
