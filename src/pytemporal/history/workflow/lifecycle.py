"""Run-level transitions: start, signal, cancel request, close (pure)."""

from __future__ import annotations

from typing import Any

from temporalio.api.command.v1 import ContinueAsNewWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import Header, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    RetryState,
    TimeoutType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure, TimeoutFailureInfo
from temporalio.api.history.v1 import (
    WorkflowExecutionCanceledEventAttributes,
    WorkflowExecutionCancelRequestedEventAttributes,
    WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionContinuedAsNewEventAttributes,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionTerminatedEventAttributes,
    WorkflowExecutionTimedOutEventAttributes,
)

from pytemporal.common.protoutil import dur_seconds, ts_seconds
from pytemporal.history.workflow import chain, children, versioning
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import MutableState

S = WorkflowExecutionStatus


def new_run(
    *,
    namespace_id: str,
    namespace: str,
    run_id: str,
    request_id: str,
    attrs: WorkflowExecutionStartedEventAttributes,
    now: float,
    start_delay: float = 0.0,
) -> MutableState:
    """A new run with its Started event (and first workflow task, unless delayed)."""
    run_timeout = dur_seconds(attrs.workflow_run_timeout)
    exec_timeout = dur_seconds(attrs.workflow_execution_timeout)
    ms = MutableState(
        namespace_id=namespace_id,
        namespace=namespace,
        workflow_id=attrs.workflow_id,
        run_id=run_id,
        first_execution_run_id=attrs.first_execution_run_id or run_id,
        workflow_type=attrs.workflow_type.name,
        task_queue=attrs.task_queue.name,
        start_request_id=request_id,
        start_time=now,
        execution_time=now + start_delay,
        started=attrs,
        run_timeout=run_timeout,
        execution_timeout=exec_timeout,
        task_timeout=dur_seconds(attrs.workflow_task_timeout),
        run_expiration=(now + start_delay + run_timeout) if run_timeout else 0.0,
        execution_expiration=ts_seconds(attrs.workflow_execution_expiration_time)
        if attrs.HasField("workflow_execution_expiration_time")
        else 0.0,
    )
    if ms.execution_expiration and (
        not ms.run_expiration or ms.execution_expiration < ms.run_expiration
    ):
        ms.run_expiration = ms.execution_expiration
    versioning.seed_options(ms)
    ms.begin(now)
    ms.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, attrs)
    if start_delay > 0:
        ms.first_wft_backoff_until = now + start_delay
    return ms


def signal(
    ms: MutableState,
    name: str,
    input: Payloads | None,
    identity: str,
    header: Header | None,
    request_id: str,
    external: WorkflowExecution | None = None,
) -> None:
    attrs = WorkflowExecutionSignaledEventAttributes(
        signal_name=name, identity=identity, request_id=request_id
    )
    if input is not None:
        attrs.input.CopyFrom(input)
    if header is not None:
        attrs.header.CopyFrom(header)
    if external is not None:
        attrs.external_workflow_execution.CopyFrom(external)
    if request_id:
        ms.signal_request_ids.add(request_id)
    ms.signal_count += 1
    ms.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, attrs, bufferable=True)
    wt.schedule(ms)


def request_cancel(
    ms: MutableState,
    reason: str,
    identity: str,
    *,
    external: WorkflowExecution | None = None,
    external_initiated_event_id: int = 0,
) -> None:
    ms.cancel_requested = True
    attrs = WorkflowExecutionCancelRequestedEventAttributes(
        cause=reason, identity=identity, external_initiated_event_id=external_initiated_event_id
    )
    if external is not None:
        attrs.external_workflow_execution.CopyFrom(external)
    ms.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, attrs, bufferable=True)
    wt.schedule(ms)


def _close(ms: MutableState, status: int, event_type: EventType.ValueType, attrs: Any) -> None:
    """Write the close event; the next run of the chain (if any) is `ms.new_run`."""
    if ms.new_run is not None:
        attrs.new_execution_run_id = ms.new_run.run_id
    ev = ms.add_event(event_type, attrs)
    ms.status = status
    ms.close_time = ms.now
    ms.close_event_id = ev.event_id
    ms.wft = None
    ms.sticky_queue = ""
    children.on_close(ms)


