"""WorkflowService: validate, resolve the namespace, forward to history or matching.

It sees the other roles only through Protocols, injected by `server.py`: history's
public side (`history/public.py`), `HistoryRoutes` for starting a polled task on the
workflow's owner, matching's `TaskQueuePolls`, and two reads of the store (the
current-run pointer, visibility).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import grpc
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus, WorkflowIdConflictPolicy
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr
from temporalio.api.workflowservice.v1 import service_pb2_grpc

from pytemporal.batch.runner import Batcher
from pytemporal.common.errors import InvalidArgument, NotFound, Unavailable, Unimplemented
from pytemporal.frontend import system, validation, visibility_service
from pytemporal.frontend.activity_execution_rpcs import ActivityExecutionRPCs
from pytemporal.frontend.activity_rpcs import ActivityRpcs
from pytemporal.frontend.admin_rpcs import WorkflowAdminRpcs
from pytemporal.frontend.batch_rpcs import BatchRpcs
from pytemporal.frontend.cluster_rpcs import ClusterInfoRpcs
from pytemporal.frontend.deployment_rpcs import DeploymentRpcs
from pytemporal.frontend.errors import handled
from pytemporal.frontend.namespace_rpcs import NamespaceRpcs, require_registered
from pytemporal.frontend.schedule_service import ScheduleService
from pytemporal.frontend.task_queue_rpcs import TaskQueueRpcs, poller_of
from pytemporal.frontend.visibility_service import VisibilityStore
from pytemporal.frontend.worker_polls import WorkerPolls
from pytemporal.frontend.worker_rpcs import WorkerRpcs
from pytemporal.history.client import HistoryRoutes
from pytemporal.history.public import (
    ActivityById,
    ActivityControl,
    ActivityRef,
    HeartbeatReply,
    Key,
    WorkerTasks,
    WorkflowLifecycle,
    WorkflowReads,
)
from pytemporal.history.public_admin import WorkflowAdmin
from pytemporal.matching.client import TaskQueuePolls
from pytemporal.matching.queues import TaskRef
from pytemporal.matching.workers import WorkerRegistry
from pytemporal.namespaces import DELETED, Namespace, NamespaceRegistry
from pytemporal.persistence.api import CurrentRun

POLL_TIMEOUT = 60.0
DEFAULT_QUERY_TIMEOUT = 60.0
Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


@dataclass(frozen=True)
class FrontendLimits:
    """The dynamic-config limits the frontend applies itself: payload size, and the
    cap on a long poll's wait."""

    blob_size: int
    history_long_poll: float
    cancel_polls_on_shutdown: bool = True


class RunLookup(Protocol):
    """The current-run pointer, for a request that names a workflow but no run."""

    async def get_current_run(self, namespace_id: str, workflow_id: str) -> CurrentRun | None: ...


def _poll_budget(context: Ctx) -> float:
    """How long a task poll may wait: the caller's deadline less the time to start a
    task it is handed (Temporal's `returnEmptyTaskTimeBudget`, 1 s; half of a short
    deadline), so that a started task's reply is not lost to the caller's deadline."""
    left: float | None = context.time_remaining()
    if left is None:
        return POLL_TIMEOUT
    return max(0.0, min(POLL_TIMEOUT, left - min(1.0, left * 0.5)))


def _remaining(context: Ctx, cap: float) -> float:
    left: float | None = context.time_remaining()
    if left is None:
        return cap
    # Answer a little before the caller's deadline, so it gets our reply and not its own.
    return max(0.0, min(cap, left - min(1.0, left * 0.05)))


# The generated base answers UNIMPLEMENTED for every RPC we do not override; its stubs
# type the methods as synchronous, so mypy sees it as Any.
_Base: Any = service_pb2_grpc.WorkflowServiceServicer


