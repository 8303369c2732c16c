"""Bad input through the raw gRPC WorkflowService: status codes, messages, details."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure, NotFoundFailure
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
    RespondActivityTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import has_event, running_worker, unique, wait_for
from .workflows import MultiStepWorkflow, StepActivities

MIB = 1024 * 1024


def start_request(**overrides: object) -> StartWorkflowExecutionRequest:
    fields: dict[str, object] = {
        "namespace": "default",
        "workflow_id": unique("bad-input"),
        "workflow_type": WorkflowType(name="ApprovalWorkflow"),
        "task_queue": TaskQueue(name=unique("tq")),
        "request_id": str(uuid.uuid4()),
    }
    fields.update(overrides)
    return StartWorkflowExecutionRequest(**fields)  # type: ignore[arg-type]


async def test_unknown_namespace_on_start(client: Client) -> None:
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.start_workflow_execution(
            start_request(namespace="no-such-ns")
        )
    err = exc_info.value
    assert err.status == RPCStatusCode.NOT_FOUND
    assert err.message == "Namespace no-such-ns is not found."
    details = NamespaceNotFoundFailure()
    assert err.grpc_status.details[0].Unpack(details)
    assert details.namespace == "no-such-ns"


async def test_unknown_namespace_on_describe(client: Client) -> None:
    request = DescribeWorkflowExecutionRequest(
        namespace="no-such-ns", execution=WorkflowExecution(workflow_id="whatever")
    )
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.describe_workflow_execution(request)
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    assert exc_info.value.grpc_status.details[0].Is(NamespaceNotFoundFailure.DESCRIPTOR)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"workflow_id": ""}, "WorkflowId is not set on request."),
        ({"workflow_type": WorkflowType(name="")}, "WorkflowType is not set on request."),
        ({"task_queue": TaskQueue(name="")}, "missing task queue name"),
    ],
    ids=["workflow_id", "workflow_type", "task_queue"],
)
async def test_missing_required_start_field(
    client: Client, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.start_workflow_execution(start_request(**overrides))
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == message
    assert list(exc_info.value.grpc_status.details) == []


async def test_oversized_input_is_rejected_and_nothing_is_created(client: Client) -> None:
    big = Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * (2 * MIB + 1))
    request = start_request(input=Payloads(payloads=[big]))
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.start_workflow_execution(request)
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == "Blob data size exceeds limit."

    describe = DescribeWorkflowExecutionRequest(
        namespace="default", execution=WorkflowExecution(workflow_id=request.workflow_id)
    )
    with pytest.raises(RPCError) as missing:
        await client.workflow_service.describe_workflow_execution(describe)
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    assert missing.value.message == f"workflow not found for ID: {request.workflow_id}"
    assert missing.value.grpc_status.details[0].Unpack(NotFoundFailure())


async def test_input_just_under_limit_is_accepted(client: Client) -> None:
    payload = Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * (MIB + MIB // 2))
    request = start_request(input=Payloads(payloads=[payload]))
    response = await client.workflow_service.start_workflow_execution(request)
    assert response.run_id
    await client.get_workflow_handle(request.workflow_id).terminate()


async def test_garbage_task_token(client: Client) -> None:
    request = RespondActivityTaskCompletedRequest(namespace="default", task_token=b"garbage")
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.respond_activity_task_completed(request)
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == "Error deserializing task token."


async def test_empty_task_token(client: Client) -> None:
    request = RespondActivityTaskCompletedRequest(namespace="default", task_token=b"")
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.respond_activity_task_completed(request)
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == "Task token not set on request."


async def test_stale_task_token_of_completed_workflow(client: Client, task_queue: str) -> None:
    acts = StepActivities()
    async with running_worker(
        client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
    ):
        handle = await client.start_workflow(
            MultiStepWorkflow.run, 0.1, id=unique("stale"), task_queue=task_queue
        )
        await handle.result()
    request = RespondActivityTaskCompletedRequest(
        namespace="default", task_token=acts.task_tokens["a"]
    )
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.respond_activity_task_completed(request)
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    assert exc_info.value.message == "workflow execution already completed"
    assert exc_info.value.grpc_status.details[0].Unpack(NotFoundFailure())


async def test_stale_task_token_of_completed_activity(client: Client, task_queue: str) -> None:
    acts = StepActivities()
    async with running_worker(
        client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
    ):
        handle = await client.start_workflow(
            MultiStepWorkflow.run, 3600.0, id=unique("stale"), task_queue=task_queue
        )
        await wait_for(lambda: has_event(handle, "TIMER_STARTED"), message="timer started")
        request = RespondActivityTaskCompletedRequest(
            namespace="default", task_token=acts.task_tokens["a"]
        )
        with pytest.raises(RPCError) as exc_info:
            await client.workflow_service.respond_activity_task_completed(request)
        await handle.terminate()
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    assert exc_info.value.message == (
        "invalid activityID or activity already timed out or invoking workflow is completed"
    )
    assert exc_info.value.grpc_status.details[0].Unpack(NotFoundFailure())


@pytest.mark.parametrize("bad_type", [999, -7])
async def test_unknown_search_attribute_type(client: Client, bad_type: int) -> None:
    """Found by the fuzz: a type outside the enum answered INTERNAL."""
    with pytest.raises(RPCError) as exc_info:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={unique("Attr").replace("-", ""): bad_type},  # type: ignore[dict-item]
            )
        )
    assert exc_info.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert exc_info.value.message == f"Unknown search attribute type: {bad_type}."


async def test_reset_of_an_unknown_workflow_with_a_run_id(client: Client) -> None:
    """Found by the fuzz: a run id with a workflow id that has no runs answered INTERNAL."""
    with pytest.raises(RPCError) as exc_info:
        await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(
                    workflow_id=unique("never-started"), run_id=str(uuid.uuid4())
                ),
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
                reason="fuzz",
            )
        )
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
