"""What a schedule does to workflows: start them, cancel or terminate them, and read
how they ended. Each call goes to the owner of the workflow's shard: this process's
history when it owns it, else the owner's internode listener (the same public RPC a
forwarded client call would make)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import (
    PatchScheduleRequest,
    PatchScheduleResponse,
    RequestCancelWorkflowExecutionRequest,
    RequestCancelWorkflowExecutionResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    TerminateWorkflowExecutionRequest,
    TerminateWorkflowExecutionResponse,
)

from pytemporal.common.errors import (
    InvalidArgument,
    NotFound,
    ServiceError,
    Unavailable,
    WorkflowAlreadyStarted,
)
from pytemporal.history.public import Key, WorkflowLifecycle
from pytemporal.history.workflow.state import decode
from pytemporal.namespaces import Namespace
from pytemporal.persistence.api import Store
from pytemporal.scheduler.keys import WORKFLOW_ID_PREFIX

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
CALL_TIMEOUT = 10.0


class Owners(Protocol):
    """`rpc/redirector.Redirector`, as far as the scheduler needs it."""

    channels: Any

    def workflow_owner(self, namespace_id: str, workflow_id: str) -> str | None: ...


@dataclass(frozen=True)
class Closed:
    status: int
    result: Payloads | None = None
    failure: Failure | None = None


class Actions:
    def __init__(self, lifecycle: WorkflowLifecycle, owners: Owners, store: Store) -> None:
        self.lifecycle = lifecycle
        self.owners = owners
        self.store = store
        # Set by the server when metrics are on: hears (namespace, started) per start.
        self.on_start: Callable[[str, bool], None] | None = None

    async def start(self, ns: Namespace, req: StartWorkflowExecutionRequest) -> str:
        """Start the workflow; its run id. Raises WorkflowAlreadyStarted."""
        if self.on_start is None:
            return await self._start(ns, req)
        try:
            run_id = await self._start(ns, req)
        except Exception:
            self.on_start(ns.name, False)
            raise
        self.on_start(ns.name, True)
        return run_id

    async def _start(self, ns: Namespace, req: StartWorkflowExecutionRequest) -> str:
        owner = self.owners.workflow_owner(ns.id, req.workflow_id)
        if owner is None:
            return (await self.lifecycle.start(ns, req)).run_id
        resp = await self._remote(
            owner, "StartWorkflowExecution", req, StartWorkflowExecutionResponse
        )
        return str(resp.run_id)

    async def cancel(self, ns: Namespace, ex: WorkflowExecution, identity: str) -> None:
        req = RequestCancelWorkflowExecutionRequest(
            namespace=ns.name,
            workflow_execution=WorkflowExecution(workflow_id=ex.workflow_id),
            identity=identity,
            reason="cancelled by schedule overlap policy",
            first_execution_run_id=ex.run_id,
        )
        await self._on_current_run(
            ns,
            ex,
            "RequestCancelWorkflowExecution",
            req,
            RequestCancelWorkflowExecutionResponse,
            self.lifecycle.request_cancel,
        )

    async def terminate(self, ns: Namespace, ex: WorkflowExecution, identity: str) -> None:
        req = TerminateWorkflowExecutionRequest(
            namespace=ns.name,
            workflow_execution=WorkflowExecution(workflow_id=ex.workflow_id),
            identity=identity,
            reason="terminated by schedule overlap policy",
            first_execution_run_id=ex.run_id,
        )
        await self._on_current_run(
            ns,
            ex,
            "TerminateWorkflowExecution",
            req,
            TerminateWorkflowExecutionResponse,
            self.lifecycle.terminate,
        )

    async def _on_current_run(
        self,
        ns: Namespace,
        ex: WorkflowExecution,
        method: str,
        req: Any,
        response_type: type[Message],
        local: Callable[[Key, Any], Awaitable[object]],
    ) -> None:
        """Send `req` to the owner of the workflow, or apply it here to its current run
        (`first_execution_run_id` keeps it to the chain the schedule started)."""
        owner = self.owners.workflow_owner(ns.id, ex.workflow_id)
        if owner is not None:
            await self._remote(owner, method, req, response_type)
            return
        current = await self.store.get_current_run(ns.id, ex.workflow_id)
        if current is not None:
            await local((ns.id, ex.workflow_id, current.run_id), req)

    async def wake_schedule(self, ns: Namespace, schedule_id: str) -> None:
        """Have the owner of a schedule (another process) wake it: an empty patch."""
        owner = self.owners.workflow_owner(ns.id, WORKFLOW_ID_PREFIX + schedule_id)
        if owner is None:
            return
        req = PatchScheduleRequest(namespace=ns.name, schedule_id=schedule_id)
        req.patch.SetInParent()
        await self._remote(owner, "PatchSchedule", req, PatchScheduleResponse)

    async def closed(self, namespace_id: str, ex: WorkflowExecution) -> Closed | None:
        """How the chain that `ex` started ended; None while it runs. Read from the
        shared store, so it works whichever process owns the workflow."""
        current = await self.store.get_current_run(namespace_id, ex.workflow_id)
        if current is None:
            return Closed(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED)
        run_id = current.run_id
        if ex.run_id not in (current.run_id, current.first_execution_run_id):
            run_id = ex.run_id  # another chain took the id: ours is over
        elif current.status == RUNNING:
            return None
        row = await self.store.get_execution(namespace_id, ex.workflow_id, run_id)
        if row is None:
            return Closed(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED)
        ms = decode(row.state)
        if ms.status == RUNNING:
            return None
        result: Payloads | None = None
        failure: Failure | None = None
        if ms.close_event_id:
            batches = await self.store.read_history(
                namespace_id, ex.workflow_id, run_id, ms.close_event_id, ms.close_event_id
            )
            for batch in batches:
                for ev in History.FromString(batch.data).events:
                    if ev.event_id != ms.close_event_id:
                        continue
                    if ev.HasField("workflow_execution_completed_event_attributes"):
                        result = ev.workflow_execution_completed_event_attributes.result
                    elif ev.HasField("workflow_execution_failed_event_attributes"):
                        failure = ev.workflow_execution_failed_event_attributes.failure
        return Closed(ms.status, result, failure)

    async def _remote(self, address: str, method: str, req: Message, resp_type: Any) -> Any:
        channels = self.owners.channels
        rpc = channels.channel(address).unary_unary(
            SERVICE + method,
            request_serializer=type(req).SerializeToString,
            response_deserializer=resp_type.FromString,
        )
        try:
            return await rpc(req, timeout=CALL_TIMEOUT, metadata=channels.metadata)
        except grpc.aio.AioRpcError as e:
            raise _domain_error(e) from e


def _domain_error(e: grpc.aio.AioRpcError) -> ServiceError:
    code, message = e.code(), e.details() or ""
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return WorkflowAlreadyStarted(
            message, start_request_id="", run_id="", first_execution_run_id=""
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(message)
    return Unavailable(f"{code.name}: {message}")