class WorkflowService(
    ActivityExecutionRPCs,
    WorkflowAdminRpcs,
    NamespaceRpcs,
    ClusterInfoRpcs,
    ActivityRpcs,
    BatchRpcs,
    TaskQueueRpcs,
    WorkerRpcs,
    DeploymentRpcs,
    _Base,
):
    def __init__(
        self,
        namespaces: NamespaceRegistry,
        *,
        lifecycle: WorkflowLifecycle,
        reads: WorkflowReads,
        tasks: WorkerTasks,
        routes: HistoryRoutes,
        matching: TaskQueuePolls,
        runs: RunLookup,
        visibility: VisibilityStore,
        limits: FrontendLimits,
        schedules: ScheduleService | None = None,
        admin: WorkflowAdmin | None = None,
        activities: ActivityControl | None = None,
        workers: WorkerRegistry | None = None,
        batcher: Batcher | None = None,
    ) -> None:
        self.namespaces = namespaces
        # The public calls run in this process: in a cluster, `routing.py` has already
        # forwarded a call for another process's workflow or queue to its owner.
        self.lifecycle = lifecycle
        self.reads = reads
        self.tasks = tasks
        # A polled task is started on its workflow's owner, here or remotely.
        self.routes = routes
        self.matching = matching
        self.worker_polls = WorkerPolls()
        self.runs = runs
        self.visibility = visibility
        self.limits = limits
        self.schedules = schedules
        self.admin = admin
        self.activities = activities
        self.workers = workers or WorkerRegistry()
        self.batcher = batcher

    @property
    def blob_limit(self) -> int:
        return self.limits.blob_size

    def _token_namespace(self, request: Any) -> Namespace:
        """The request's namespace, which must be the one its task token was issued in:
        a token is never honoured under another namespace's name."""
        ns = self.namespaces.get(request.namespace)
        validation.token_namespace(request.task_token, ns.id)
        return ns

    async def _key(
        self, ns: Namespace, execution: WorkflowExecution, bad_run_id: str = "Invalid RunId."
    ) -> Key:
        validation.require(execution.workflow_id, "WorkflowId")
        validation.run_id(execution.run_id, bad_run_id)
        if execution.run_id:
            return ns.id, execution.workflow_id, execution.run_id
        current = await self.runs.get_current_run(ns.id, execution.workflow_id)
        if current is None:
            raise NotFound(f"workflow not found for ID: {execution.workflow_id}")
        return ns.id, execution.workflow_id, current.run_id

    # -- system & namespaces ---------------------------------------------------------

    @handled
    async def GetSystemInfo(self, request: Any, context: Ctx) -> rr.GetSystemInfoResponse:
        return system.system_info()

    @handled
    async def DescribeNamespace(self, request: Any, context: Ctx) -> rr.DescribeNamespaceResponse:
        if request.id:
            ns = self.namespaces.by_id(request.id)
        else:
            ns = self.namespaces.get(request.namespace)
        return system.describe_namespace(ns, self.blob_limit)

    @handled
    async def ListNamespaces(self, request: Any, context: Ctx) -> rr.ListNamespacesResponse:
        # As Temporal: deleted namespaces only on request.
        deleted = request.namespace_filter.include_deleted
        return rr.ListNamespacesResponse(
            namespaces=[
                system.describe_namespace(ns, self.blob_limit)
                for ns in self.namespaces.all()
                if deleted or ns.state != DELETED
            ]
        )

    @handled
    async def RegisterNamespace(self, request: Any, context: Ctx) -> rr.RegisterNamespaceResponse:
        validation.require(request.namespace, "Namespace")
        kwargs: dict[str, Any] = {
            "description": request.description,
            "owner_email": request.owner_email,
            "data": dict(request.data),
            "retention_seconds": validation.retention(
                request, "workflow_execution_retention_period"
            ),
        }
        await self.namespaces.create(request.namespace, **kwargs)
        return rr.RegisterNamespaceResponse()

    # -- workflow lifecycle ------------------------------------------------------------

    @handled
    async def StartWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.StartWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        require_registered(ns)
        validation.start_request(request, self.blob_limit)
        validation.search_attributes(ns, request.search_attributes)
        _check_policies(request, signal_with_start=False)
        res = await self.lifecycle.start(ns, request)
        return rr.StartWorkflowExecutionResponse(
            run_id=res.run_id,
            first_execution_run_id=res.first_execution_run_id,
            started=res.started,
            status=WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
            eager_workflow_task=res.eager_task,
        )

    @handled
    async def SignalWithStartWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.SignalWithStartWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        require_registered(ns)
        validation.start_request(request, self.blob_limit)
        validation.search_attributes(ns, request.search_attributes)
        validation.require(request.signal_name, "SignalName")
        validation.blob(request.signal_input, self.blob_limit)
        _check_policies(request, signal_with_start=True)
        res = await self.lifecycle.signal_with_start(ns, request)
        return rr.SignalWithStartWorkflowExecutionResponse(
            run_id=res.run_id,
            first_execution_run_id=res.first_execution_run_id,
            started=res.started,
        )

    @handled
    async def SignalWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.SignalWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.signal_name, "SignalName")
        validation.blob(request.input, self.blob_limit)
        key = await self._key(ns, request.workflow_execution)
        await self.lifecycle.signal(key, request)
        return rr.SignalWorkflowExecutionResponse()

    @handled
    async def RequestCancelWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.RequestCancelWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.workflow_execution)
        await self.lifecycle.request_cancel(key, request)
        return rr.RequestCancelWorkflowExecutionResponse()

    @handled
    async def TerminateWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.TerminateWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        validation.blob(request.details, self.blob_limit)
        key = await self._key(ns, request.workflow_execution)
        await self.lifecycle.terminate(key, request)
        return rr.TerminateWorkflowExecutionResponse()

    @handled
    async def GetWorkflowExecutionHistory(
        self, request: Any, context: Ctx
    ) -> rr.GetWorkflowExecutionHistoryResponse:
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.execution)
        timeout = _remaining(context, self.limits.history_long_poll)
        features = dict(context.invocation_metadata() or ()).get("supported-features", "")
        return await self.reads.get_history(
            key, request, timeout, follows_next_run="follows-next-run-id" in features
        )

    @handled
    async def DescribeWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.DescribeWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.execution)
        return await self.reads.describe(key)

    @handled
    async def QueryWorkflow(self, request: Any, context: Ctx) -> rr.QueryWorkflowResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.query.query_type, "QueryType")
        key = await self._key(ns, request.execution)
        timeout = _remaining(context, DEFAULT_QUERY_TIMEOUT)
        return await self.reads.query(key, request, timeout)

    @handled
    async def UpdateWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.UpdateWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.request.input.name, "Update name")
        validation.blob(request.request.input.args, self.blob_limit)
        key = await self._key(ns, request.workflow_execution)
        timeout = _remaining(context, self.limits.history_long_poll)
        return await self.lifecycle.update(key, request, timeout)

    @handled
    async def PollWorkflowExecutionUpdate(
        self, request: Any, context: Ctx
    ) -> rr.PollWorkflowExecutionUpdateResponse:
        ns = self.namespaces.get(request.namespace)
        ref = request.update_ref
        validation.require(ref.update_id, "UpdateId")
        key = await self._key(ns, ref.workflow_execution, validation.RUN_ID_NOT_UUID)
        timeout = _remaining(context, self.limits.history_long_poll)
        return await self.reads.poll_update(key, request, timeout)

    @handled
    async def ResetWorkflowExecution(
        self, request: Any, context: Ctx
    ) -> rr.ResetWorkflowExecutionResponse:
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.workflow_execution)
        run_id = await self.lifecycle.reset(key, request)
        return rr.ResetWorkflowExecutionResponse(run_id=run_id)

    @handled
    async def ExecuteMultiOperation(
        self, request: Any, context: Ctx
    ) -> rr.ExecuteMultiOperationResponse:
        ns = self.namespaces.get(request.namespace)
        timeout = _remaining(context, self.limits.history_long_poll)
        return await self.lifecycle.execute_multi_operation(ns, request, timeout)

    # -- workflow tasks ------------------------------------------------------------------

    @handled
    async def PollWorkflowTaskQueue(
        self, request: Any, context: Ctx
    ) -> rr.PollWorkflowTaskQueueResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.task_queue.name, "TaskQueue")
        end = time.monotonic() + _poll_budget(context)
        poller = poller_of(request)
        version, sticky = await self._poller_version(ns, request, "workflow")
        while (left := end - time.monotonic()) > 0:
            ref = await self.worker_polls.run(
                ns.id,
                request.worker_instance_key,
                self.matching.poll(
                    ns.id,
                    request.task_queue.name,
                    "workflow",
                    left,
                    poller,
                    version=version,
                    sticky=sticky,
                ),
            )
            if ref is None:
                break
            try:
                resp = await self._start_workflow_task(ref, request)
            except BaseException:
                # Not started (storage or owner unreachable): the next poller gets it.
                self.matching.requeue(
                    ref, request.task_queue.name, "workflow", "" if sticky else version
                )
                raise
            if resp is not None:
                return resp
        return rr.PollWorkflowTaskQueueResponse()

    async def _start_workflow_task(
        self, ref: TaskRef, request: rr.PollWorkflowTaskQueueRequest
    ) -> rr.PollWorkflowTaskQueueResponse | None:
        try:
            history = self.routes.history(ref.namespace_id, ref.workflow_id)
        except Unavailable:
            return None  # its workflow is moving: the new owner offers the task again
        return await history.record_workflow_task_started(ref, request)

    async def _start_activity_task(
        self, ref: TaskRef, request: rr.PollActivityTaskQueueRequest
    ) -> rr.PollActivityTaskQueueResponse | None:
        try:
            history = self.routes.history(ref.namespace_id, ref.workflow_id)
        except Unavailable:
            return None  # its workflow is moving: the new owner offers the task again
        return await history.record_activity_task_started(ref, request)

    @handled
    async def RespondWorkflowTaskCompleted(
        self, request: Any, context: Ctx
    ) -> rr.RespondWorkflowTaskCompletedResponse:
        self._token_namespace(request)
        return await self.tasks.complete_workflow_task(request)

    @handled
    async def RespondWorkflowTaskFailed(
        self, request: Any, context: Ctx
    ) -> rr.RespondWorkflowTaskFailedResponse:
        self._token_namespace(request)
        await self.tasks.fail_workflow_task(request)
        return rr.RespondWorkflowTaskFailedResponse()

    @handled
    async def RespondQueryTaskCompleted(
        self, request: Any, context: Ctx
    ) -> rr.RespondQueryTaskCompletedResponse:
        self._token_namespace(request)
        await self.tasks.respond_query(request)
        return rr.RespondQueryTaskCompletedResponse()

    @handled
    async def ResetStickyTaskQueue(
        self, request: Any, context: Ctx
    ) -> rr.ResetStickyTaskQueueResponse:
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.execution)
        await self.tasks.reset_sticky(key)
        return rr.ResetStickyTaskQueueResponse()

    @handled
    async def ShutdownWorker(self, request: Any, context: Ctx) -> rr.ShutdownWorkerResponse:
        ns = self.namespaces.get(request.namespace)
        if request.sticky_task_queue:
            self.matching.unload_sticky(ns.id, request.sticky_task_queue)
        # Temporal needs the task queue to find the matching hosts; it then ends every
        # poll of that worker instance there, whatever their queue.
        if (
            request.worker_instance_key
            and request.task_queue
            and self.limits.cancel_polls_on_shutdown
        ):
            self.worker_polls.end(ns.id, request.worker_instance_key)
        if request.HasField("worker_heartbeat"):
            # The worker's last heartbeat (status SHUTTING_DOWN), as Temporal records it.
            self.workers.record(ns.id, [request.worker_heartbeat])
        return rr.ShutdownWorkerResponse()

    # -- activity tasks ------------------------------------------------------------------

    @handled
    async def PollActivityTaskQueue(
        self, request: Any, context: Ctx
    ) -> rr.PollActivityTaskQueueResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.task_queue.name, "TaskQueue")
        end = time.monotonic() + _poll_budget(context)
        poller = poller_of(request)
        version, sticky = await self._poller_version(ns, request, "activity")
        while (left := end - time.monotonic()) > 0:
            ref = await self.worker_polls.run(
                ns.id,
                request.worker_instance_key,
                self._poll_activity(
                    ns.id, request.task_queue.name, left, poller, "" if sticky else version
                ),
            )
            if ref is None:
                break
            try:
                resp = await self._start_activity_task(ref, request)
            except BaseException:
                # Not started (storage or owner unreachable): the next poller gets it.
                mine = not sticky and ref.namespace_id == ns.id  # not a standalone one
                self.matching.requeue(
                    ref, request.task_queue.name, "activity", version if mine else ""
                )
                raise
            if resp is not None:
                return resp
        return rr.PollActivityTaskQueueResponse()

    async def _activity(self, request: Any) -> ActivityRef:
        """The activity a request names: by task token, or by workflow and activity id
        (which may complete an activity no worker ever polled)."""
        if "task_token" in request.DESCRIPTOR.fields_by_name:
            self._token_namespace(request)
            token: bytes = request.task_token
            return token
        ns = self.namespaces.get(request.namespace)
        if not request.workflow_id and self.activity_executions is not None:
            # No workflow: a standalone activity, named by its id and run id.
            validation.run_id(request.run_id, validation.RUN_ID_NOT_UUID)
            key = await self.activity_executions.key(ns, request.activity_id, request.run_id)
            return ActivityById(key, request.activity_id)
        execution = WorkflowExecution(workflow_id=request.workflow_id, run_id=request.run_id)
        key = await self._key(ns, execution, validation.RUN_ID_NOT_UUID)
        return ActivityById(key, request.activity_id)

    async def _heartbeat(self, request: Any) -> HeartbeatReply:
        validation.blob(request.details, self.blob_limit)
        activity = await self._activity(request)
        return await self.tasks.heartbeat_activity(activity, _optional(request, "details"))

    async def _completed(self, request: Any) -> None:
        validation.blob(request.result, self.blob_limit)
        activity = await self._activity(request)
        result = _optional(request, "result")
        await self.tasks.complete_activity(activity, result, request.identity)

    async def _failed(self, request: Any) -> None:
        validation.blob(request.failure, self.blob_limit)
        details = _optional(request, "last_heartbeat_details")
        activity = await self._activity(request)
        await self.tasks.fail_activity(activity, request.failure, request.identity, details)

    async def _canceled(self, request: Any) -> None:
        activity = await self._activity(request)
        details = _optional(request, "details")
        await self.tasks.cancel_activity(activity, details, request.identity)

    @handled
    async def RecordActivityTaskHeartbeat(
        self, request: Any, context: Ctx
    ) -> rr.RecordActivityTaskHeartbeatResponse:
        reply = await self._heartbeat(request)
        return rr.RecordActivityTaskHeartbeatResponse(
            cancel_requested=reply.cancel_requested,
            activity_paused=reply.activity_paused,
            activity_reset=reply.activity_reset,
        )

    @handled
    async def RecordActivityTaskHeartbeatById(
        self, request: Any, context: Ctx
    ) -> rr.RecordActivityTaskHeartbeatByIdResponse:
        reply = await self._heartbeat(request)
        return rr.RecordActivityTaskHeartbeatByIdResponse(
            cancel_requested=reply.cancel_requested,
            activity_paused=reply.activity_paused,
            activity_reset=reply.activity_reset,
        )

    @handled
    async def RespondActivityTaskCompleted(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskCompletedResponse:
        await self._completed(request)
        return rr.RespondActivityTaskCompletedResponse()

    @handled
    async def RespondActivityTaskCompletedById(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskCompletedByIdResponse:
        await self._completed(request)
        return rr.RespondActivityTaskCompletedByIdResponse()

    @handled
    async def RespondActivityTaskFailed(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskFailedResponse:
        await self._failed(request)
        return rr.RespondActivityTaskFailedResponse()

    @handled
    async def RespondActivityTaskFailedById(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskFailedByIdResponse:
        await self._failed(request)
        return rr.RespondActivityTaskFailedByIdResponse()

    @handled
    async def RespondActivityTaskCanceled(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskCanceledResponse:
        await self._canceled(request)
        return rr.RespondActivityTaskCanceledResponse()

    @handled
    async def RespondActivityTaskCanceledById(
        self, request: Any, context: Ctx
    ) -> rr.RespondActivityTaskCanceledByIdResponse:
        await self._canceled(request)
        return rr.RespondActivityTaskCanceledByIdResponse()

    # -- visibility ------------------------------------------------------------------------

    @handled
    async def ListWorkflowExecutions(
        self, request: Any, context: Ctx
    ) -> rr.ListWorkflowExecutionsResponse:
        ns = self.namespaces.get(request.namespace)
        return await visibility_service.list_executions(self.visibility, ns, request)

    @handled
    async def ScanWorkflowExecutions(
        self, request: Any, context: Ctx
    ) -> rr.ScanWorkflowExecutionsResponse:
        ns = self.namespaces.get(request.namespace)
        resp = await visibility_service.list_executions(self.visibility, ns, request)
        return rr.ScanWorkflowExecutionsResponse(
            executions=resp.executions, next_page_token=resp.next_page_token
        )

    @handled
    async def CountWorkflowExecutions(
        self, request: Any, context: Ctx
    ) -> rr.CountWorkflowExecutionsResponse:
        ns = self.namespaces.get(request.namespace)
        return await visibility_service.count_executions(self.visibility, ns, request)

    @handled
    async def ListOpenWorkflowExecutions(
        self, request: Any, context: Ctx
    ) -> rr.ListOpenWorkflowExecutionsResponse:
        ns = self.namespaces.get(request.namespace)
        where = visibility_service.legacy_filter(request, closed=False)
        infos, token = await visibility_service.list_page(
            self.visibility, ns, where, request.maximum_page_size, request.next_page_token
        )
        return rr.ListOpenWorkflowExecutionsResponse(executions=infos, next_page_token=token)

    @handled
    async def ListClosedWorkflowExecutions(
        self, request: Any, context: Ctx
    ) -> rr.ListClosedWorkflowExecutionsResponse:
        ns = self.namespaces.get(request.namespace)
        where = visibility_service.legacy_filter(request, closed=True)
        infos, token = await visibility_service.list_page(
            self.visibility, ns, where, request.maximum_page_size, request.next_page_token
        )
        return rr.ListClosedWorkflowExecutionsResponse(executions=infos, next_page_token=token)

    # -- schedules (frontend/schedule_service.py) ------------------------------------------

    def _schedules(self) -> ScheduleService:
        if self.schedules is None:
            raise Unimplemented("schedules are not enabled on this server")
        return self.schedules

    @handled
    async def CreateSchedule(self, request: Any, context: Ctx) -> rr.CreateScheduleResponse:
        return await self._schedules().create(request)

    @handled
    async def DescribeSchedule(self, request: Any, context: Ctx) -> rr.DescribeScheduleResponse:
        return await self._schedules().describe(request)

    @handled
    async def UpdateSchedule(self, request: Any, context: Ctx) -> rr.UpdateScheduleResponse:
        return await self._schedules().update(request)

    @handled
    async def PatchSchedule(self, request: Any, context: Ctx) -> rr.PatchScheduleResponse:
        return await self._schedules().patch(request)

    @handled
    async def DeleteSchedule(self, request: Any, context: Ctx) -> rr.DeleteScheduleResponse:
        return await self._schedules().delete(request)

    @handled
    async def ListSchedules(self, request: Any, context: Ctx) -> rr.ListSchedulesResponse:
        return await self._schedules().list(request)

    @handled
    async def ListScheduleMatchingTimes(
        self, request: Any, context: Ctx
    ) -> rr.ListScheduleMatchingTimesResponse:
        return await self._schedules().matching_times(request)


def _optional(request: Any, field: str) -> Any:
    return getattr(request, field) if request.HasField(field) else None


def _check_policies(request: Any, *, signal_with_start: bool) -> None:
    conflict = request.workflow_id_conflict_policy
    reuse = request.workflow_id_reuse_policy
    if signal_with_start and conflict == WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL:
        raise InvalidArgument(
            "Invalid WorkflowIDConflictPolicy: WORKFLOW_ID_CONFLICT_POLICY_FAIL is not supported "
            "for this operation."
        )
    if reuse == 4 and conflict:  # TERMINATE_IF_RUNNING with an explicit conflict policy
        raise InvalidArgument(
            "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING "
            "cannot be used together with a WorkflowIDConflictPolicy."
        )
    if reuse == 3 and conflict == 3:  # REJECT_DUPLICATE with TERMINATE_EXISTING
        raise InvalidArgument(
            "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be "
            "used together with WorkflowIdConflictPolicy WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING."
        )
