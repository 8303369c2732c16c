"""Child workflows and requests to other workflows: commands and their result events."""

from __future__ import annotations

from typing import Any

from temporalio.api.command.v1 import (
    RequestCancelExternalWorkflowExecutionCommandAttributes,
    SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    EventType,
    ParentClosePolicy,
    TaskQueueKind,
    WorkflowIdReusePolicy,
)
from temporalio.api.enums.v1 import WorkflowTaskFailedCause as Cause
from temporalio.api.history.v1 import (
    ChildWorkflowExecutionCanceledEventAttributes,
    ChildWorkflowExecutionCompletedEventAttributes,
    ChildWorkflowExecutionFailedEventAttributes,
    ChildWorkflowExecutionStartedEventAttributes,
    ChildWorkflowExecutionTerminatedEventAttributes,
    ChildWorkflowExecutionTimedOutEventAttributes,
    ExternalWorkflowExecutionCancelRequestedEventAttributes,
    ExternalWorkflowExecutionSignaledEventAttributes,
    HistoryEvent,
    RequestCancelExternalWorkflowExecutionFailedEventAttributes,
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
    SignalExternalWorkflowExecutionFailedEventAttributes,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
    StartChildWorkflowExecutionFailedEventAttributes,
    StartChildWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue

from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.state import (
    BUFFERED_ID,
    ChildInfo,
    ExternalInfo,
    MutableState,
    Transfer,
)

MAX_PENDING_CHILDREN = 2000
MAX_PENDING_SIGNALS = 2000
MAX_PENDING_CANCELS = 2000


def start_child(
    ms: MutableState,
    c: StartChildWorkflowExecutionCommandAttributes,
    wft_id: int,
    namespace_id: str,
    limit: int = MAX_PENDING_CHILDREN,
) -> None:
    if not c.workflow_id or not c.workflow_type.name:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
            "Required field WorkflowId or WorkflowType is not set on command.",
        )
    if len(ms.children) >= limit:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
            f"the number of pending child workflow executions, {len(ms.children)}, has reached "
            f"the per-workflow limit of {limit}",
        )
    namespace = c.namespace or ms.namespace
    attrs = StartChildWorkflowExecutionInitiatedEventAttributes(
        namespace=namespace,
        namespace_id=namespace_id,
        workflow_id=c.workflow_id,
        workflow_type=c.workflow_type,
        task_queue=TaskQueue(
            name=c.task_queue.name or ms.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
        ),
        input=c.input,
        workflow_execution_timeout=c.workflow_execution_timeout,
        workflow_run_timeout=c.workflow_run_timeout,
        workflow_task_timeout=c.workflow_task_timeout,
        parent_close_policy=c.parent_close_policy
        or ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
        control=c.control,
        workflow_task_completed_event_id=wft_id,
        workflow_id_reuse_policy=c.workflow_id_reuse_policy
        or WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
        cron_schedule=c.cron_schedule,
        header=c.header,
        memo=c.memo,
        search_attributes=c.search_attributes,
        priority=c.priority,
    )
    if c.HasField("retry_policy"):
        attrs.retry_policy.CopyFrom(c.retry_policy)
    ev = ms.add_event(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, attrs)
    ms.children[ev.event_id] = ChildInfo(
        initiated_event_id=ev.event_id,
        namespace=namespace,
        namespace_id=namespace_id,
        workflow_id=c.workflow_id,
        workflow_type=c.workflow_type.name,
        parent_close_policy=attrs.parent_close_policy,
    )
    ms.outbox.append(Transfer("start_child", ev.event_id))


def child_started(ms: MutableState, child: ChildInfo, run_id: str) -> None:
    child.run_id = run_id
    ev = ms.add_event(
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        ChildWorkflowExecutionStartedEventAttributes(
            namespace=child.namespace,
            namespace_id=child.namespace_id,
            initiated_event_id=child.initiated_event_id,
            workflow_execution=WorkflowExecution(workflow_id=child.workflow_id, run_id=run_id),
            workflow_type=WorkflowType(name=child.workflow_type),
        ),
        bufferable=True,
    )
    child.started_event_id = ev.event_id or BUFFERED_ID
    wt.schedule(ms)


