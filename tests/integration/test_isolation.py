"""Namespace isolation: a task token, run id or update ref from one namespace (or one
workflow) never acts on another. Statuses and messages are Temporal's (run this file
with PYTEMPORAL_TEST_SERVER=reference to check them against its dev server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.api.command.v1 import (
    Command,
    RequestCancelExternalWorkflowExecutionCommandAttributes,
    SignalExternalWorkflowExecutionCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    SignalExternalWorkflowExecutionFailedCause,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.update.v1 import UpdateRef
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowExecutionUpdateRequest,
    QueryWorkflowRequest,
    RecordActivityTaskHeartbeatByIdRequest,
    RecordActivityTaskHeartbeatRequest,
    RequestCancelWorkflowExecutionRequest,
    ResetStickyTaskQueueRequest,
    ResetWorkflowExecutionRequest,
    RespondActivityTaskCanceledByIdRequest,
    RespondActivityTaskCanceledRequest,
    RespondActivityTaskCompletedByIdRequest,
    RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedByIdRequest,
    RespondActivityTaskFailedRequest,
    RespondQueryTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskFailedRequest,
    SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCStatusCode

from . import raw
from .harness import wait_for

NOT_FOUND_CAUSE = SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
MISMATCH = "Operation requested with a token from a different namespace."
Rpc = Callable[[Client, str, bytes], Awaitable[Any]]


@pytest.fixture(scope="module")
async def other_namespace(client: Client) -> str:
    return await raw.register_namespace(client, "isolation")


WORKFLOW_TASK_RPCS: dict[str, Rpc] = {
    "RespondWorkflowTaskCompleted": lambda c, ns, t: (
        c.workflow_service.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(namespace=ns, task_token=t)
        )
    ),
    "RespondWorkflowTaskFailed": lambda c, ns, t: c.workflow_service.respond_workflow_task_failed(
        RespondWorkflowTaskFailedRequest(namespace=ns, task_token=t)
    ),
    "RespondQueryTaskCompleted": lambda c, ns, t: c.workflow_service.respond_query_task_completed(
        RespondQueryTaskCompletedRequest(namespace=ns, task_token=t)
    ),
}
ACTIVITY_RPCS: dict[str, Rpc] = {
    "RecordActivityTaskHeartbeat": lambda c, ns, t: (
        c.workflow_service.record_activity_task_heartbeat(
            RecordActivityTaskHeartbeatRequest(namespace=ns, task_token=t)
        )
    ),
    "RespondActivityTaskCompleted": lambda c, ns, t: (
        c.workflow_service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=ns, task_token=t)
        )
    ),
    "RespondActivityTaskFailed": lambda c, ns, t: c.workflow_service.respond_activity_task_failed(
        RespondActivityTaskFailedRequest(namespace=ns, task_token=t, failure=Failure(message="x"))
    ),
    "RespondActivityTaskCanceled": lambda c, ns, t: (
        c.workflow_service.respond_activity_task_canceled(
            RespondActivityTaskCanceledRequest(namespace=ns, task_token=t)
        )
    ),
}


@pytest.mark.parametrize("rpc", sorted(WORKFLOW_TASK_RPCS))
async def test_workflow_task_token_under_another_namespace(
    client: Client, other_namespace: str, rpc: str
) -> None:
    run = await raw.start(client)
    token = await raw.poll_workflow_task(client, run)
    before = await raw.history(client, run)

    code, message = await raw.refused(WORKFLOW_TASK_RPCS[rpc](client, other_namespace, token))
    assert (code, message) == (RpcStatus.INVALID_ARGUMENT, MISMATCH)
    assert await raw.history(client, run) == before
    # The token still works where it was issued.
    await raw.complete_workflow_task(client, run, token)


@pytest.mark.parametrize("rpc", sorted(ACTIVITY_RPCS))
async def test_activity_task_token_under_another_namespace(
    client: Client, other_namespace: str, rpc: str
) -> None:
    run = await raw.start(client)
    token = await raw.started_activity(client, run)
    before = await raw.history(client, run)

    code, message = await raw.refused(ACTIVITY_RPCS[rpc](client, other_namespace, token))
    assert (code, message) == (RpcStatus.INVALID_ARGUMENT, MISMATCH)
    assert await raw.history(client, run) == before
    await client.workflow_service.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(namespace=run.namespace, task_token=token)
    )


async def test_token_from_another_namespace_is_refused_there_too(
    client: Client, other_namespace: str
) -> None:
    """The other direction: a token issued in the second namespace, used in default."""
    run = await raw.start(client, other_namespace)
    token = await raw.started_activity(client, run)
    call = client.workflow_service.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(namespace="default", task_token=token)
    )
    assert await raw.refused(call) == (RpcStatus.INVALID_ARGUMENT, MISMATCH)


RpcStatus = RPCStatusCode
ExecutionRpc = Callable[[Client, str, WorkflowExecution], Awaitable[Any]]

EXECUTION_RPCS: dict[str, ExecutionRpc] = {
    "DescribeWorkflowExecution": lambda c, ns, e: c.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=ns, execution=e)
    ),
    "GetWorkflowExecutionHistory": lambda c, ns, e: (
        c.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(namespace=ns, execution=e)
        )
    ),
    "SignalWorkflowExecution": lambda c, ns, e: c.workflow_service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(namespace=ns, workflow_execution=e, signal_name="s")
    ),
    "RequestCancelWorkflowExecution": lambda c, ns, e: (
        c.workflow_service.request_cancel_workflow_execution(
            RequestCancelWorkflowExecutionRequest(namespace=ns, workflow_execution=e)
        )
    ),
    "TerminateWorkflowExecution": lambda c, ns, e: c.workflow_service.terminate_workflow_execution(
        TerminateWorkflowExecutionRequest(namespace=ns, workflow_execution=e)
    ),
    "QueryWorkflow": lambda c, ns, e: c.workflow_service.query_workflow(
        QueryWorkflowRequest(namespace=ns, execution=e, query=WorkflowQuery(query_type="q"))
    ),
    "ResetWorkflowExecution": lambda c, ns, e: c.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=ns, workflow_execution=e, workflow_task_finish_event_id=3, request_id="r"
        )
    ),
    "ResetStickyTaskQueue": lambda c, ns, e: c.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(namespace=ns, execution=e)
    ),
    "PollWorkflowExecutionUpdate": lambda c, ns, e: (
        c.workflow_service.poll_workflow_execution_update(
            PollWorkflowExecutionUpdateRequest(
                namespace=ns, update_ref=UpdateRef(workflow_execution=e, update_id="u")
            )
        )
    ),
    "RecordActivityTaskHeartbeatById": lambda c, ns, e: (
        c.workflow_service.record_activity_task_heartbeat_by_id(
            RecordActivityTaskHeartbeatByIdRequest(
                namespace=ns, workflow_id=e.workflow_id, run_id=e.run_id, activity_id="a1"
            )
        )
    ),
    "RespondActivityTaskCompletedById": lambda c, ns, e: (
        c.workflow_service.respond_activity_task_completed_by_id(
            RespondActivityTaskCompletedByIdRequest(
                namespace=ns, workflow_id=e.workflow_id, run_id=e.run_id, activity_id="a1"
            )
        )
    ),
    "RespondActivityTaskFailedById": lambda c, ns, e: (
        c.workflow_service.respond_activity_task_failed_by_id(
            RespondActivityTaskFailedByIdRequest(
                namespace=ns,
                workflow_id=e.workflow_id,
                run_id=e.run_id,
                activity_id="a1",
                failure=Failure(message="x"),
            )
        )
    ),
    "RespondActivityTaskCanceledById": lambda c, ns, e: (
        c.workflow_service.respond_activity_task_canceled_by_id(
            RespondActivityTaskCanceledByIdRequest(
                namespace=ns, workflow_id=e.workflow_id, run_id=e.run_id, activity_id="a1"
            )
        )
    ),
}


def _not_found(workflow_id: str, run_id: str) -> tuple[RPCStatusCode, str]:
    return (
        RpcStatus.NOT_FOUND,
        f'workflow execution not found for workflow ID "{workflow_id}" and run ID "{run_id}"',
    )


@pytest.fixture(scope="module")
async def victim(client: Client) -> raw.Run:
    """A run in default with a started activity: what the calls below must not touch."""
    run = await raw.start(client)
    await raw.started_activity(client, run)
    return run


@pytest.mark.parametrize("rpc", sorted(EXECUTION_RPCS))
async def test_run_id_under_another_namespace_is_not_found(
    client: Client, other_namespace: str, victim: raw.Run, rpc: str
) -> None:
    before = await raw.history(client, victim)
    code_message = await raw.refused(EXECUTION_RPCS[rpc](client, other_namespace, victim.execution))
    assert code_message == _not_found(victim.workflow_id, victim.run_id)
    assert await raw.history(client, victim) == before


@pytest.mark.parametrize("rpc", sorted(EXECUTION_RPCS))
async def test_run_id_under_another_workflow_id_is_not_found(
    client: Client, victim: raw.Run, rpc: str
) -> None:
    other = await raw.start(client)  # exists in the same namespace, with its own runs
    before = await raw.history(client, victim)
    execution = WorkflowExecution(workflow_id=other.workflow_id, run_id=victim.run_id)
    code_message = await raw.refused(EXECUTION_RPCS[rpc](client, "default", execution))
    assert code_message == _not_found(other.workflow_id, victim.run_id)
    assert await raw.history(client, victim) == before


@pytest.mark.parametrize("rpc", sorted(EXECUTION_RPCS))
async def test_run_id_that_is_no_uuid_is_invalid(client: Client, victim: raw.Run, rpc: str) -> None:
    execution = WorkflowExecution(workflow_id=victim.workflow_id, run_id="not-a-uuid")
    code_message = await raw.refused(EXECUTION_RPCS[rpc](client, "default", execution))
    by_id = rpc.endswith("ById") or rpc == "PollWorkflowExecutionUpdate"
    message = "RunId is not valid UUID." if by_id else "Invalid RunId."
    assert code_message == (RpcStatus.INVALID_ARGUMENT, message)


@pytest.mark.parametrize("kind", ["signal", "cancel"])
async def test_external_target_in_another_namespace_is_not_reached_by_run_id(
    client: Client, other_namespace: str, kind: str
) -> None:
    """A command naming another namespace's workflow by its ids, in its own namespace,
    finds nothing: the target's namespace is the command's, never the run id's."""
    target = await raw.start(client, other_namespace)
    run = await raw.start(client)
    execution = target.execution
    if kind == "signal":
        command = Command(
            command_type=CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION,
            signal_external_workflow_execution_command_attributes=(
                SignalExternalWorkflowExecutionCommandAttributes(
                    execution=execution, signal_name="s"
                )
            ),
        )
        failed = EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED
    else:
        command = Command(
            command_type=CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION,
            request_cancel_external_workflow_execution_command_attributes=(
                RequestCancelExternalWorkflowExecutionCommandAttributes(
                    workflow_id=execution.workflow_id, run_id=execution.run_id
                )
            ),
        )
        failed = EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED
    target_before = await raw.history(client, target)
    await raw.complete_workflow_task(
        client, run, await raw.poll_workflow_task(client, run), command
    )

    async def failed_event() -> list[HistoryEvent]:
        return [e for e in await raw.history(client, run) if e.event_type == failed]

    (event,) = await wait_for(failed_event, within=20, message="external command failed")
    attrs = (
        event.signal_external_workflow_execution_failed_event_attributes
        if kind == "signal"
        else event.request_cancel_external_workflow_execution_failed_event_attributes
    )
    assert attrs.cause == NOT_FOUND_CAUSE
    assert attrs.namespace == "default"
    assert await raw.history(client, target) == target_before
