"""StartWorkflowExecution and SignalWithStartWorkflowExecution."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from temporalio.api.common.v1 import Header, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import (
    TaskQueueKind,
    WorkflowExecutionStatus,
    WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy,
)
from temporalio.api.history.v1 import WorkflowExecutionStartedEventAttributes
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueResponse,
    SignalWithStartWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.errors import WorkflowAlreadyStarted
from pytemporal.common.ids import uuid7
from pytemporal.common.protoutil import dur, dur_seconds, ts
from pytemporal.history.api import workflow_tasks
from pytemporal.history.engine import Change, Entry, HistoryEngine
from pytemporal.history.workflow import cron, durations, lifecycle, retry, versioning
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import MutableState
from pytemporal.namespaces import Namespace
from pytemporal.persistence.api import CurrentMode, CurrentRun, CurrentUpdate

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
Conflict = WorkflowIdConflictPolicy
Reuse = WorkflowIdReusePolicy
_FAILED_LIKE = {
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
}
MAX_TASK_TIMEOUT = 120.0
DEFAULT_TASK_TIMEOUT = 10.0


@dataclass
class StartResult:
    run_id: str
    started: bool
    first_execution_run_id: str
    # Eager start: the run's first workflow task, already started for the caller.
    eager_task: PollWorkflowTaskQueueResponse | None = None


@dataclass
class ParentRef:
    namespace: str
    namespace_id: str
    execution: WorkflowExecution
    initiated_event_id: int
    root: WorkflowExecution


@dataclass
class SignalSpec:
    name: str
    input: Payloads | None
    header: Header | None
    identity: str
    request_id: str


AnyStart = StartWorkflowExecutionRequest | SignalWithStartWorkflowExecutionRequest


def started_attributes(
    req: AnyStart, run_id: str, now: float
) -> WorkflowExecutionStartedEventAttributes:
    exec_timeout = dur_seconds(req.workflow_execution_timeout)
    run_timeout = dur_seconds(req.workflow_run_timeout)
    if exec_timeout and (not run_timeout or run_timeout > exec_timeout):
        run_timeout = exec_timeout
    task_timeout = dur_seconds(req.workflow_task_timeout) or DEFAULT_TASK_TIMEOUT
    task_timeout = min(task_timeout, MAX_TASK_TIMEOUT)
    if run_timeout:
        task_timeout = min(task_timeout, run_timeout)
    attrs = WorkflowExecutionStartedEventAttributes(
        workflow_id=req.workflow_id,
        workflow_type=req.workflow_type,
        task_queue=TaskQueue(name=req.task_queue.name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        input=req.input,
        workflow_task_timeout=dur(task_timeout),
        identity=req.identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
        cron_schedule=req.cron_schedule,
        memo=req.memo,
        search_attributes=req.search_attributes,
        header=req.header,
        priority=req.priority,
    )
    # Temporal leaves an unset timeout unset (the SDK's `workflow.info()` then reports
    # None, not zero); the run timeout is the execution timeout when only that is set.
    if exec_timeout:
        attrs.workflow_execution_timeout.CopyFrom(req.workflow_execution_timeout)
    if run_timeout:
        attrs.workflow_run_timeout.CopyFrom(dur(run_timeout))
    if req.HasField("retry_policy"):
        attrs.retry_policy.CopyFrom(retry.normalize(req.retry_policy))
    if exec_timeout:
        # Whole milliseconds, rounded up: the run must not time out before the full
        # timeout has passed since its start event (rounding to nearest fired it early).
        expiration = math.ceil((now + exec_timeout) * 1000) / 1000
        attrs.workflow_execution_expiration_time.CopyFrom(ts(expiration))
    if req.HasField("workflow_start_delay"):
        attrs.first_workflow_task_backoff.CopyFrom(req.workflow_start_delay)
    if req.HasField("versioning_override"):
        attrs.versioning_override.CopyFrom(versioning.normalized_override(req.versioning_override))
    if isinstance(req, StartWorkflowExecutionRequest):
        attrs.completion_callbacks.extend(req.completion_callbacks)
        # Set by schedules: the previous action's result or failure.
        if req.HasField("last_completion_result"):
            attrs.last_completion_result.CopyFrom(req.last_completion_result)
        if req.HasField("continued_failure"):
            attrs.continued_failure.CopyFrom(req.continued_failure)
    return attrs


def policies(req: AnyStart, *, signal_with_start: bool) -> tuple[int, int]:
    conflict: int = req.workflow_id_conflict_policy
    reuse: int = req.workflow_id_reuse_policy
    if reuse == Reuse.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING:
        conflict, reuse = Conflict.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING, 0
    if not conflict:
        conflict = (
            Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
            if signal_with_start
            else Conflict.WORKFLOW_ID_CONFLICT_POLICY_FAIL
        )
    return conflict, reuse or Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE


async def start(
    engine: HistoryEngine,
    ns: Namespace,
    req: AnyStart,
    *,
    signal: SignalSpec | None = None,
    parent: ParentRef | None = None,
    on_new_run: Callable[[Entry], None] | None = None,
    first_task: Callable[[MutableState], object] = wt.schedule,
) -> StartResult:
    """Start a run under the id policies. `first_task` gives the new run its first piece
    of work (a workflow task; a standalone activity's run schedules its activity)."""
    # Also here, not only in the frontend: children and update-with-start come this way.
    durations.check_request(req)
    conflict, reuse = policies(req, signal_with_start=signal is not None)
    async with engine.workflow_id_lock(ns.id, req.workflow_id):
        current = await engine.store.get_current_run(ns.id, req.workflow_id)
        if current is not None:
            if current.create_request_id == req.request_id:
                retried = StartResult(current.run_id, True, current.first_execution_run_id)
                if _wants_eager(engine, req, signal, parent):
                    retried.eager_task = await _eager_again(
                        engine, (ns.id, req.workflow_id, current.run_id)
                    )
                return retried
            if current.status == RUNNING:
                return await _on_running(
                    engine, ns, req, current, conflict, signal, parent, on_new_run, first_task
                )
            _check_reuse(req.workflow_id, current, reuse)
        return await _create(engine, ns, req, current, signal, parent, on_new_run, None, first_task)


async def _on_running(
    engine: HistoryEngine,
    ns: Namespace,
    req: AnyStart,
    current: CurrentRun,
    conflict: int,
    signal: SignalSpec | None,
    parent: ParentRef | None,
    on_new_run: Callable[[Entry], None] | None,
    first_task: Callable[[MutableState], object],
) -> StartResult:
    key = (ns.id, req.workflow_id, current.run_id)
    if conflict == Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING:
        if signal is not None:
            async with engine.locked(key) as entry:
                if entry.ms.is_open:
                    _signal(entry, signal)
                    await engine.commit_one(entry)
                    return StartResult(current.run_id, False, current.first_execution_run_id)
            return await _create(
                engine, ns, req, current, signal, parent, on_new_run, None, first_task
            )
        return StartResult(current.run_id, False, current.first_execution_run_id)
    if conflict == Conflict.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING:
        async with engine.locked(key) as entry:
            return await _create(
                engine, ns, req, current, signal, parent, on_new_run, entry, first_task
            )
    raise WorkflowAlreadyStarted(
        f"Workflow execution is already running. WorkflowId: {req.workflow_id}, "
        f"RunId: {current.run_id}.",
        start_request_id=current.create_request_id,
        run_id=current.run_id,
        first_execution_run_id=current.first_execution_run_id,
    )


def _check_reuse(workflow_id: str, current: CurrentRun, reuse: int) -> None:
    if reuse == Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY:
        if current.status not in _FAILED_LIKE:
            raise WorkflowAlreadyStarted(
                "Workflow execution already finished successfully. "
                f"WorkflowId: {workflow_id}, RunId: {current.run_id}. "
                "Workflow Id reuse policy: allow duplicate workflow Id if last run failed.",
                start_request_id=current.create_request_id,
                run_id=current.run_id,
                first_execution_run_id=current.first_execution_run_id,
            )
    elif reuse == Reuse.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE:
        raise WorkflowAlreadyStarted(
            f"Workflow execution already finished. WorkflowId: {workflow_id}, "
            f"RunId: {current.run_id}. Workflow Id reuse policy: reject duplicate workflow Id.",
            start_request_id=current.create_request_id,
            run_id=current.run_id,
            first_execution_run_id=current.first_execution_run_id,
        )


def _signal(entry: Entry, s: SignalSpec) -> None:
    lifecycle.signal(entry.ms, s.name, s.input, s.identity, s.header, s.request_id)


async def _create(
    engine: HistoryEngine,
    ns: Namespace,
    req: AnyStart,
    current: CurrentRun | None,
    signal: SignalSpec | None,
    parent: ParentRef | None,
    on_new_run: Callable[[Entry], None] | None,
    terminate: Entry | None,
    first_task: Callable[[MutableState], object] = wt.schedule,
) -> StartResult:
    now = engine.clock.now()
    run_id = uuid7(now)
    attrs = started_attributes(req, run_id, now)
    if parent is not None:
        attrs.parent_workflow_namespace = parent.namespace
        attrs.parent_workflow_namespace_id = parent.namespace_id
        attrs.parent_workflow_execution.CopyFrom(parent.execution)
        attrs.parent_initiated_event_id = parent.initiated_event_id
        attrs.root_workflow_execution.CopyFrom(parent.root)
    delay = dur_seconds(req.workflow_start_delay)
    if req.cron_schedule:
        delay = cron.backoff(req.cron_schedule, now)
        attrs.first_workflow_task_backoff.CopyFrom(dur(delay))
    ms = lifecycle.new_run(
        namespace_id=ns.id,
        namespace=ns.name,
        run_id=run_id,
        request_id=req.request_id,
        attrs=attrs,
        now=now,
        start_delay=delay,
    )
    if req.HasField("user_metadata"):
        ms.new_events[0].user_metadata.CopyFrom(req.user_metadata)
    if signal is not None:
        lifecycle.signal(
            ms, signal.name, signal.input, signal.identity, signal.header, signal.request_id
        )
    else:
        first_task(ms)
    eager = not delay and first_task is wt.schedule and _wants_eager(engine, req, signal, parent)
    if eager:
        _start_eagerly(engine, ms, req.identity)
    changes: list[Change] = []
    if terminate is not None:
        lifecycle.terminate(
            terminate.ms,
            "TerminateIfRunning WorkflowIdReusePolicy",
            None,
            req.identity,
        )
        changes.append(Change(terminate))
    if current is None:
        cur = CurrentUpdate(CurrentMode.CREATE, req.request_id, RUNNING, run_id)
    else:
        cur = CurrentUpdate(CurrentMode.REPLACE, req.request_id, RUNNING, run_id, current.run_id)
    new_entry = engine.new_entry(ms)
    if on_new_run is not None:
        on_new_run(new_entry)
    changes.append(Change(new_entry, current=cur, created=True))
    await engine.commit(changes)
    result = StartResult(run_id, True, ms.first_execution_run_id)
    if eager:
        result.eager_task = await workflow_tasks.build_response(engine, new_entry, sticky=False)
    return result


def _wants_eager(
    engine: HistoryEngine, req: AnyStart, signal: SignalSpec | None, parent: ParentRef | None
) -> bool:
    """Temporal starts eagerly when the client asks and the dynamic config allows it,
    and not for a delayed start (nor for children and signal-with-start, which cannot
    ask)."""
    return (
        isinstance(req, StartWorkflowExecutionRequest)
        and req.request_eager_execution
        and engine.limits.eager_workflow_start
        and signal is None
        and parent is None
    )


def _start_eagerly(engine: HistoryEngine, ms: MutableState, identity: str) -> None:
    """Start the first workflow task in the start's own transaction: it goes to the
    caller (the worker beside it), not to matching."""
    workflow_tasks.start_task(engine.limits.workflow, ms, identity)
    ms.tasks = [t for t in ms.tasks if t.kind != "workflow"]


async def _eager_again(
    engine: HistoryEngine, key: tuple[str, str, str]
) -> PollWorkflowTaskQueueResponse | None:
    """A retried eager start gets the task again while it is still the eagerly started
    first one (as Temporal: started event 3, attempt 1); else the worker polls for it."""
    async with engine.locked(key) as entry:
        wft = entry.ms.wft
        if not entry.ms.is_open or wft is None or wft.started_event_id != 3 or wft.attempt != 1:
            return None
        return await workflow_tasks.build_response(engine, entry, sticky=False)
