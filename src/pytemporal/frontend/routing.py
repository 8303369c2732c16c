"""Reaching the right process when several share one database.

Every RPC about one workflow is served by the owner of the workflow's history shard,
and every poll by the owner of its task queue's shard. The redirector
(`rpc/redirector.py`) says who that is; a process that gets a call it does not own on
its public port forwards it, unchanged, to the owner's internode listener, which
serves it with the same handlers. One hop at most: a call on the internode listener
is never forwarded again; one that lands on a non-owner waits for the ownership to
settle, then gets UNAVAILABLE, which clients retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from pytemporal.common.errors import NamespaceNotFound, ServiceError
from pytemporal.frontend.errors import abort
from pytemporal.history.tokens import decode
from pytemporal.namespaces import NamespaceRegistry
from pytemporal.rpc.auth import SECRET_HEADER
from pytemporal.rpc.redirector import Moving, Redirector
from pytemporal.scheduler.keys import WORKFLOW_ID_PREFIX as SCHEDULER_PREFIX

# While shards move (a process died, one joined), calls wait for the new owner rather
# than fail: long enough to cover a lease expiry plus a membership tick.
ROUTE_PATIENCE = 8.0
ROUTE_RETRY_INTERVAL = 0.2
INTERNAL_PREFIX = "/pytemporal.internal."


Route = tuple[str, str, str]  # ("workflow" | "queue", namespace name or id marker, id)


def _wf(field: str) -> Callable[[Any], tuple[str, str]]:
    def get(req: Any) -> tuple[str, str]:
        value = req
        for part in field.split("."):
            value = getattr(value, part)
        return req.namespace, str(value)

    return get


def _token(req: Any) -> tuple[str, str]:
    tok = decode(req.task_token)
    return "id:" + tok.namespace_id, tok.workflow_id


def _schedule(req: Any) -> tuple[str, str]:
    # A schedule lives on the shard of Temporal's scheduler workflow id (scheduler/keys.py).
    return req.namespace, (SCHEDULER_PREFIX + req.schedule_id if req.schedule_id else "")


# Not a real task queue (Temporal reserves the /_sys/ prefix): where worker heartbeats go.
WORKERS_QUEUE = "/_sys/worker-heartbeats"

WORKFLOW_ROUTES: dict[str, Callable[[Any], tuple[str, str]]] = {
    "StartWorkflowExecution": _wf("workflow_id"),
    "SignalWithStartWorkflowExecution": _wf("workflow_id"),
    "SignalWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "RequestCancelWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "TerminateWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "UpdateWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "ResetWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "GetWorkflowExecutionHistory": _wf("execution.workflow_id"),
    "GetWorkflowExecutionHistoryReverse": _wf("execution.workflow_id"),
    "DeleteWorkflowExecution": _wf("workflow_execution.workflow_id"),
    "UpdateWorkflowExecutionOptions": _wf("workflow_execution.workflow_id"),
    "DescribeWorkflowExecution": _wf("execution.workflow_id"),
    "QueryWorkflow": _wf("execution.workflow_id"),
    "ResetStickyTaskQueue": _wf("execution.workflow_id"),
    "PollWorkflowExecutionUpdate": _wf("update_ref.workflow_execution.workflow_id"),
    "ExecuteMultiOperation": lambda r: (
        r.namespace,
        r.operations[0].start_workflow.workflow_id if r.operations else "",
    ),
    "CreateSchedule": _schedule,
    "DescribeSchedule": _schedule,
    "UpdateSchedule": _schedule,
    "PatchSchedule": _schedule,
    "DeleteSchedule": _schedule,
    "ListScheduleMatchingTimes": _schedule,
    "RecordActivityTaskHeartbeatById": _wf("workflow_id"),
    "PauseActivity": _wf("execution.workflow_id"),
    "UnpauseActivity": _wf("execution.workflow_id"),
    "ResetActivity": _wf("execution.workflow_id"),
    "UpdateActivityOptions": _wf("execution.workflow_id"),
    # A batch job lives on the shard of its job id (Temporal's batch workflow id).
    "StartBatchOperation": _wf("job_id"),
    "StopBatchOperation": _wf("job_id"),
    "DescribeBatchOperation": _wf("job_id"),
    "PauseActivityExecution": _wf("workflow_id"),
    "UnpauseActivityExecution": _wf("workflow_id"),
    "ResetActivityExecution": _wf("workflow_id"),
    "UpdateActivityExecutionOptions": _wf("workflow_id"),
    "RespondActivityTaskCompletedById": _wf("workflow_id"),
    "RespondActivityTaskFailedById": _wf("workflow_id"),
    "RespondActivityTaskCanceledById": _wf("workflow_id"),
    "RespondWorkflowTaskCompleted": _token,
    "RespondWorkflowTaskFailed": _token,
    "RespondQueryTaskCompleted": _token,
    "RecordActivityTaskHeartbeat": _token,
    "RespondActivityTaskCompleted": _token,
    "RespondActivityTaskFailed": _token,
    "RespondActivityTaskCanceled": _token,
}
QUEUE_ROUTES: dict[str, Callable[[Any], tuple[str, str]]] = {
    "PollWorkflowTaskQueue": lambda r: (r.namespace, r.task_queue.normal_name or r.task_queue.name),
    "PollActivityTaskQueue": lambda r: (r.namespace, r.task_queue.name),
    "ShutdownWorker": lambda r: (r.namespace, r.task_queue),
    "DescribeTaskQueue": lambda r: (r.namespace, r.task_queue.normal_name or r.task_queue.name),
    "ListTaskQueuePartitions": lambda r: (r.namespace, r.task_queue.name),
    # One process per namespace keeps its workers' heartbeats: that of a fixed queue name.
    "RecordWorkerHeartbeat": lambda r: (r.namespace, WORKERS_QUEUE),
    "ListWorkers": lambda r: (r.namespace, WORKERS_QUEUE),
    "CountWorkers": lambda r: (r.namespace, WORKERS_QUEUE),
    "DescribeWorker": lambda r: (r.namespace, WORKERS_QUEUE),
}


class Router:
    def __init__(self, redirector: Redirector, namespaces: NamespaceRegistry) -> None:
        self.redirector = redirector
        self.namespaces = namespaces

    def _namespace_id(self, name: str) -> str | None:
        if name.startswith("id:"):
            return name[3:]
        try:
            return self.namespaces.get(name).id
        except NamespaceNotFound:
            return None  # the local handler answers NOT_FOUND

    def owner_for(self, method: str, request: Any) -> str | None:
        """The address to forward to, or None to serve the call here."""
        if method in WORKFLOW_ROUTES:
            ns, wf = WORKFLOW_ROUTES[method](request)
            ns_id = self._namespace_id(ns)
            if ns_id is None or not wf:
                return None
            return self.redirector.workflow_owner(ns_id, wf)
        if method in QUEUE_ROUTES:
            ns, queue = QUEUE_ROUTES[method](request)
            ns_id = self._namespace_id(ns)
            if ns_id is None or not queue:
                return None
            return self.redirector.queue_owner(ns_id, queue)
        return None

    async def forward(
        self, address: str, path: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        channels = self.redirector.channels
        call = channels.channel(address).unary_unary(
            path, request_serializer=lambda m: m.SerializeToString()
        )
        # The caller's headers, except any claim to be a cluster member: ours is added.
        headers = [
            (k, v)
            for k, v in context.invocation_metadata() or ()
            if not k.startswith(("grpc-", ":")) and k != SECRET_HEADER
        ]
        headers.extend(channels.metadata)
        timeout = context.time_remaining()
        try:
            result: bytes = await call(request, metadata=headers, timeout=timeout)
            return result
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE and context.time_remaining() != 0:
                raise Moving(f"owner {address} unreachable: {e.details()}") from e
            trailing = tuple(
                (k, v) for k, v in (e.trailing_metadata() or ()) if k == "grpc-status-details-bin"
            )
            await context.abort(e.code(), e.details() or "", trailing_metadata=trailing)
            raise


class RoutingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """On the public port: serve here or forward to the owner. On the internode
    listener (`forward=False`): serve here, or wait for this process to own the call."""

    def __init__(self, router: Router, *, forward: bool = True) -> None:
        self.router = router
        self.may_forward = forward

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        path: str = details.method  # type: ignore[attr-defined]
        method = path.rsplit("/", 1)[-1]
        if (
            handler is None
            or path.startswith(INTERNAL_PREFIX)
            or (method not in WORKFLOW_ROUTES and method not in QUEUE_ROUTES)
        ):
            return handler
        inner = handler.unary_unary
        router = self.router
        may_forward = self.may_forward

        async def routed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            loop = asyncio.get_running_loop()
            give_up = loop.time() + ROUTE_PATIENCE
            while True:
                try:
                    owner = router.owner_for(method, request)
                    if owner is None:
                        return await inner(request, context)
                    if not may_forward:
                        raise Moving("shard ownership is moving; retry")
                    return await router.forward(owner, path, request, context)
                except Moving as err:
                    if loop.time() >= give_up:
                        await abort(context, err)
                    await asyncio.sleep(ROUTE_RETRY_INTERVAL)
                except ServiceError as err:
                    await abort(context, err)

        serialize = handler.response_serializer

        def respond(message: Any) -> bytes:
            return message if isinstance(message, bytes) else serialize(message)  # type: ignore[no-any-return]

        return grpc.unary_unary_rpc_method_handler(
            routed,
            request_deserializer=handler.request_deserializer,
            response_serializer=respond,
        )
