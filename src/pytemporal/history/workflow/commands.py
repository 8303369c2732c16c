"""Completing a workflow task: apply the worker's commands, one event each, in order."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.command.v1 import Command
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    WorkerVersioningMode,
    WorkflowTaskFailedCause,
)
from temporalio.api.history.v1 import (
    ActivityTaskCancelRequestedEventAttributes,
    HistoryEvent,
    MarkerRecordedEventAttributes,
    TimerCanceledEventAttributes,
    TimerStartedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes,
    WorkflowPropertiesModifiedEventAttributes,
    WorkflowTaskCompletedEventAttributes,
)
from temporalio.api.protocol.v1 import Message
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from pytemporal.common.protoutil import copy_present, dur_seconds
from pytemporal.history.workflow import (
    activities,
    children,
    command_checker,
    durations,
    lifecycle,
    reset_points,
    size_checks,
    updates,
    versioning,
)
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.limits import WorkflowLimits
from pytemporal.history.workflow.state import MutableState, TimerInfo

C = CommandType
DEFAULT_LIMITS = WorkflowLimits()
Cause = WorkflowTaskFailedCause

_CLOSE_COMMANDS = {
    C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
    C.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
    C.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
    C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
}


class InvalidCommandSequence(Exception):
    pass


class UnsupportedCommand(Exception):
    pass


@dataclass
class Outcome:
    new_wft: bool = False
    # A speculative task that changed nothing: no events were written.
    discarded: bool = False


def _camel(cause: int) -> str:
    # Temporal prints its enums CamelCase: UNHANDLED_COMMAND -> "UnhandledCommand".
    name = Cause.Name(cause)[len("WORKFLOW_TASK_FAILED_CAUSE_") :]  # type: ignore[arg-type]
    return "".join(p.capitalize() for p in name.split("_"))


def failure_message(cause: int, detail: str = "") -> str:
    return f"{_camel(cause)}: {detail}" if detail else _camel(cause)


def _name(command_type: int) -> str:
    # A type this build does not know is still named, by number (as Go prints it).
    return C.Name(command_type) if command_type in C.values() else str(command_type)  # type: ignore[arg-type]


def _build_id(req: RespondWorkflowTaskCompletedRequest) -> str:
    """The completing worker's build id, as Temporal reads it for reset points: the
    version stamp's, unless the worker runs versioned (a deployment)."""
    opts = req.deployment_options
    if opts.worker_versioning_mode == WorkerVersioningMode.WORKER_VERSIONING_MODE_VERSIONED:
        return opts.build_id
    if req.deployment.build_id:  # deprecated, still sent by older SDKs
        return req.deployment.build_id
    return req.worker_version_stamp.build_id


def check_sequence(commands: list[Command]) -> None:
    for i, cmd in enumerate(commands[:-1]):
        if cmd.command_type in _CLOSE_COMMANDS:
            names = [_name(c.command_type) for c in commands]
            raise InvalidCommandSequence(
                f"invalid command sequence: [{', '.join(names)}], command "
                f"{_name(cmd.command_type)} must be the last command."
            )
        del i


