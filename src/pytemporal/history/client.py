"""How other roles reach history: a small Protocol, and its in-process implementation.

The process that owns a workflow's shard runs everything that changes the workflow.
A caller asks a `HistoryRoutes` (the redirector, `rpc/redirector.py`) for the
workflow's `HistoryClient`: `LocalHistoryClient` when this process owns it, or a
remote one (`rpc/remote.py`) that makes a typed internal call to the owner, whose
`LocalHistoryClient` then runs it. Domain errors come back as the same classes.

Only what has no public RPC is here: starting a polled task and the target side of
cross-workflow work. Public calls are forwarded whole (`frontend/routing.py`) and
reach history through the frontend's Protocols in `history/public.py`.
"""

from __future__ import annotations

from typing import Protocol

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import (
    HistoryEvent,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    StartWorkflowExecutionRequest,
)

from pytemporal.history import transfer_targets as targets
from pytemporal.history.api import activity_tasks, queries, workflow_tasks
from pytemporal.history.api.start import ParentRef
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.matching.queues import TaskRef
from pytemporal.namespaces import NamespaceRegistry


class HistoryClient(Protocol):
    async def record_workflow_task_started(
        self, ref: TaskRef, request: PollWorkflowTaskQueueRequest
    ) -> PollWorkflowTaskQueueResponse | None:
        """Start a polled workflow task or direct query; None if it went stale."""
        ...

    async def record_activity_task_started(
        self, ref: TaskRef, request: PollActivityTaskQueueRequest
    ) -> PollActivityTaskQueueResponse | None:
        """Start a polled activity task; None if it went stale."""
        ...

    async def start_child(
        self, namespace: str, request: StartWorkflowExecutionRequest, parent: ParentRef
    ) -> str:
        """Start a child workflow (raises WorkflowAlreadyStarted); its run id."""
        ...

    async def notify_parent(
        self,
        parent: Key,
        initiated_event_id: int,
        first_execution_run_id: str,
        close: HistoryEvent,
    ) -> None:
        """Record a child's close event on its parent."""
        ...

    async def close_child(self, child: Key, policy: int, parent: WorkflowExecution) -> None:
        """Apply a closing parent's policy (ParentClosePolicy) to one child."""
        ...

    async def signal_external(
        self,
        target: Key,
        source: WorkflowExecution,
        request_id: str,
        attributes: SignalExternalWorkflowExecutionInitiatedEventAttributes,
    ) -> bool:
        """Deliver a workflow's signal to another one; False if the target is closed
        or gone."""
        ...

    async def cancel_external(
        self, target: Key, source: WorkflowExecution, initiated_event_id: int, reason: str
    ) -> bool:
        """Deliver a workflow's cancel request to another one; False if the target is
        gone."""
        ...


class HistoryRoutes(Protocol):
    def history(self, namespace_id: str, workflow_id: str) -> HistoryClient:
        """The client of the process owning the workflow; raises `Unavailable` while
        its shard has no owner."""
        ...


class LocalHistoryClient:
    """History in this process: plain calls into `history.api` and the engine."""

    def __init__(self, engine: HistoryEngine, namespaces: NamespaceRegistry) -> None:
        self.engine = engine
        self.namespaces = namespaces

    async def record_workflow_task_started(
        self, ref: TaskRef, request: PollWorkflowTaskQueueRequest
    ) -> PollWorkflowTaskQueueResponse | None:
        if ref.kind == "query":
            return await queries.record_started(self.engine, ref, request)
        return await workflow_tasks.record_started(self.engine, ref, request)

    async def record_activity_task_started(
        self, ref: TaskRef, request: PollActivityTaskQueueRequest
    ) -> PollActivityTaskQueueResponse | None:
        return await activity_tasks.record_started(self.engine, ref, request)

    async def start_child(
        self, namespace: str, request: StartWorkflowExecutionRequest, parent: ParentRef
    ) -> str:
        return await targets.start_child(self.engine, self.namespaces, namespace, request, parent)

    async def notify_parent(
        self,
        parent: Key,
        initiated_event_id: int,
        first_execution_run_id: str,
        close: HistoryEvent,
    ) -> None:
        await targets.notify_parent(
            self.engine, parent, initiated_event_id, first_execution_run_id, close
        )

    async def close_child(self, child: Key, policy: int, parent: WorkflowExecution) -> None:
        await targets.close_child(self.engine, child, policy, parent)

    async def signal_external(
        self,
        target: Key,
        source: WorkflowExecution,
        request_id: str,
        attributes: SignalExternalWorkflowExecutionInitiatedEventAttributes,
    ) -> bool:
        return await targets.signal(self.engine, target, source, request_id, attributes)

    async def cancel_external(
        self, target: Key, source: WorkflowExecution, initiated_event_id: int, reason: str
    ) -> bool:
        return await targets.cancel(self.engine, target, source, initiated_event_id, reason)
