"""Payload-size limits on commands, as Temporal's workflow-task handler applies them.

A command whose payload is over `limit.blobSize.error` (and over the warn limit, which
Temporal checks first) fails the workflow task and terminates the run: retrying the same
task could never succeed. Messages and causes are Temporal's
(`service/history/api/respondworkflowtaskcompleted/workflow_task_completed_handler.go`),
including its reuse of BadScheduleActivityAttributes for an oversized completion result.
"""

from __future__ import annotations

from temporalio.api.command.v1 import Command
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause

from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.limits import WorkflowLimits

C = CommandType
Cause = WorkflowTaskFailedCause


def _sized(cmd: Command) -> tuple[int, int, str] | None:
    """(payload size, cause, message) for the command's checked payload, if it has one."""
    t = cmd.command_type
    if t == C.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        size = cmd.schedule_activity_task_command_attributes.input.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            ("ScheduleActivityTaskCommandAttributes.Input exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        size = cmd.complete_workflow_execution_command_attributes.result.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            ("CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        size = cmd.fail_workflow_execution_command_attributes.failure.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
            ("FailWorkflowExecutionCommandAttributes.Failure exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_RECORD_MARKER:
        details = cmd.record_marker_command_attributes.details
        size = sum(len(k) + v.ByteSize() for k, v in details.items())
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
            ("RecordMarkerCommandAttributes.Details exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        size = cmd.continue_as_new_workflow_execution_command_attributes.input.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
            ("ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        size = cmd.start_child_workflow_execution_command_attributes.input.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
            ("StartChildWorkflowExecutionCommandAttributes. Input exceeds size limit."),
        )
    if t == C.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        size = cmd.signal_external_workflow_execution_command_attributes.input.ByteSize()
        return (
            size,
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            ("SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit."),
        )
    return None


def check(cmd: Command, limits: WorkflowLimits) -> None:
    """Raise a terminating BadCommand when the command's payload is over the limits."""
    found = _sized(cmd)
    if found is None:
        return
    size, cause, message = found
    if size > limits.blob_size_warn and size > limits.blob_size_error:
        raise BadCommand(cause, message, terminate=True)