def complete(
    ms: MutableState,
    req: RespondWorkflowTaskCompletedRequest,
    limits: WorkflowLimits = DEFAULT_LIMITS,
) -> Outcome:
    """Apply a workflow-task completion. Raises BadCommand to fail the task instead."""
    wft = ms.wft
    assert wft is not None
    commands = list(req.commands)
    check_sequence(commands)
    command_checker.check_types(commands)
    messages = list(req.messages)
    if (
        wft.speculative
        and not commands
        and not req.force_create_new_workflow_task
        and not ms.buffered
        and updates.only_rejections(messages)
    ):
        for m in messages:
            updates.apply(ms, m, 0, ms.update_effects)
        ms.wft = None
        return Outcome(discarded=True)
    closing = bool(commands) and commands[-1].command_type in _CLOSE_COMMANDS
    if closing and ms.buffered:
        # New events arrived while the worker decided to close: it must see them first.
        raise BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, "")
    attrs = WorkflowTaskCompletedEventAttributes(
        scheduled_event_id=wft.scheduled_event_id,
        started_event_id=wft.started_event_id,
        identity=req.identity,
        binary_checksum=req.binary_checksum,
        worker_version=req.worker_version_stamp,
        sdk_metadata=req.sdk_metadata,
        metering_metadata=req.metering_metadata,
    )
    versioning.task_completed(ms, req.deployment_options, req.versioning_behavior, attrs)
    completed = ms.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, attrs)
    reset_points.record(ms, req.binary_checksum, _build_id(req), completed.event_id)
    ms.previous_started_event_id = wft.started_event_id
    ms.last_completed_wft_event_id = completed.event_id
    ms.wft_completed_count += 1
    ms.wft = None
    if req.HasField("sticky_attributes") and req.sticky_attributes.worker_task_queue.name:
        ms.sticky_queue = req.sticky_attributes.worker_task_queue.name
        # Temporal takes any value here; a negative one means the default, a huge one is capped.
        sticky = dur_seconds(req.sticky_attributes.schedule_to_start_timeout)
        ms.sticky_timeout = min(sticky, durations.MAX_SECONDS) if sticky > 0 else 10.0
    else:
        ms.sticky_queue = ""
    out = Outcome()
    by_id = {m.id: m for m in messages}
    ms.defer_schedule = True
    try:
        for cmd in commands:
            if not ms.is_open:
                break
            command_checker.check(cmd, ms.namespace)
            size_checks.check(cmd, limits)
            if cmd.command_type == C.COMMAND_TYPE_PROTOCOL_MESSAGE:
                _protocol_message(ms, cmd, by_id, completed.event_id)
                continue
            first = len(ms.new_events)
            if _apply(ms, cmd, completed.event_id, req.identity, limits):
                out.new_wft = True
            if cmd.HasField("user_metadata") and len(ms.new_events) > first:
                _set_user_metadata(ms, ms.new_events[first], cmd)
        for m in by_id.values():
            # Messages no command referred to are handled after all commands.
            if ms.is_open:
                updates.apply(ms, m, completed.event_id, ms.update_effects)
    finally:
        ms.defer_schedule = False
    if ms.is_open:
        flushed = ms.flush_buffer()
        if out.new_wft or flushed or req.force_create_new_workflow_task:
            wt.schedule(ms)
    return out


def _apply(
    ms: MutableState, cmd: Command, wft_id: int, identity: str, limits: WorkflowLimits
) -> bool:
    """Apply one command; True when it requires a new workflow task."""
    t = cmd.command_type
    if t == C.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        activities.schedule(
            ms, cmd.schedule_activity_task_command_attributes, wft_id, limits.pending_activities
        )
    elif t == C.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return _cancel_activity(ms, cmd, wft_id, identity)
    elif t == C.COMMAND_TYPE_START_TIMER:
        _start_timer(ms, cmd, wft_id)
    elif t == C.COMMAND_TYPE_CANCEL_TIMER:
        _cancel_timer(ms, cmd, wft_id, identity)
    elif t == C.COMMAND_TYPE_RECORD_MARKER:
        a = cmd.record_marker_command_attributes
        marker = MarkerRecordedEventAttributes(
            marker_name=a.marker_name, details=a.details, workflow_task_completed_event_id=wft_id
        )
        copy_present(marker, a, "header", "failure")
        ms.add_event(EventType.EVENT_TYPE_MARKER_RECORDED, marker)
    elif t == C.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        sa = cmd.upsert_workflow_search_attributes_command_attributes.search_attributes
        if limits.check_search_attribute is not None:
            problem = limits.check_search_attribute(list(sa.indexed_fields))
            if problem:
                raise BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, problem)
        ms.add_event(
            EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
            UpsertWorkflowSearchAttributesEventAttributes(
                workflow_task_completed_event_id=wft_id, search_attributes=sa
            ),
        )
        _merge(ms.started.search_attributes.indexed_fields, sa.indexed_fields)
    elif t == C.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
        memo = cmd.modify_workflow_properties_command_attributes.upserted_memo
        ms.add_event(
            EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
            WorkflowPropertiesModifiedEventAttributes(
                workflow_task_completed_event_id=wft_id, upserted_memo=memo
            ),
        )
        _merge(ms.started.memo.fields, memo.fields)
    elif t == C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        done = cmd.complete_workflow_execution_command_attributes
        lifecycle.complete(ms, done.result if done.HasField("result") else None, wft_id)
    elif t == C.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        lifecycle.fail(ms, cmd.fail_workflow_execution_command_attributes.failure, wft_id)
    elif t == C.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        a2 = cmd.cancel_workflow_execution_command_attributes
        lifecycle.cancel(ms, a2.details if a2.HasField("details") else None, wft_id)
    elif t == C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        lifecycle.continue_as_new(
            ms, cmd.continue_as_new_workflow_execution_command_attributes, wft_id
        )
    elif t == C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        c = cmd.start_child_workflow_execution_command_attributes
        children.start_child(ms, c, wft_id, _ns_id(ms, c.namespace), limits.pending_children)
    elif t == C.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        s = cmd.signal_external_workflow_execution_command_attributes
        children.signal_external(ms, s, wft_id, _ns_id(ms, s.namespace), limits.pending_signals)
    elif t == C.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        r = cmd.request_cancel_external_workflow_execution_command_attributes
        children.cancel_external(ms, r, wft_id, _ns_id(ms, r.namespace), limits.pending_cancels)
    else:
        raise UnsupportedCommand(f"command type {_name(t)} is not supported by this server yet")
    return False


