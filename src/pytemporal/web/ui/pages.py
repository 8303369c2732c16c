"""Namespaces, task queues with their pollers, and search attributes."""

from __future__ import annotations

import grpc
from aiohttp import web
from temporalio.api.enums.v1 import (
    IndexedValueType,
    NamespaceState,
    TaskQueueKind,
    TaskQueueType,
)
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    ListNamespacesRequest,
    ListWorkflowExecutionsRequest,
)

from pytemporal.web.ui import decode
from pytemporal.web.ui.app import calls, q, render

routes = web.RouteTableDef()

# How many recent runs the task-queue index reads for the queues they name.
RECENT_RUNS = 200


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/namespaces/default/workflows")


@routes.get("/namespaces")
async def namespaces(request: web.Request) -> web.Response:
    reply = await calls(request).wf("ListNamespaces", ListNamespacesRequest(page_size=100))
    rows = []
    for ns in reply.namespaces:
        retention = ns.config.workflow_execution_retention_ttl.ToTimedelta().total_seconds()
        rows.append(
            {
                "name": ns.namespace_info.name,
                "state": decode.enum_name(
                    NamespaceState.Name(ns.namespace_info.state), "NAMESPACE_STATE_"
                ),
                "description": ns.namespace_info.description,
                "owner": ns.namespace_info.owner_email,
                "retention": decode.format_duration(retention),
            }
        )
    return render(request, "namespaces.html", rows=rows)


@routes.get("/namespaces/{namespace}")
async def namespace_home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"/namespaces/{q(request.match_info['namespace'])}/workflows")


@routes.get("/namespaces/{namespace}/task-queues")
async def task_queues(request: web.Request) -> web.Response:
    name = request.query.get("name", "").strip()
    if name:
        ns = request.match_info["namespace"]
        raise web.HTTPFound(f"/namespaces/{q(ns)}/task-queues/{q(name)}")
    reply = await calls(request).wf(
        "ListWorkflowExecutions",
        ListWorkflowExecutionsRequest(
            namespace=request.match_info["namespace"], page_size=RECENT_RUNS
        ),
    )
    seen = sorted({e.task_queue for e in reply.executions if e.task_queue})
    return render(request, "task_queues.html", seen=seen, recent=RECENT_RUNS)


_TYPES = (
    ("Workflow", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    ("Activity", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
)


@routes.get("/namespaces/{namespace}/task-queues/{name}")
async def task_queue(request: web.Request) -> web.Response:
    ns, name = request.match_info["namespace"], request.match_info["name"]
    c = calls(request)
    pollers = []
    unimplemented = False
    for label, kind in _TYPES:
        try:
            reply = await c.wf(
                "DescribeTaskQueue",
                DescribeTaskQueueRequest(
                    namespace=ns,
                    task_queue=TaskQueue(name=name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    task_queue_type=kind,
                ),
            )
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            unimplemented = True
            break
        for p in reply.pollers:
            pollers.append(
                {
                    "type": label,
                    "identity": p.identity,
                    "last_access": decode.format_time(p.last_access_time),
                    "rate": p.rate_per_second,
                }
            )
    return render(
        request, "task_queue.html", name=name, pollers=pollers, unimplemented=unimplemented
    )


@routes.get("/namespaces/{namespace}/search-attributes")
async def search_attributes(request: web.Request) -> web.Response:
    ns = request.match_info["namespace"]
    reply = await calls(request).op(
        "ListSearchAttributes", ListSearchAttributesRequest(namespace=ns)
    )

    def rows(attributes: dict[str, int]) -> list[tuple[str, str]]:
        return sorted(
            (
                n,
                decode.enum_name(
                    IndexedValueType.Name(IndexedValueType.ValueType(t)), "INDEXED_VALUE_TYPE_"
                ),
            )
            for n, t in attributes.items()
        )

    return render(
        request,
        "search_attributes.html",
        custom=rows(dict(reply.custom_attributes)),
        system=rows(dict(reply.system_attributes)),
    )
