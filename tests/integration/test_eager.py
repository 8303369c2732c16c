"""Eager workflow start and eager activity dispatch, through the SDK: both hand the
worker its task in the reply to the call that created it. Every test also passes
against Temporal's dev server (PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client

from .harness import event_types, running_worker, unique
from .workflows import HelloWorkflow


async def test_eager_workflow_start_through_the_sdk(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[HelloWorkflow]):
        handle = await client.start_workflow(
            HelloWorkflow.run,
            "eager",
            id=unique("wf"),
            task_queue=task_queue,
            request_eager_start=True,
            task_timeout=timedelta(hours=1),  # a task left to matching would hang here
        )
        assert getattr(handle, "__temporal_eagerly_started")
        assert await handle.result() == "hello eager"
    assert (await event_types(handle))[:3] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
    ]


async def test_eager_start_reply_and_its_retry(client: Client, task_queue: str) -> None:
    request = StartWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_id=unique("wf"),
        workflow_type=WorkflowType(name="HelloWorkflow"),
        task_queue=TaskQueue(name=task_queue),
        identity="eager-client",
        request_id=str(uuid.uuid4()),
        request_eager_execution=True,
    )
    resp = await client.workflow_service.start_workflow_execution(request)
    task = resp.eager_workflow_task
    assert task.task_token
    assert task.workflow_execution == WorkflowExecution(
        workflow_id=request.workflow_id, run_id=resp.run_id
    )
    assert task.started_event_id == 3 and task.attempt == 1
    assert [e.event_id for e in task.history.events] == [1, 2, 3]
    assert task.history.events[2].workflow_task_started_event_attributes.identity == (
        "eager-client"
    )
    # The same request again (a retry): the same run, and its task again.
    again = await client.workflow_service.start_workflow_execution(request)
    assert again.run_id == resp.run_id
    assert again.eager_workflow_task.started_event_id == 3
    # A delayed start cannot be eager.
    request.workflow_id, request.request_id = unique("wf"), str(uuid.uuid4())
    request.workflow_start_delay.FromSeconds(60)
    delayed = await client.workflow_service.start_workflow_execution(request)
    assert not delayed.HasField("eager_workflow_task")
    for wf in (resp, delayed):
        await client.get_workflow_handle(
            request.workflow_id if wf is delayed else task.workflow_execution.workflow_id
        ).terminate()
