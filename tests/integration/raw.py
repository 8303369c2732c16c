"""Raw WorkflowService steps for tests that play the worker by hand."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetWorkflowExecutionHistoryRequest,
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    RegisterNamespaceRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import unique, wait_for

POLL = timedelta(seconds=20)


@dataclass
class Run:
    namespace: str
    workflow_id: str
    run_id: str
    task_queue: str

    @property
    def execution(self) -> WorkflowExecution:
        return WorkflowExecution(workflow_id=self.workflow_id, run_id=self.run_id)


async def register_namespace(client: Client, prefix: str) -> str:
    name = unique(prefix)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )

    async def usable() -> bool:
        try:
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=name)
            )
            return True
        except RPCError:
            return False

    await wait_for(usable, within=30, message=f"namespace {name} registered")
    return name


async def start(client: Client, namespace: str = "default", **fields: Any) -> Run:
    task_queue = unique("tq")
    request = StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=unique("raw"),
        workflow_type=WorkflowType(name="RawWorkflow"),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
        **fields,
    )

    async def started() -> str | None:
        try:
            return (await client.workflow_service.start_workflow_execution(request)).run_id
        except RPCError as e:
            # A namespace just registered may not have reached every cache yet.
            if e.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    run_id = await wait_for(started, within=30, message="workflow started")
    return Run(namespace, request.workflow_id, run_id, task_queue)


async def poll_workflow_task(client: Client, run: Run) -> bytes:
    resp = await client.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=run.namespace, task_queue=TaskQueue(name=run.task_queue), identity="raw"
        ),
        timeout=POLL,
    )
    assert resp.task_token, "no workflow task within the poll"
    return bytes(resp.task_token)


async def complete_workflow_task(
    client: Client, run: Run, token: bytes, *commands: Command
) -> None:
    await client.workflow_service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=run.namespace, task_token=token, commands=commands, identity="raw"
        )
    )


def schedule_activity(task_queue: str, **timeouts: Duration) -> Command:
    fields: dict[str, Any] = {"start_to_close_timeout": Duration(seconds=60), **timeouts}
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="a1",
            activity_type=ActivityType(name="RawActivity"),
            task_queue=TaskQueue(name=task_queue),
            **fields,
        ),
    )


async def started_activity(client: Client, run: Run) -> bytes:
    """Schedule one activity from the first workflow task, and poll it: its token."""
    await complete_workflow_task(
        client, run, await poll_workflow_task(client, run), schedule_activity(run.task_queue)
    )
    resp = await client.workflow_service.poll_activity_task_queue(
        PollActivityTaskQueueRequest(
            namespace=run.namespace, task_queue=TaskQueue(name=run.task_queue), identity="raw"
        ),
        timeout=POLL,
    )
    assert resp.task_token, "no activity task within the poll"
    return bytes(resp.task_token)


async def history(client: Client, run: Run) -> list[HistoryEvent]:
    resp = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace=run.namespace, execution=run.execution)
    )
    return list(resp.history.events)


async def refused(call: Awaitable[Any]) -> tuple[RPCStatusCode, str]:
    with pytest.raises(RPCError) as info:
        await call
    return info.value.status, info.value.message
