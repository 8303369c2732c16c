"""Workflow id conflicts, reuse policy and request-id idempotency."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from .harness import running_worker, unique
from .workflows import ApprovalWorkflow, HelloWorkflow


async def test_second_start_of_running_workflow_is_rejected(
    client: Client, task_queue: str
) -> None:
    workflow_id = unique("dup")
    first = await client.start_workflow(
        ApprovalWorkflow.run, 30.0, id=workflow_id, task_queue=task_queue
    )
    with pytest.raises(WorkflowAlreadyStartedError) as exc_info:
        await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=workflow_id, task_queue=task_queue
        )
    assert exc_info.value.workflow_id == workflow_id
    assert exc_info.value.workflow_type == "ApprovalWorkflow"
    assert exc_info.value.run_id == first.result_run_id
    await first.terminate()


async def test_raw_already_started_error_details(client: Client, task_queue: str) -> None:
    request = _start_request(task_queue)
    first = await client.workflow_service.start_workflow_execution(request)
    duplicate = _start_request(task_queue, workflow_id=request.workflow_id)
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.start_workflow_execution(duplicate)
    err = exc_info.value
    assert err.status == RPCStatusCode.ALREADY_EXISTS
    assert err.message == (
        f"Workflow execution is already running. WorkflowId: {request.workflow_id},"
        f" RunId: {first.run_id}."
    )
    details = WorkflowExecutionAlreadyStartedFailure()
    assert err.grpc_status.details[0].Unpack(details)
    assert details.start_request_id == request.request_id
    assert details.run_id == first.run_id
    await client.get_workflow_handle(request.workflow_id).terminate()


async def test_reject_duplicate_after_completion(client: Client, task_queue: str) -> None:
    workflow_id = unique("reuse")
    async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
        first = await client.start_workflow(
            HelloWorkflow.run, "one", id=workflow_id, task_queue=task_queue
        )
        assert await first.result() == "hello one"
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(
                HelloWorkflow.run,
                "two",
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        # The default policy (ALLOW_DUPLICATE) starts a fresh run.
        second = await client.start_workflow(
            HelloWorkflow.run, "three", id=workflow_id, task_queue=task_queue
        )
        assert second.result_run_id != first.result_run_id
        assert await second.result() == "hello three"


async def test_raw_reject_duplicate_message(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
        first = await client.start_workflow(
            HelloWorkflow.run, "x", id=unique("reuse"), task_queue=task_queue
        )
        await first.result()
    request = _start_request(task_queue, workflow_id=first.id, workflow_type="HelloWorkflow")
    request.workflow_id_reuse_policy = WorkflowIDReusePolicy.REJECT_DUPLICATE.value  # type: ignore[assignment]
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.start_workflow_execution(request)
    err = exc_info.value
    assert err.status == RPCStatusCode.ALREADY_EXISTS
    assert err.message == (
        f"Workflow execution already finished. WorkflowId: {first.id}, RunId: {first.result_run_id}."
        " Workflow Id reuse policy: reject duplicate workflow Id."
    )
    details = WorkflowExecutionAlreadyStartedFailure()
    assert err.grpc_status.details[0].Unpack(details)
    assert details.run_id == first.result_run_id


async def test_start_request_id_is_idempotent(client: Client, task_queue: str) -> None:
    request = _start_request(task_queue)
    first = await client.workflow_service.start_workflow_execution(request)
    again = await client.workflow_service.start_workflow_execution(request)
    assert again.run_id == first.run_id
    assert first.started and again.started
    await client.get_workflow_handle(request.workflow_id).terminate()


def _start_request(
    task_queue: str, *, workflow_id: str | None = None, workflow_type: str = "ApprovalWorkflow"
) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=workflow_id or unique("raw"),
        workflow_type=WorkflowType(name=workflow_type),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
        identity="integration-test",
    )