def _force_close_wft(ms: MutableState) -> None:
    """An external close ends any in-flight workflow task first."""
    if ms.wft is not None and ms.wft.started_event_id:
        wt.fail(
            ms,
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
            None,
            reschedule=False,
        )
    else:
        ms.flush_buffer()


def complete(ms: MutableState, result: Payloads | None, wft_completed_id: int) -> None:
    ms.new_run = chain.cron_run(ms, result=result)
    attrs = WorkflowExecutionCompletedEventAttributes(
        workflow_task_completed_event_id=wft_completed_id
    )
    if result is not None:
        attrs.result.CopyFrom(result)
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        attrs,
    )


def fail(ms: MutableState, failure: Failure, wft_completed_id: int) -> None:
    state, ms.new_run = chain.retry_run(ms, failure)
    if ms.new_run is None:
        ms.new_run = chain.cron_run(ms, failure=failure)
    attrs = WorkflowExecutionFailedEventAttributes(
        failure=failure,
        retry_state=state,  # type: ignore[arg-type]
        workflow_task_completed_event_id=wft_completed_id,
    )
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        attrs,
    )


def cancel(ms: MutableState, details: Payloads | None, wft_completed_id: int) -> None:
    attrs = WorkflowExecutionCanceledEventAttributes(
        workflow_task_completed_event_id=wft_completed_id
    )
    if details is not None:
        attrs.details.CopyFrom(details)
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        attrs,
    )


def continue_as_new(
    ms: MutableState, c: ContinueAsNewWorkflowExecutionCommandAttributes, wft_completed_id: int
) -> None:
    ms.new_run = chain.continue_as_new(ms, c)
    new = ms.new_run.started
    attrs = WorkflowExecutionContinuedAsNewEventAttributes(
        workflow_type=new.workflow_type,
        task_queue=new.task_queue,
        input=new.input,
        workflow_run_timeout=new.workflow_run_timeout,
        workflow_task_timeout=new.workflow_task_timeout,
        workflow_task_completed_event_id=wft_completed_id,
        # As the command gave it (SDKs leave it unspecified); the new run says WORKFLOW.
        initiator=c.initiator,
        header=new.header,
        memo=new.memo,
        search_attributes=new.search_attributes,
    )
    # The event keeps the command's backoff, as Temporal's; the new run's first task
    # may wait longer (`chain.MIN_RUN_SPACING`), which its started event records.
    if c.HasField("backoff_start_interval"):
        attrs.backoff_start_interval.CopyFrom(c.backoff_start_interval)
    if c.HasField("failure"):
        attrs.failure.CopyFrom(c.failure)
    if c.HasField("last_completion_result"):
        attrs.last_completion_result.CopyFrom(c.last_completion_result)
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        attrs,
    )


def terminate(ms: MutableState, reason: str, details: Payloads | None, identity: str) -> None:
    _force_close_wft(ms)
    attrs = WorkflowExecutionTerminatedEventAttributes(reason=reason, identity=identity)
    if details is not None:
        attrs.details.CopyFrom(details)
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        attrs,
    )


def time_out(ms: MutableState) -> None:
    """The run timed out; a retry policy or cron schedule may start the next run."""
    _force_close_wft(ms)
    state: int = RetryState.RETRY_STATE_TIMEOUT
    # The expiration is stored at millisecond precision.
    if not ms.execution_expiration or ms.now < ms.execution_expiration - 0.001:
        failure = Failure(
            message="workflow timeout",
            source="Server",
            timeout_failure_info=TimeoutFailureInfo(
                timeout_type=TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
            ),
        )
        state, ms.new_run = chain.retry_run(ms, failure)
        if ms.new_run is None:
            ms.new_run = chain.cron_run(ms)
    attrs = WorkflowExecutionTimedOutEventAttributes(retry_state=state)  # type: ignore[arg-type]
    _close(
        ms,
        S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        attrs,
    )
