"""Eager workflow start and eager activity dispatch, through the SDK: both hand the
worker its task in the reply to the call that created it. Every test also passes
against Temporal's dev server (PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio import activity, workflow
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    RespondActivityTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client

from .harness import event_type_name, event_types, history_events, running_worker, unique
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


@activity.defn(name="shout")
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=30)
        )


async def test_eager_activity_in_the_workflow_task_reply(client: Client, task_queue: str) -> None:
    service = client.workflow_service
    handle = await client.start_workflow(
        "ShoutWorkflow", "x", id=unique("wf"), task_queue=task_queue
    )
    poll = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), identity="w1"
        )
    )
    command = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="eager-1",
            activity_type=ActivityType(name="shout"),
            task_queue=TaskQueue(name=task_queue),
            start_to_close_timeout=Duration(seconds=30),
            request_eager_execution=True,
        ),
    )
    done = await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace,
            task_token=poll.task_token,
            commands=[command],
            identity="w1",
        )
    )
    (task,) = done.activity_tasks
    assert task.activity_id == "eager-1" and task.attempt == 1
    assert task.activity_type.name == "shout"
    assert task.start_to_close_timeout.seconds == 30
    await service.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(
            namespace=client.namespace, task_token=task.task_token, identity="w1"
        )
    )
    events = await history_events(handle)
    started = [e for e in events if e.HasField("activity_task_started_event_attributes")]
    assert started[0].activity_task_started_event_attributes.identity == "w1"
    # The activity's result schedules the next workflow task.
    assert event_type_name(events[-1]) == "WORKFLOW_TASK_SCHEDULED"
    await handle.terminate()


async def test_sdk_runs_its_activity_eagerly(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ShoutWorkflow], activities=[shout]):
        assert (
            await client.execute_workflow(
                ShoutWorkflow.run, "quiet", id=unique("wf"), task_queue=task_queue
            )
            == "QUIET"
        )
    # Its task never went through the activity queue.
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            report_stats=True,
        )
    )
    assert described.stats.tasks_add_rate == 0
