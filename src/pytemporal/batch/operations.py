"""What a batch does to one workflow: the same public call a client would make
(terminate, cancel, signal, delete, reset), on the owner of the workflow's shard:
this process's history, or the owner's internode listener (`scheduler/actions.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from google.protobuf.message import Message
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetType
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DeleteWorkflowExecutionResponse,
    RequestCancelWorkflowExecutionRequest,
    RequestCancelWorkflowExecutionResponse,
    ResetActivityRequest,
    ResetActivityResponse,
    ResetWorkflowExecutionRequest,
    ResetWorkflowExecutionResponse,
    SignalWorkflowExecutionRequest,
    SignalWorkflowExecutionResponse,
    TerminateWorkflowExecutionRequest,
    TerminateWorkflowExecutionResponse,
    UnpauseActivityRequest,
    UnpauseActivityResponse,
    UpdateActivityOptionsRequest,
    UpdateActivityOptionsResponse,
)

from pytemporal.batch.state import BatchState
from pytemporal.common.errors import InvalidArgument, NotFound, Unimplemented
from pytemporal.history.public import ActivityControl, Key, WorkflowLifecycle
from pytemporal.namespaces import NamespaceRegistry
from pytemporal.persistence.api import Store
from pytemporal.scheduler.actions import Actions, Owners

_NO_TASK = "unable to find any scheduled or completed task"
_ACTIVITY_OPERATIONS = frozenset(
    {
        "unpause_activities_operation",
        "reset_activities_operation",
        "update_activity_options_operation",
    }
)


class WorkflowDeleter(Protocol):
    """DeleteWorkflowExecution on this process's history: the shape of
    `history.public_admin.WorkflowAdmin.delete` (the apins helper's work)."""

    async def delete(self, key: Key) -> None: ...


class BatchTargets(Actions):
    def __init__(
        self,
        lifecycle: WorkflowLifecycle,
        owners: Owners,
        store: Store,
        namespaces: NamespaceRegistry,
        deleter: WorkflowDeleter | None = None,
        activities: ActivityControl | None = None,
    ) -> None:
        super().__init__(lifecycle, owners, store)
        self.namespaces = namespaces
        self.deleter = deleter
        self.activities = activities

    @property
    def can_delete(self) -> bool:
        return self.deleter is not None

    async def apply(self, st: BatchState, ex: WorkflowExecution) -> None:
        ns = self.namespaces.by_id(st.namespace_id)
        req = st.request
        # The same id on a replayed step: a retried signal or reset is recognised.
        request_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{st.job_id}/{ex.workflow_id}/{ex.run_id}")
        )
        op = st.operation
        if op == "termination_operation":
            t = req.termination_operation
            await self._on_run(
                st,
                ex,
                "TerminateWorkflowExecution",
                TerminateWorkflowExecutionRequest(
                    namespace=ns.name,
                    workflow_execution=ex,
                    reason=req.reason,
                    details=t.details if t.HasField("details") else None,
                    identity=t.identity,
                ),
                TerminateWorkflowExecutionResponse,
                self.lifecycle.terminate,
            )
        elif op == "cancellation_operation":
            await self._on_run(
                st,
                ex,
                "RequestCancelWorkflowExecution",
                RequestCancelWorkflowExecutionRequest(
                    namespace=ns.name,
                    workflow_execution=ex,
                    reason=req.reason,
                    identity=req.cancellation_operation.identity,
                    request_id=request_id,
                ),
                RequestCancelWorkflowExecutionResponse,
                self.lifecycle.request_cancel,
            )
        elif op == "signal_operation":
            s = req.signal_operation
            await self._on_run(
                st,
                ex,
                "SignalWorkflowExecution",
                SignalWorkflowExecutionRequest(
                    namespace=ns.name,
                    workflow_execution=ex,
                    signal_name=s.signal,
                    input=s.input if s.HasField("input") else None,
                    header=s.header if s.HasField("header") else None,
                    identity=s.identity,
                    request_id=request_id,
                ),
                SignalWorkflowExecutionResponse,
                self.lifecycle.signal,
            )
        elif op == "deletion_operation":
            await self._delete(st, ex)
        elif op == "reset_operation":
            await self._reset(st, ex, request_id)
        elif op in _ACTIVITY_OPERATIONS:
            await self._activities(st, ex)
        else:
            raise InvalidArgument(f"batch operation {op} is not supported")

    async def _on_run(
        self,
        st: BatchState,
        ex: WorkflowExecution,
        method: str,
        req: Message,
        response_type: type[Message],
        local: Callable[[Key, Any], Awaitable[object]],
    ) -> None:
        owner = self.owners.workflow_owner(st.namespace_id, ex.workflow_id)
        if owner is not None:
            await self._remote(owner, method, req, response_type)
            return
        run_id = ex.run_id
        if not run_id:
            current = await self.store.get_current_run(st.namespace_id, ex.workflow_id)
            if current is None:
                raise NotFound(f"workflow not found for ID: {ex.workflow_id}")
            run_id = current.run_id
        await local((st.namespace_id, ex.workflow_id, run_id), req)

    async def _activities(self, st: BatchState, ex: WorkflowExecution) -> None:
        """Unpause, reset or update the workflow's activities of a type, or all."""
        if self.activities is None:
            raise Unimplemented("activity control is not available on this server")
        ns = self.namespaces.by_id(st.namespace_id)
        spec = getattr(st.request, st.operation)
        which: dict[str, Any] = {"type": spec.type} if spec.WhichOneof("activity") == "type" else {}
        has_jitter = "jitter" in spec.DESCRIPTOR.fields_by_name and spec.HasField("jitter")
        jitter = spec.jitter if has_jitter else None
        req: Message
        if st.operation == "unpause_activities_operation":
            req = UnpauseActivityRequest(
                namespace=ns.name,
                execution=ex,
                identity=spec.identity,
                unpause_all=not which,
                reset_attempts=spec.reset_attempts,
                reset_heartbeat=spec.reset_heartbeat,
                jitter=jitter,
                **which,
            )
            await self._on_run(
                st,
                ex,
                "UnpauseActivity",
                req,
                UnpauseActivityResponse,
                self.activities.unpause_activity,
            )
        elif st.operation == "reset_activities_operation":
            req = ResetActivityRequest(
                namespace=ns.name,
                execution=ex,
                identity=spec.identity,
                match_all=not which,
                reset_heartbeat=spec.reset_heartbeat,
                keep_paused=spec.keep_paused,
                jitter=jitter,
                restore_original_options=spec.restore_original_options,
                **which,
            )
            await self._on_run(
                st,
                ex,
                "ResetActivity",
                req,
                ResetActivityResponse,
                self.activities.reset_activity,
            )
        else:
            req = UpdateActivityOptionsRequest(
                namespace=ns.name,
                execution=ex,
                identity=spec.identity,
                match_all=not which,
                activity_options=spec.activity_options
                if spec.HasField("activity_options")
                else None,
                update_mask=spec.update_mask if spec.HasField("update_mask") else None,
                restore_original=spec.restore_original,
                **which,
            )
            await self._on_run(
                st,
                ex,
                "UpdateActivityOptions",
                req,
                UpdateActivityOptionsResponse,
                self.activities.update_activity_options,
            )

    async def _delete(self, st: BatchState, ex: WorkflowExecution) -> None:
        if self.deleter is None:
            raise Unimplemented("DeleteWorkflowExecution is not available on this server")
        ns = self.namespaces.by_id(st.namespace_id)
        deleter = self.deleter
        req = DeleteWorkflowExecutionRequest(namespace=ns.name, workflow_execution=ex)

        async def delete(key: Key, _request: Any) -> None:
            await deleter.delete(key)

        await self._on_run(
            st, ex, "DeleteWorkflowExecution", req, DeleteWorkflowExecutionResponse, delete
        )

    async def _reset(self, st: BatchState, ex: WorkflowExecution, request_id: str) -> None:
        r = st.request.reset_operation
        ns = self.namespaces.by_id(st.namespace_id)
        run_id = ex.run_id
        if not run_id:
            current = await self.store.get_current_run(st.namespace_id, ex.workflow_id)
            if current is None:
                raise NotFound(f"workflow not found for ID: {ex.workflow_id}")
            run_id = current.run_id
        point = await self._reset_point(st.namespace_id, ex.workflow_id, run_id, r)
        req = ResetWorkflowExecutionRequest(
            namespace=ns.name,
            workflow_execution=WorkflowExecution(workflow_id=ex.workflow_id, run_id=run_id),
            reason=st.request.reason,
            workflow_task_finish_event_id=point,
            request_id=request_id,
            reset_reapply_type=r.options.reset_reapply_type or r.reset_reapply_type,
            reset_reapply_exclude_types=r.options.reset_reapply_exclude_types,
            identity=r.identity,
        )
        await self._on_run(
            st,
            WorkflowExecution(workflow_id=ex.workflow_id, run_id=run_id),
            "ResetWorkflowExecution",
            req,
            ResetWorkflowExecutionResponse,
            self.lifecycle.reset,
        )

    async def _reset_point(self, namespace_id: str, workflow_id: str, run_id: str, r: Any) -> int:
        """The event to reset to, as Temporal's batcher finds it: the first or last
        WorkflowTaskCompleted (else the first task's Scheduled + 1), or the id given."""
        target = r.options.WhichOneof("target")
        if target == "workflow_task_id":
            return int(r.options.workflow_task_id)
        last = target == "last_workflow_task" or (
            target is None and r.reset_type == ResetType.RESET_TYPE_LAST_WORKFLOW_TASK
        )
        if target is None and r.reset_type not in (
            ResetType.RESET_TYPE_FIRST_WORKFLOW_TASK,
            ResetType.RESET_TYPE_LAST_WORKFLOW_TASK,
        ):
            raise InvalidArgument("reset target is not supported by this server")
        point = 0
        for batch in await self.store.read_history(namespace_id, workflow_id, run_id, 1, None):
            for e in History.FromString(batch.data).events:
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                    point = e.event_id
                    if not last:
                        return point
                elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED and not point:
                    point = e.event_id + 1
        if not point:
            raise InvalidArgument(_NO_TASK)
        return point