def _set_user_metadata(ms: MutableState, ev: HistoryEvent, cmd: Command) -> None:
    # The command's summary/details go on the event the command produced (Temporal's
    # workflow_task_completed_handler.go copies them to the handler's one event).
    size = ev.ByteSize()
    ev.user_metadata.CopyFrom(cmd.user_metadata)
    ms.history_size_bytes += ev.ByteSize() - size


def _protocol_message(
    ms: MutableState, cmd: Command, by_id: dict[str, Message], wft_id: int
) -> None:
    msg_id = cmd.protocol_message_command_attributes.message_id
    msg = by_id.pop(msg_id, None)
    if msg is None:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
            f"ProtocolMessageCommand referenced absent message ID {msg_id}",
        )
    updates.apply(ms, msg, wft_id, ms.update_effects)


def _ns_id(ms: MutableState, namespace: str) -> str:
    # Another namespace's id is resolved when the request is delivered.
    return ms.namespace_id if namespace in ("", ms.namespace) else ""


def _merge(target: object, upserts: object) -> None:
    for k, v in upserts.items():  # type: ignore[attr-defined]
        # An empty / null payload deletes the key, as in Temporal.
        if v.data in (b"", b"null", b"[]"):
            target.pop(k, None)  # type: ignore[attr-defined]
        else:
            target[k].CopyFrom(v)  # type: ignore[index]


def _cancel_activity(ms: MutableState, cmd: Command, wft_id: int, identity: str) -> bool:
    sched_id = cmd.request_cancel_activity_task_command_attributes.scheduled_event_id
    ai = ms.activities.get(sched_id)
    if ai is None:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
            f"Unable to find activity with scheduled event id {sched_id}",
        )
    ev = ms.add_event(
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        ActivityTaskCancelRequestedEventAttributes(
            scheduled_event_id=sched_id, workflow_task_completed_event_id=wft_id
        ),
    )
    ai.cancel_requested = True
    ai.cancel_requested_event_id = ev.event_id
    if ai.started:
        return False
    # Never started: cancel right away and let the workflow see it in a new task.
    activities.cancel_done(ms, ai, None, identity)
    return True


def _start_timer(ms: MutableState, cmd: Command, wft_id: int) -> None:
    a = cmd.start_timer_command_attributes
    if not a.timer_id:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES, "TimerId is not set."
        )
    if a.timer_id in ms.timers:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
            f"invalid history builder state for action: add-timer-started-event, TimerId: {a.timer_id}",
        )
    # Zero is allowed, as in Temporal: the timer fires at once.
    seconds = dur_seconds(a.start_to_fire_timeout)
    ev = ms.add_event(
        EventType.EVENT_TYPE_TIMER_STARTED,
        TimerStartedEventAttributes(
            timer_id=a.timer_id,
            start_to_fire_timeout=a.start_to_fire_timeout,
            workflow_task_completed_event_id=wft_id,
        ),
    )
    ms.timers[a.timer_id] = TimerInfo(a.timer_id, ev.event_id, ms.now + seconds)


def _cancel_timer(ms: MutableState, cmd: Command, wft_id: int, identity: str) -> None:
    timer_id = cmd.cancel_timer_command_attributes.timer_id
    timer = ms.timers.pop(timer_id, None)
    started_id = timer.started_event_id if timer else 0
    if timer is None:
        # It may have fired while this task ran: drop the buffered TimerFired instead.
        for ev in ms.buffered:
            if (
                ev.event_type == EventType.EVENT_TYPE_TIMER_FIRED
                and ev.timer_fired_event_attributes.timer_id == timer_id
            ):
                started_id = ev.timer_fired_event_attributes.started_event_id
                ms.buffered.remove(ev)
                break
        else:
            raise BadCommand(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
                f"invalid history builder state for action: add-timer-canceled-event, TimerId: {timer_id}",
            )
    ms.add_event(
        EventType.EVENT_TYPE_TIMER_CANCELED,
        TimerCanceledEventAttributes(
            timer_id=timer_id,
            started_event_id=started_id,
            workflow_task_completed_event_id=wft_id,
            identity=identity,
        ),
    )
