"""What Temporal's command checker refuses before a command is applied (pure).

A command of a type this server does not know is refused outright (the task stays
started, nothing is written). A command that lacks the attributes of its type, or
carries a negative / mixed-sign duration, fails the workflow task with the cause
Temporal uses (`BadCommand`); a huge duration is capped in place instead.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.command.v1 import Command
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause

from pytemporal.common.errors import InvalidArgument
from pytemporal.history.workflow import durations, retry
from pytemporal.history.workflow.activities import BadCommand

C = CommandType
Cause = WorkflowTaskFailedCause

# Each command type: its attributes field and the cause a missing or bad one gets.
ATTRIBUTES: dict[int, tuple[str, int]] = {
    C.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: (
        "schedule_activity_task_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: (
        "request_cancel_activity_task_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_START_TIMER: (
        "start_timer_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: (
        "complete_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: (
        "fail_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_CANCEL_TIMER: (
        "cancel_timer_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: (
        "cancel_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: (
        "request_cancel_external_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_RECORD_MARKER: (
        "record_marker_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: (
        "continue_as_new_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: (
        "start_child_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: (
        "signal_external_workflow_execution_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: (
        "upsert_workflow_search_attributes_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_PROTOCOL_MESSAGE: (
        "protocol_message_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
    ),
    C.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: (
        "modify_workflow_properties_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION: (
        "schedule_nexus_operation_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES,
    ),
    C.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION: (
        "request_cancel_nexus_operation_command_attributes",
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES,
    ),
}

# Temporal words these two differently from the rest.
_EMPTY_MESSAGE = {
    C.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION: "empty ScheduleNexusOperationCommandAttributes",
    C.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION: "empty CancelNexusOperationCommandAttributes",
}

_WORKFLOW_TIMEOUTS = ("workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout")


def _type_name(t: int) -> str:
    """Go's String() of a CommandType: COMMAND_TYPE_START_TIMER -> StartTimer."""
    name = C.Name(t)[len("COMMAND_TYPE_") :]  # type: ignore[arg-type]
    return "".join(p.capitalize() for p in name.split("_"))


def check_types(commands: list[Command]) -> None:
    """Refuse the whole completion if a command's type is unknown."""
    for cmd in commands:
        if cmd.command_type not in ATTRIBUTES:
            known = cmd.command_type in C.values()
            shown = _type_name(cmd.command_type) if known else str(cmd.command_type)
            raise InvalidArgument(f"unknown command type: {shown}")


def check(cmd: Command, namespace: str) -> None:
    """Attributes present and durations valid (capped in place); else BadCommand."""
    field, cause = ATTRIBUTES[cmd.command_type]
    if not cmd.HasField(field):  # type: ignore[arg-type]
        attrs_type = getattr(cmd, field).DESCRIPTOR.name
        message = _EMPTY_MESSAGE.get(
            cmd.command_type,
            f"{attrs_type} is not set on {attrs_type.removesuffix('Attributes')}.",
        )
        raise BadCommand(cause, message)
    t = cmd.command_type
    if t == C.COMMAND_TYPE_START_TIMER:
        a = cmd.start_timer_command_attributes
        found = durations.check_and_cap(a, "start_to_fire_timeout")
        if found is not None:
            raise BadCommand(
                cause,
                f"An invalid StartToFireTimeout is set on StartTimerCommand: {found}. "
                f"TimerId={a.timer_id}",
            )
    elif t == C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        can = cmd.continue_as_new_workflow_execution_command_attributes
        queue = can.task_queue.name
        where = (
            f"ContinueAsNewWorkflowExecutionCommand: {{}}. WorkflowType={can.workflow_type.name} "
            f'TaskQueue=name:"{queue}"  kind:TASK_QUEUE_KIND_NORMAL'
        )
        for f in ("workflow_run_timeout", "workflow_task_timeout", "backoff_start_interval"):
            found = durations.check_and_cap(can, f)
            if found is not None:
                raise BadCommand(cause, f"Invalid {durations.camel(f)} on " + where.format(found))
        _retry_policy(can, cause, where)
    elif t == C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        child = cmd.start_child_workflow_execution_command_attributes
        where = (
            "StartChildWorkflowExecutionCommand: {}. "
            f"WorkflowId={child.workflow_id} WorkflowType={child.workflow_type.name} "
            f"Namespace={child.namespace or namespace}"
        )
        for f in _WORKFLOW_TIMEOUTS:
            found = durations.check_and_cap(child, f)
            if found is not None:
                raise BadCommand(cause, f"Invalid {durations.camel(f)} on " + where.format(found))
        _retry_policy(child, cause, where)


def _retry_policy(attrs: Any, cause: int, where: str) -> None:
    if attrs.HasField("retry_policy"):
        try:
            retry.normalize(attrs.retry_policy)
        except InvalidArgument as e:
            raise BadCommand(
                cause, "invalid WorkflowRetryPolicy on " + where.format(e.message)
            ) from e