def child_start_failed(ms: MutableState, child: ChildInfo, cause: int) -> None:
    del ms.children[child.initiated_event_id]
    ms.add_event(
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        StartChildWorkflowExecutionFailedEventAttributes(
            namespace=child.namespace,
            namespace_id=child.namespace_id,
            workflow_id=child.workflow_id,
            workflow_type=WorkflowType(name=child.workflow_type),
            cause=cause,  # type: ignore[arg-type]
            initiated_event_id=child.initiated_event_id,
        ),
        bufferable=True,
    )
    wt.schedule(ms)


def child_closed(ms: MutableState, child: ChildInfo, close: HistoryEvent) -> None:
    """Record how the child's chain of runs ended, from its close event."""
    del ms.children[child.initiated_event_id]
    common: dict[str, Any] = {
        "namespace": child.namespace,
        "namespace_id": child.namespace_id,
        "workflow_execution": WorkflowExecution(workflow_id=child.workflow_id, run_id=child.run_id),
        "workflow_type": WorkflowType(name=child.workflow_type),
        "initiated_event_id": child.initiated_event_id,
        "started_event_id": child.started_event_id,
    }
    t = close.event_type
    if t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        a = close.workflow_execution_completed_event_attributes
        ms.add_event(
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
            ChildWorkflowExecutionCompletedEventAttributes(result=a.result, **common),
            bufferable=True,
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        f = close.workflow_execution_failed_event_attributes
        ms.add_event(
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
            ChildWorkflowExecutionFailedEventAttributes(
                failure=f.failure, retry_state=f.retry_state, **common
            ),
            bufferable=True,
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        c = close.workflow_execution_canceled_event_attributes
        ms.add_event(
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
            ChildWorkflowExecutionCanceledEventAttributes(details=c.details, **common),
            bufferable=True,
        )
    elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        o = close.workflow_execution_timed_out_event_attributes
        ms.add_event(
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
            ChildWorkflowExecutionTimedOutEventAttributes(retry_state=o.retry_state, **common),
            bufferable=True,
        )
    else:
        ms.add_event(
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
            ChildWorkflowExecutionTerminatedEventAttributes(**common),
            bufferable=True,
        )
    wt.schedule(ms)


def signal_external(
    ms: MutableState,
    c: SignalExternalWorkflowExecutionCommandAttributes,
    wft_id: int,
    namespace_id: str,
    limit: int = MAX_PENDING_SIGNALS,
) -> None:
    if not c.execution.workflow_id or not c.signal_name:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "Required field WorkflowId or SignalName is not set on command.",
        )
    _check_pending(
        ms,
        "signal",
        limit,
        Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
        "signals to external workflows",
    )
    namespace = c.namespace or ms.namespace
    ev = ms.add_event(
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        SignalExternalWorkflowExecutionInitiatedEventAttributes(
            workflow_task_completed_event_id=wft_id,
            namespace=namespace,
            namespace_id=namespace_id,
            workflow_execution=c.execution,
            signal_name=c.signal_name,
            input=c.input,
            control=c.control,
            child_workflow_only=c.child_workflow_only,
            header=c.header,
        ),
    )
    _track(
        ms,
        ExternalInfo(
            ev.event_id,
            "signal",
            namespace,
            namespace_id,
            c.execution.workflow_id,
            c.execution.run_id,
            c.control,
        ),
    )


def cancel_external(
    ms: MutableState,
    c: RequestCancelExternalWorkflowExecutionCommandAttributes,
    wft_id: int,
    namespace_id: str,
    limit: int = MAX_PENDING_CANCELS,
) -> None:
    if not c.workflow_id:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "Required field WorkflowId is not set on command.",
        )
    _check_pending(
        ms,
        "cancel",
        limit,
        Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED,
        "requests to cancel external workflows",
    )
    namespace = c.namespace or ms.namespace
    ev = ms.add_event(
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
            workflow_task_completed_event_id=wft_id,
            namespace=namespace,
            namespace_id=namespace_id,
            workflow_execution=WorkflowExecution(workflow_id=c.workflow_id, run_id=c.run_id),
            control=c.control,
            child_workflow_only=c.child_workflow_only,
            reason=c.reason,
        ),
    )
    _track(
        ms,
        ExternalInfo(
            ev.event_id, "cancel", namespace, namespace_id, c.workflow_id, c.run_id, c.control
        ),
    )


