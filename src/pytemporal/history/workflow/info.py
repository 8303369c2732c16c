"""A run as the list and describe RPCs show it: a pure view of its mutable state."""

from __future__ import annotations

from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.workflow.v1 import WorkflowExecutionInfo

from pytemporal.common.protoutil import dur, ts
from pytemporal.history.workflow.state import MutableState


def execution_info(ms: MutableState) -> WorkflowExecutionInfo:
    """The run as DescribeWorkflowExecution and ListWorkflowExecutions show it."""
    s = ms.started
    info = WorkflowExecutionInfo(
        execution=WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id),
        type=WorkflowType(name=ms.workflow_type),
        start_time=ts(ms.start_time),
        status=ms.status,  # type: ignore[arg-type]
        history_length=ms.next_event_id - 1,
        execution_time=ts(ms.execution_time),
        memo=s.memo,
        search_attributes=s.search_attributes,
        task_queue=ms.task_queue,
        history_size_bytes=ms.history_size_bytes,
        first_run_id=ms.first_execution_run_id,
        state_transition_count=ms.db_version,
    )
    if s.HasField("parent_workflow_execution"):
        info.parent_namespace_id = s.parent_workflow_namespace_id
        info.parent_execution.CopyFrom(s.parent_workflow_execution)
    if s.HasField("root_workflow_execution"):
        info.root_execution.CopyFrom(s.root_workflow_execution)
    else:
        info.root_execution.CopyFrom(info.execution)
    if s.HasField("priority"):
        info.priority.CopyFrom(s.priority)
    if ms.close_time:
        info.close_time.CopyFrom(ts(ms.close_time))
        info.execution_duration.CopyFrom(dur(max(0.0, ms.close_time - ms.execution_time)))
    return info
