"""Standalone activities (started by a client, not by a workflow) as hidden runs (pure).

A standalone activity is stored as a run of its own, apart from the namespace's
workflows, the way schedules are (`scheduler/keys.py`): its namespace id is the
namespace's id plus `NAMESPACE_SUFFIX` (so workflow visibility never sees it, and the
activities' List/Count are the same SQL over their own rows), its workflow id is the
activity id and its run id the activity's run id. Its workflow type is the activity
type, which is what the activities' visibility queries match.

The run holds exactly one pending activity and never a workflow task: everything an
activity needs (dispatch through the durable backlog, start, heartbeats, retries and
timeouts on the timer queue, completion by token or by id) is the workflow machinery
as it is. Where a workflow's activity would schedule a workflow task when it ends,
this run closes instead (`finish`), and its close status is the activity's status.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import (
    ActivityExecutionStatus,
    EventType,
    WorkflowExecutionStatus,
)
from temporalio.api.failure.v1 import Failure

from pytemporal.history.workflow.state import MutableState
from pytemporal.namespaces import ACTIVITIES_SUFFIX

NAMESPACE_SUFFIX = ACTIVITIES_SUFFIX

S = WorkflowExecutionStatus
A = ActivityExecutionStatus

STATUS = {
    S.WORKFLOW_EXECUTION_STATUS_RUNNING: A.ACTIVITY_EXECUTION_STATUS_RUNNING,
    S.WORKFLOW_EXECUTION_STATUS_COMPLETED: A.ACTIVITY_EXECUTION_STATUS_COMPLETED,
    S.WORKFLOW_EXECUTION_STATUS_FAILED: A.ACTIVITY_EXECUTION_STATUS_FAILED,
    S.WORKFLOW_EXECUTION_STATUS_CANCELED: A.ACTIVITY_EXECUTION_STATUS_CANCELED,
    S.WORKFLOW_EXECUTION_STATUS_TERMINATED: A.ACTIVITY_EXECUTION_STATUS_TERMINATED,
    S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: A.ACTIVITY_EXECUTION_STATUS_TIMED_OUT,
}

# The activity's own closing events, in the order `finish` looks for them.
CLOSE_EVENTS = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
)


def row_namespace(namespace_id: str) -> str:
    return namespace_id + NAMESPACE_SUFFIX


def is_row_namespace(namespace_id: str) -> bool:
    return namespace_id.endswith(NAMESPACE_SUFFIX)


def owner_namespace(namespace_id: str) -> str:
    """The namespace id a hidden row's namespace id belongs to."""
    if is_row_namespace(namespace_id):
        return namespace_id[: -len(NAMESPACE_SUFFIX)]
    return namespace_id


def is_standalone(ms: MutableState) -> bool:
    return is_row_namespace(ms.namespace_id)


def status(ms: MutableState) -> int:
    found: int = STATUS.get(ms.status, A.ACTIVITY_EXECUTION_STATUS_UNSPECIFIED)  # type: ignore[call-overload]
    return found


def finish(ms: MutableState) -> None:
    """The activity has ended (its closing event is among the new events): close the
    run with the matching status."""
    from pytemporal.history.workflow import lifecycle  # lifecycle → children → activities

    ev = next((e for e in reversed(ms.new_events) if e.event_type in CLOSE_EVENTS), None)
    if ev is None or not ms.is_open:
        return
    t = ev.event_type
    if t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        a = ev.activity_task_completed_event_attributes
        lifecycle.complete(ms, a.result if a.HasField("result") else None, 0)
    elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        lifecycle.fail(ms, ev.activity_task_failed_event_attributes.failure, 0)
    elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        lifecycle.time_out(ms)
    else:
        c = ev.activity_task_canceled_event_attributes
        lifecycle.cancel(ms, c.details if c.HasField("details") else None, 0)


def terminated_failure(reason: str) -> Failure:
    f = Failure(message=reason or "Terminated", source="Server")
    f.terminated_failure_info.SetInParent()
    return f