def _check_pending(ms: MutableState, kind: str, limit: int, cause: int, what: str) -> None:
    pending = sum(1 for e in ms.externals.values() if e.kind == kind)
    if pending >= limit:
        raise BadCommand(
            cause,
            f"the number of pending {what}, {pending}, has reached the per-workflow limit "
            f"of {limit}",
        )


def _track(ms: MutableState, ext: ExternalInfo) -> None:
    """Remember the request until it is delivered, and queue its delivery."""
    ms.externals[ext.initiated_event_id] = ext
    ms.outbox.append(Transfer(f"{ext.kind}_external", ext.initiated_event_id))


def external_done(ms: MutableState, ext: ExternalInfo) -> None:
    del ms.externals[ext.initiated_event_id]
    # Named as the command named it (an empty run id stays empty).
    execution = WorkflowExecution(workflow_id=ext.workflow_id, run_id=ext.run_id)
    if ext.kind == "signal":
        ms.add_event(
            EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
            ExternalWorkflowExecutionSignaledEventAttributes(
                initiated_event_id=ext.initiated_event_id,
                namespace=ext.namespace,
                namespace_id=ext.namespace_id,
                workflow_execution=execution,
                control=ext.control,
            ),
            bufferable=True,
        )
    else:
        ms.add_event(
            EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
            ExternalWorkflowExecutionCancelRequestedEventAttributes(
                initiated_event_id=ext.initiated_event_id,
                namespace=ext.namespace,
                namespace_id=ext.namespace_id,
                workflow_execution=execution,
            ),
            bufferable=True,
        )
    wt.schedule(ms)


def external_failed(ms: MutableState, ext: ExternalInfo, cause: int) -> None:
    del ms.externals[ext.initiated_event_id]
    execution = WorkflowExecution(workflow_id=ext.workflow_id, run_id=ext.run_id)
    if ext.kind == "signal":
        ms.add_event(
            EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
            SignalExternalWorkflowExecutionFailedEventAttributes(
                cause=cause,  # type: ignore[arg-type]
                namespace=ext.namespace,
                namespace_id=ext.namespace_id,
                workflow_execution=execution,
                initiated_event_id=ext.initiated_event_id,
                control=ext.control,
            ),
            bufferable=True,
        )
    else:
        ms.add_event(
            EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
            RequestCancelExternalWorkflowExecutionFailedEventAttributes(
                cause=cause,  # type: ignore[arg-type]
                namespace=ext.namespace,
                namespace_id=ext.namespace_id,
                workflow_execution=execution,
                initiated_event_id=ext.initiated_event_id,
                control=ext.control,
            ),
            bufferable=True,
        )
    wt.schedule(ms)


def on_close(ms: MutableState) -> None:
    """A closing run applies its parent-close policies and, as a child, tells its parent."""
    targets = tuple(
        (c.namespace_id, c.workflow_id, c.run_id, c.parent_close_policy)
        for c in ms.children.values()
        if c.run_id and c.parent_close_policy != ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON
    )
    if targets:
        ms.outbox.append(Transfer("close_children", targets=targets))
    if ms.parent_key is not None and ms.new_run is None:
        ms.outbox.append(Transfer("notify_parent"))
