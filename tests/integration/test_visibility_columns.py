"""The visibility columns Temporal's SQL visibility has (ParentWorkflowId, RootRunId,
HistorySizeBytes, StateTransitionCount...), checked against Temporal's dev server too;
and, beyond Temporal's SQL visibility, ORDER BY and relative times (pytemporal only).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import ServerProcess, is_pytemporal, running_worker, unique, wait_for
from .workflows_v3 import FanOutChildrenWorkflow, GreetChildWorkflow


async def listed(client: Client, query: str) -> list[str]:
    resp = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=client.namespace, query=query, page_size=100)
    )
    return [e.execution.workflow_id for e in resp.executions]


async def test_parent_root_and_size_columns(client: Client, task_queue: str) -> None:
    async with running_worker(
        client, task_queue, workflows=[FanOutChildrenWorkflow, GreetChildWorkflow]
    ):
        parent = await client.start_workflow(
            FanOutChildrenWorkflow.run, ["a", "b"], id=unique("parent"), task_queue=task_queue
        )
        await parent.result()
    children = sorted(f"{parent.id}-child-{i}" for i in range(2))
    run_id = parent.result_run_id
    expectations = {
        f"ParentWorkflowId = '{parent.id}'": children,
        f"ParentRunId = '{run_id}' AND WorkflowType = 'GreetChildWorkflow'": children,
        f"RootWorkflowId = '{parent.id}'": sorted([parent.id, *children]),
        f"RootRunId = '{run_id}' AND ParentWorkflowId IS NULL": [parent.id],
        f"WorkflowId = '{parent.id}' AND HistoryLength > 10 AND HistorySizeBytes > 1000"
        " AND StateTransitionCount > 3": [parent.id],
        f"WorkflowId = '{parent.id}' AND HistorySizeBytes > 100000000": [],
    }

    async def all_listed() -> bool:
        for query, expected in expectations.items():
            if sorted(await listed(client, query)) != expected:
                return False
        return True

    await wait_for(all_listed, within=30, message="the visibility columns")


async def test_order_by_and_relative_times(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    if not is_pytemporal(server.kind):
        pytest.skip("beyond Temporal's SQL visibility: ORDER BY and relative times")
    prefix = unique("sorted")
    ids = [f"{prefix}-{i}" for i in range(5)]
    for wid in reversed(ids):  # started last-first, so that start order is not id order
        await client.start_workflow(
            "Idle",
            id=wid,
            task_queue=task_queue,
            execution_timeout=timedelta(hours=1),
        )
    base = f"WorkflowId STARTS_WITH '{prefix}'"
    assert await listed(client, f"{base} ORDER BY WorkflowId") == ids
    assert await listed(client, f"{base} ORDER BY WorkflowId DESC") == ids[::-1]
    assert await listed(client, f"{base} ORDER BY StartTime ASC") == ids[::-1]
    assert await listed(client, f"{base} AND StartTime > '-1h' ORDER BY WorkflowId") == ids
    assert await listed(client, f"{base} AND StartTime < '-1h'") == []
    assert await listed(client, f"{base} AND StartTime <= 'now' AND StartTime > '1d'") != []

    # Sorted pages follow each other without gaps or repeats.
    seen: list[str] = []
    token = b""
    while True:
        resp = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=client.namespace,
                query=f"{base} ORDER BY WorkflowId DESC",
                page_size=2,
                next_page_token=token,
            )
        )
        seen += [e.execution.workflow_id for e in resp.executions]
        token = resp.next_page_token
        if not token:
            break
    assert seen == ids[::-1]
    # A token of the default order does not continue a sorted list.
    unsorted = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=client.namespace, query=base, page_size=2)
    )
    with pytest.raises(RPCError) as info:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=client.namespace,
                query=f"{base} ORDER BY WorkflowId",
                page_size=2,
                next_page_token=unsorted.next_page_token,
            )
        )
    assert (info.value.status, info.value.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid NextPageToken.",
    )
