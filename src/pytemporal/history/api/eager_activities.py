"""Eager activity dispatch: an activity the worker asked to run itself
(`request_eager_execution` on ScheduleActivityTask) is started in the workflow task's
own transaction and handed back in RespondWorkflowTaskCompletedResponse.activity_tasks,
as Temporal's `handlePostCommandEagerExecuteActivity` does. The worker only asks for
activities on its own task queue and within its free slots."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import CommandType
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueResponse,
    RespondWorkflowTaskCompletedRequest,
)

from pytemporal.history.api import activity_tasks
from pytemporal.history.engine import Entry
from pytemporal.history.workflow import activities
from pytemporal.history.workflow.state import ActivityInfo


def start(entry: Entry, req: RespondWorkflowTaskCompletedRequest) -> list[ActivityInfo]:
    """Start the eagerly requested activities the commands just scheduled; their
    tasks no longer go to matching."""
    ms = entry.ms
    if not ms.is_open:
        return []  # the same task closed the run
    wanted = [
        c.schedule_activity_task_command_attributes.activity_id
        for c in req.commands
        if c.command_type == CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK
        and c.schedule_activity_task_command_attributes.request_eager_execution
    ]
    started: list[ActivityInfo] = []
    for activity_id in wanted:
        sched = ms.activity_ids.get(activity_id)
        if sched is None:
            continue  # cancelled by a later command of the same task
        ai = ms.activities[sched]
        if ai.started or (sched, ai.attempt) not in ms.dispatched:
            continue
        activities.start(ms, ai, request_id=str(uuid.uuid4()), identity=req.identity)
        started.append(ai)
    if started:
        ids = {ai.scheduled_event_id for ai in started}
        ms.tasks = [
            t for t in ms.tasks if not (t.kind == "activity" and t.scheduled_event_id in ids)
        ]
    return started


def responses(entry: Entry, started: list[ActivityInfo]) -> list[PollActivityTaskQueueResponse]:
    """The activity tasks for the reply (after the commit)."""
    return [activity_tasks.response(entry, ai) for ai in started]
