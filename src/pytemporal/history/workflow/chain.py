"""The next run of a workflow id's chain: continue-as-new, workflow retry and cron.

All three close the current run and create the next one in the same transaction; the
close event names the new run (`new_execution_run_id`) so clients can follow it.
"""

from __future__ import annotations

import uuid

from temporalio.api.command.v1 import ContinueAsNewWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import ContinueAsNewInitiator, RetryState
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import WorkflowExecutionStartedEventAttributes
from temporalio.api.taskqueue.v1 import TaskQueue

from pytemporal.common.ids import uuid7
from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.workflow import cron, retry, versioning
from pytemporal.history.workflow.state import MutableState

# Every new run in a chain starts at least this long after its predecessor, as in
# Temporal, so a hot continue-as-new loop cannot spin. The server may lower it.
MIN_RUN_SPACING = 1.0


def next_run(
    ms: MutableState,
    *,
    initiator: int,
    attempt: int,
    backoff: float,
    failure: Failure | None = None,
    last_completion_result: Payloads | None = None,
    overrides: ContinueAsNewWorkflowExecutionCommandAttributes | None = None,
) -> MutableState:
    from pytemporal.history.workflow import lifecycle, workflow_task

    prev = ms.started
    run_id = uuid7(ms.now)
    backoff = max(backoff, ms.execution_time + MIN_RUN_SPACING - ms.now, 0.0)
    attrs = WorkflowExecutionStartedEventAttributes()
    attrs.CopyFrom(prev)
    for f in ("continued_failure", "last_completion_result", "first_workflow_task_backoff"):
        attrs.ClearField(f)  # type: ignore[arg-type]
    attrs.continued_execution_run_id = ms.run_id
    # The next run starts from these (`reset_points.roll_over`), as in Temporal.
    attrs.ClearField("prev_auto_reset_points")
    if ms.auto_reset_points:
        attrs.prev_auto_reset_points.ParseFromString(ms.auto_reset_points)
    attrs.original_execution_run_id = run_id
    attrs.first_execution_run_id = ms.first_execution_run_id
    attrs.initiator = initiator  # type: ignore[assignment]
    attrs.attempt = attempt
    attrs.identity = ""
    if failure is not None:
        attrs.continued_failure.CopyFrom(failure)
    if last_completion_result is not None:
        attrs.last_completion_result.CopyFrom(last_completion_result)
    if overrides is not None:
        _apply_overrides(attrs, overrides)
    initial = overrides.initial_versioning_behavior if overrides is not None else 0
    new_versioning = versioning.continue_as_new(ms, attrs, initial)
    if backoff > 0:
        attrs.first_workflow_task_backoff.CopyFrom(dur(backoff))
    new = lifecycle.new_run(
        namespace_id=ms.namespace_id,
        namespace=ms.namespace,
        run_id=run_id,
        request_id=str(uuid.uuid4()),
        attrs=attrs,
        now=ms.now,
        start_delay=backoff,
    )
    new.versioning = new_versioning
    if backoff <= 0:
        workflow_task.schedule(new)
    return new


def _apply_overrides(
    attrs: WorkflowExecutionStartedEventAttributes,
    c: ContinueAsNewWorkflowExecutionCommandAttributes,
) -> None:
    if c.workflow_type.name:
        attrs.workflow_type.CopyFrom(c.workflow_type)
    if c.task_queue.name:
        attrs.task_queue.CopyFrom(TaskQueue(name=c.task_queue.name, kind=1))  # type: ignore[arg-type]
    attrs.input.CopyFrom(c.input)
    # The run timeout comes from the command only; 0 means none (capped by the
    # execution expiration the chain inherits).
    attrs.workflow_run_timeout.CopyFrom(c.workflow_run_timeout)
    if dur_seconds(c.workflow_task_timeout):
        attrs.workflow_task_timeout.CopyFrom(c.workflow_task_timeout)
    attrs.header.CopyFrom(c.header)
    attrs.memo.CopyFrom(c.memo)
    attrs.search_attributes.CopyFrom(c.search_attributes)
    if c.HasField("retry_policy"):
        attrs.retry_policy.CopyFrom(retry.normalize(c.retry_policy))
    if c.cron_schedule:
        attrs.cron_schedule = c.cron_schedule


def continue_as_new(
    ms: MutableState, c: ContinueAsNewWorkflowExecutionCommandAttributes
) -> MutableState:
    initiator = c.initiator or ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW
    attempt = (
        ms.started.attempt + 1
        if initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
        else 1
    )
    return next_run(
        ms,
        initiator=initiator,
        attempt=attempt,
        backoff=dur_seconds(c.backoff_start_interval),
        failure=c.failure if c.HasField("failure") else None,
        last_completion_result=c.last_completion_result
        if c.HasField("last_completion_result")
        else None,
        overrides=c,
    )


def retry_run(ms: MutableState, failure: Failure) -> tuple[int, MutableState | None]:
    """The next attempt under the workflow's retry policy, if it allows one."""
    if not ms.started.HasField("retry_policy"):
        return RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET, None
    state, delay = retry.next_delay(
        ms.started.retry_policy,
        ms.started.attempt,
        failure,
        now=ms.now,
        expiration=ms.execution_expiration,
    )
    if state != RetryState.RETRY_STATE_IN_PROGRESS:
        return state, None
    prev = ms.started
    new = next_run(
        ms,
        initiator=ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
        attempt=prev.attempt + 1,
        backoff=delay,
        failure=failure,
        last_completion_result=prev.last_completion_result
        if prev.HasField("last_completion_result")
        else None,
    )
    return state, new


def cron_run(
    ms: MutableState, *, result: Payloads | None = None, failure: Failure | None = None
) -> MutableState | None:
    spec = ms.started.cron_schedule
    if not spec:
        return None
    if result is None and ms.started.HasField("last_completion_result"):
        result = ms.started.last_completion_result
    return next_run(
        ms,
        initiator=ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
        attempt=1,
        backoff=cron.backoff(spec, ms.now),
        failure=failure,
        last_completion_result=result,
    )
