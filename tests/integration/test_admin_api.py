"""Issue 14's namespace, workflow and search-attribute administration, through the
official SDK's raw services. Each test runs against every selected server; with
PYTEMPORAL_TEST_SERVER=reference it checks Temporal's dev server, which is where the
expected messages and shapes come from.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio import workflow
from temporalio.api.common.v1 import Priority, WorkflowExecution
from temporalio.api.enums.v1 import EventType, IndexedValueType, NamespaceState
from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    DeleteNamespaceRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    DeleteWorkflowExecutionRequest,
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
    ResetWorkflowExecutionRequest,
    UpdateNamespaceRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import running_worker, unique, wait_for
from .workflows import ApprovalWorkflow, Decision

I = IndexedValueType  # noqa: E741

# ListSearchAttributes' system attributes on Temporal's dev server (1.30).
TEMPORAL_SYSTEM_ATTRIBUTES = {
    "BatcherNamespace": I.INDEXED_VALUE_TYPE_KEYWORD,
    "BatcherUser": I.INDEXED_VALUE_TYPE_KEYWORD,
    "BinaryChecksums": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "BuildIds": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "CloseTime": I.INDEXED_VALUE_TYPE_DATETIME,
    "ExecutionDuration": I.INDEXED_VALUE_TYPE_INT,
    "ExecutionStatus": I.INDEXED_VALUE_TYPE_KEYWORD,
    "ExecutionTime": I.INDEXED_VALUE_TYPE_DATETIME,
    "HistoryLength": I.INDEXED_VALUE_TYPE_INT,
    "HistorySizeBytes": I.INDEXED_VALUE_TYPE_INT,
    "ParentRunId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "ParentWorkflowId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "RootRunId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "RootWorkflowId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "RunId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "StartTime": I.INDEXED_VALUE_TYPE_DATETIME,
    "StateTransitionCount": I.INDEXED_VALUE_TYPE_INT,
    "TaskQueue": I.INDEXED_VALUE_TYPE_KEYWORD,
    "TemporalChangeVersion": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "TemporalExternalPayloadCount": I.INDEXED_VALUE_TYPE_INT,
    "TemporalExternalPayloadSizeBytes": I.INDEXED_VALUE_TYPE_INT,
    "TemporalNamespaceDivision": I.INDEXED_VALUE_TYPE_KEYWORD,
    "TemporalPauseInfo": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "TemporalReportedProblems": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "TemporalSchedulePaused": I.INDEXED_VALUE_TYPE_BOOL,
    "TemporalScheduledById": I.INDEXED_VALUE_TYPE_KEYWORD,
    "TemporalScheduledStartTime": I.INDEXED_VALUE_TYPE_DATETIME,
    "TemporalUsedWorkerDeploymentVersions": I.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "TemporalWorkerDeployment": I.INDEXED_VALUE_TYPE_KEYWORD,
    "TemporalWorkerDeploymentVersion": I.INDEXED_VALUE_TYPE_KEYWORD,
    "TemporalWorkflowVersioningBehavior": I.INDEXED_VALUE_TYPE_KEYWORD,
    "WorkflowId": I.INDEXED_VALUE_TYPE_KEYWORD,
    "WorkflowType": I.INDEXED_VALUE_TYPE_KEYWORD,
}
DAY = Duration(seconds=86400)


async def rpc_error(call: Any) -> tuple[RPCStatusCode, str]:
    with pytest.raises(RPCError) as info:
        await call
    return info.value.status, info.value.message


async def start_idle(client: Client, **kwargs: Any) -> WorkflowExecution:
    """A workflow no worker polls for: it stays open with its first task scheduled."""
    wid = unique("idle")
    handle = await client.start_workflow("Idle", id=wid, task_queue=unique("nobody"), **kwargs)
    return WorkflowExecution(workflow_id=wid, run_id=handle.result_run_id or "")


# --- search attributes ------------------------------------------------------------------


async def test_system_search_attributes_are_temporals(client: Client) -> None:
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    assert dict(resp.system_attributes) == TEMPORAL_SYSTEM_ATTRIBUTES


async def test_remove_search_attributes(client: Client) -> None:
    op = client.operator_service
    ns = client.namespace
    keep, drop = f"Keep{uuid.uuid4().hex[:8]}", f"Drop{uuid.uuid4().hex[:8]}"
    await op.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=ns,
            search_attributes={
                keep: I.INDEXED_VALUE_TYPE_KEYWORD,
                drop: I.INDEXED_VALUE_TYPE_INT,
            },
        )
    )
    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=ns, search_attributes=[drop])
    )
    listed = await op.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
    assert keep in listed.custom_attributes and drop not in listed.custom_attributes
    # Removing it again is a no-op, as in Temporal's SQL visibility.
    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=ns, search_attributes=[drop])
    )
    bad = [
        (
            RemoveSearchAttributesRequest(namespace=ns, search_attributes=["WorkflowId"]),
            "Unable to remove non-custom search attributes: WorkflowId.",
        ),
        (
            RemoveSearchAttributesRequest(namespace=ns),
            "SearchAttributes are not set on request.",
        ),
        (
            RemoveSearchAttributesRequest(search_attributes=[keep]),
            "Namespace is not set on request.",
        ),
    ]
    for request, message in bad:
        status, got = await rpc_error(op.remove_search_attributes(request))
        assert (status, got) == (RPCStatusCode.INVALID_ARGUMENT, message)
    status, _ = await rpc_error(
        op.remove_search_attributes(
            RemoveSearchAttributesRequest(namespace=unique("nope"), search_attributes=[keep])
        )
    )
    assert status == RPCStatusCode.NOT_FOUND


# --- workflows -----------------------------------------------------------------------------


async def test_delete_workflow_execution(client: Client) -> None:
    ws = client.workflow_service
    ns = client.namespace
    execution = await start_idle(client)

    # A running workflow is terminated, then deleted.
    await ws.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(namespace=ns, workflow_execution=execution)
    )

    async def gone() -> bool:
        try:
            await ws.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(namespace=ns, execution=execution)
            )
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND
            return True
        return False

    await wait_for(gone, within=30, message="deletion of the running workflow")
    status, message = await rpc_error(
        ws.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(namespace=ns, execution=execution)
        )
    )
    assert status == RPCStatusCode.NOT_FOUND
    assert message == (
        f'workflow execution not found for workflow ID "{execution.workflow_id}"'
        f' and run ID "{execution.run_id}"'
    )

    async def not_visible() -> bool:
        counted = await ws.count_workflow_executions(
            CountWorkflowExecutionsRequest(
                namespace=ns, query=f"WorkflowId = '{execution.workflow_id}'"
            )
        )
        return counted.count == 0

    await wait_for(not_visible, within=30, message="visibility record deleted")

    # The id is free again; a closed run is deleted too.
    handle = await client.start_workflow(
        "Idle", id=execution.workflow_id, task_queue=unique("nobody")
    )
    await handle.terminate()
    latest = WorkflowExecution(workflow_id=execution.workflow_id)
    await ws.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(namespace=ns, workflow_execution=latest)
    )
    execution = WorkflowExecution(
        workflow_id=execution.workflow_id, run_id=handle.result_run_id or ""
    )
    await wait_for(gone, within=60, message="deletion of the closed workflow")

    bad = [
        (DeleteWorkflowExecutionRequest(namespace=ns), "Execution is not set on request."),
        (
            DeleteWorkflowExecutionRequest(namespace=ns, workflow_execution=WorkflowExecution()),
            "WorkflowId is not set on request.",
        ),
        (
            DeleteWorkflowExecutionRequest(
                namespace=ns, workflow_execution=WorkflowExecution(workflow_id="x", run_id="bad")
            ),
            "Invalid RunId.",
        ),
    ]
    for request, expected in bad:
        status, message = await rpc_error(ws.delete_workflow_execution(request))
        assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, expected)


async def test_history_reverse(client: Client) -> None:
    ws = client.workflow_service
    ns = client.namespace
    execution = await start_idle(client)
    handle = client.get_workflow_handle(execution.workflow_id, run_id=execution.run_id)
    await handle.signal("one")
    await handle.signal("two")
    await handle.terminate()
    pages: list[list[int]] = []
    token = b""
    while True:
        resp = await ws.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=ns, execution=execution, maximum_page_size=1, next_page_token=token
            )
        )
        pages.append([e.event_id for e in resp.history.events])
        token = resp.next_page_token
        if not token:
            break
    # A page is whole commits, newest first: the start wrote events 1 and 2 together.
    assert pages == [[5], [4], [3], [2, 1]]
    whole = await ws.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(namespace=ns, execution=execution)
    )
    assert [e.event_id for e in whole.history.events] == [5, 4, 3, 2, 1]
    assert not whole.next_page_token
    status, message = await rpc_error(
        ws.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=ns, execution=execution, next_page_token=b"junk"
            )
        )
    )
    assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, "Invalid NextPageToken.")
    status, message = await rpc_error(
        ws.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(namespace=ns)
        )
    )
    assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, "Execution is not set on request.")


async def test_following_a_running_history_keeps_a_token(client: Client) -> None:
    """`workflow show --follow`: each page of a running workflow's history comes with a
    token that long-polls for the next events; the close ends it."""
    ws = client.workflow_service
    ns = client.namespace
    execution = await start_idle(client)
    handle = client.get_workflow_handle(execution.workflow_id, run_id=execution.run_id)

    def request(token: bytes) -> GetWorkflowExecutionHistoryRequest:
        return GetWorkflowExecutionHistoryRequest(
            namespace=ns, execution=execution, wait_new_event=True, next_page_token=token
        )

    first = await ws.get_workflow_execution_history(request(b""))
    assert [e.event_id for e in first.history.events] == [1, 2]
    assert first.next_page_token
    follow = asyncio.ensure_future(
        ws.get_workflow_execution_history(request(first.next_page_token))
    )
    await handle.signal("poke")
    second = await follow
    assert [e.event_id for e in second.history.events] == [3]
    assert second.next_page_token
    await handle.terminate()
    last = await ws.get_workflow_execution_history(request(second.next_page_token))
    assert [e.event_id for e in last.history.events] == [4]
    assert not last.next_page_token


async def test_auto_reset_points(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 60.0, id=unique("reset-points"), task_queue=task_queue
        )
        await handle.signal(ApprovalWorkflow.decide, Decision(True, "me"))
        await handle.result()
    described = await handle.describe()
    points = described.raw_description.workflow_execution_info.auto_reset_points.points
    # One point per worker build: the first workflow task completion of this worker.
    assert len(points) == 1
    point = points[0]
    assert point.run_id == handle.result_run_id
    completions = [
        e.event_id
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    assert point.first_workflow_task_completed_id == completions[0]
    assert point.resettable
    assert point.build_id or point.binary_checksum
    assert point.create_time.seconds > 0


async def test_a_reset_run_records_its_own_reset_points(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 60.0, id=unique("reset-run-points"), task_queue=task_queue
        )

        async def completions(run_id: str) -> list[int]:
            h = client.get_workflow_handle(handle.id, run_id=run_id)
            return [
                e.event_id
                async for e in h.fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            ]

        first_run = handle.result_run_id or ""
        [completed] = await wait_for(
            lambda: completions(first_run), within=30, message="the first task completed"
        )
        reset = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=first_run),
                reason="test",
                workflow_task_finish_event_id=completed,
                request_id=str(uuid.uuid4()),
            )
        )

        async def new_completion() -> list[int]:
            return [i for i in await completions(reset.run_id) if i > completed]

        [own] = await wait_for(new_completion, within=30, message="the new run's own task")
        described = await client.get_workflow_handle(handle.id).describe()
        # As Temporal: the copied prefix adds no point; the new run's own completion does.
        points = described.raw_description.workflow_execution_info.auto_reset_points.points
        assert [(p.run_id, p.first_workflow_task_completed_id) for p in points] == [
            (reset.run_id, own)
        ]
        await client.get_workflow_handle(handle.id).terminate()


@workflow.defn
class ContinueOnce:
    @workflow.run
    async def run(self, more: int) -> str:
        if more:
            workflow.continue_as_new(more - 1)
        return "done"


async def test_reset_points_roll_over_to_the_next_run(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ContinueOnce]):
        handle = await client.start_workflow(
            ContinueOnce.run, 1, id=unique("roll-over"), task_queue=task_queue
        )
        await handle.result()
    latest = await client.get_workflow_handle(handle.id).describe()
    assert latest.run_id != handle.result_run_id
    info = latest.raw_description.workflow_execution_info
    # The first run's point, expiring a retention after the next run started; the next
    # run's own completion is by the same build, so it adds none.
    [point] = info.auto_reset_points.points
    assert point.run_id == handle.result_run_id
    assert point.expire_time.seconds - info.start_time.seconds == 86400
    started = [e async for e in client.get_workflow_handle(handle.id).fetch_history_events()][0]
    prev = started.workflow_execution_started_event_attributes.prev_auto_reset_points
    assert [p.run_id for p in prev.points] == [handle.result_run_id]


async def test_update_workflow_execution_options(client: Client) -> None:
    ws = client.workflow_service
    ns = client.namespace
    execution = await start_idle(client)

    def update(paths: list[str], **options: Any) -> Any:
        return ws.update_workflow_execution_options(
            UpdateWorkflowExecutionOptionsRequest(
                namespace=ns,
                workflow_execution=execution,
                workflow_execution_options=WorkflowExecutionOptions(**options),
                update_mask=FieldMask(paths=paths),
            )
        )

    resp = await update(["priority"], priority=Priority(priority_key=3))
    assert resp.workflow_execution_options.priority.priority_key == 3
    resp = await update(["priority.fairness_key"], priority=Priority(fairness_key="k"))
    assert resp.workflow_execution_options.priority == Priority(priority_key=3, fairness_key="k")
    # The same options again change nothing and write no event.
    await update(["priority.fairness_key"], priority=Priority(fairness_key="k"))
    described = await ws.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=ns, execution=execution)
    )
    assert described.workflow_execution_info.priority == Priority(priority_key=3, fairness_key="k")
    errors = [
        (
            update(["foo"]),
            'error parsing UpdateMask: proto: invalid path "foo" for message'
            ' "temporal.api.workflow.v1.WorkflowExecutionOptions"',
        ),
        (
            update(["versioning_override.behavior"]),
            "error applying update_options: versioning_override fields must be updated together",
        ),
        (
            update(["versioning_override.pinned"]),
            "error applying update_options: versioning_override doesn't support partial updates",
        ),
        (
            ws.update_workflow_execution_options(
                UpdateWorkflowExecutionOptionsRequest(
                    namespace=ns,
                    workflow_execution=execution,
                    workflow_execution_options=WorkflowExecutionOptions(),
                )
            ),
            "UpdateMask is required",
        ),
        (
            ws.update_workflow_execution_options(
                UpdateWorkflowExecutionOptionsRequest(
                    namespace=ns, workflow_execution=execution, update_mask=FieldMask()
                )
            ),
            "WorkflowExecutionOptions is required",
        ),
    ]
    for call, expected in errors:
        status, message = await rpc_error(call)
        # Go's protobuf errors put a no-break space at random, so nobody matches them.
        message = message.replace("\xa0", " ")
        assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, expected)
    handle = client.get_workflow_handle(execution.workflow_id, run_id=execution.run_id)
    await handle.terminate()
    status, message = await rpc_error(update(["priority"], priority=Priority(priority_key=1)))
    assert (status, message) == (RPCStatusCode.NOT_FOUND, "workflow execution already completed")
    updated = [
        e
        for e in [e async for e in handle.fetch_history_events()]
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED
    ]
    assert [e.workflow_execution_options_updated_event_attributes.priority for e in updated] == [
        Priority(priority_key=3),
        Priority(priority_key=3, fairness_key="k"),
    ]


# --- namespaces ----------------------------------------------------------------------------


async def _started_in(client: Client) -> WorkflowExecution | None:
    try:
        return await start_idle(client)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return None  # a new namespace takes a moment to reach every cache
        raise


async def test_update_namespace(client: Client) -> None:
    ws = client.workflow_service
    name = unique("upd")
    await ws.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=DAY, data={"a": "1"}
        )
    )
    resp = await ws.update_namespace(
        UpdateNamespaceRequest(
            namespace=name,
            update_info=UpdateNamespaceInfo(description="d", data={"b": "2"}),
            config=NamespaceConfig(custom_search_attribute_aliases={"x": "y"}),
        )
    )
    assert resp.namespace_info.description == "d"
    assert dict(resp.namespace_info.data) == {"a": "1", "b": "2"}
    assert dict(resp.config.custom_search_attribute_aliases) == {"x": "y"}
    assert resp.replication_config.active_cluster_name
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert dict(described.namespace_info.data) == {"a": "1", "b": "2"}
    errors = [
        (
            UpdateNamespaceRequest(namespace=name, delete_bad_binary="nope"),
            "Bad binary checksum nope doesn't exists.",
        ),
        (
            UpdateNamespaceRequest(
                namespace=name,
                config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=60)),
            ),
            "A valid retention period is not set on request.",
        ),
        (UpdateNamespaceRequest(), "Namespace not set on request."),
    ]
    for request, expected in errors:
        status, message = await rpc_error(ws.update_namespace(request))
        assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, expected)
    inside = await Client.connect(client.service_client.config.target_host, namespace=name)
    execution = await wait_for(
        lambda: _started_in(inside), within=30, message="a workflow in the new namespace"
    )
    deprecated = await ws.update_namespace(
        UpdateNamespaceRequest(
            namespace=name,
            update_info=UpdateNamespaceInfo(state=NamespaceState.NAMESPACE_STATE_DEPRECATED),
        )
    )
    assert deprecated.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED

    async def refused() -> tuple[RPCStatusCode, str] | None:
        try:
            await start_idle(inside)
        except RPCError as e:
            return e.status, e.message
        return None  # Temporal's namespace cache has not seen the change yet

    # A deprecated namespace starts nothing new; its running workflows carry on.
    assert await wait_for(refused, within=30, message="starts refused") == (
        RPCStatusCode.FAILED_PRECONDITION,
        "Namespace has invalid state: Deprecated. Must be Registered.",
    )
    await inside.get_workflow_handle(execution.workflow_id).signal("still-open")
    status, message = await rpc_error(
        ws.update_namespace(
            UpdateNamespaceRequest(
                namespace=name,
                update_info=UpdateNamespaceInfo(state=NamespaceState.NAMESPACE_STATE_REGISTERED),
            )
        )
    )
    assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, "Invalid namespace state update.")


async def test_delete_namespace(client: Client) -> None:
    ws = client.workflow_service
    name = unique("del")
    await ws.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=DAY)
    )
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    ns_id = described.namespace_info.id
    other = await Client.connect(client.service_client.config.target_host, namespace=name)

    async def started() -> bool:
        try:
            await start_idle(other)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False  # a new namespace takes a moment to reach every cache
            raise
        return True

    await wait_for(started, within=30, message="a workflow in the new namespace")
    resp = await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=name))
    assert resp.deleted_namespace == f"{name}-deleted-{ns_id[:5]}"
    status, message = await rpc_error(
        ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    )
    assert (status, message) == (RPCStatusCode.NOT_FOUND, f"Namespace {name} is not found.")

    async def purged() -> bool:
        listed = await ws.list_namespaces(ListNamespacesRequest())
        names = {n.namespace_info.name for n in listed.namespaces}
        return name not in names and resp.deleted_namespace not in names

    await wait_for(purged, within=60, message="the namespace's deletion")
    status, message = await rpc_error(
        client.operator_service.delete_namespace(DeleteNamespaceRequest())
    )
    assert (status, message) == (RPCStatusCode.INVALID_ARGUMENT, "Namespace not set on request.")
    # Temporal's frontend may still have the name cached, and its deletion workflow then
    # answers INVALID_ARGUMENT "namespace ... is not found"; pytemporal has no such cache.
    status, message = await rpc_error(
        client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=name))
    )
    assert status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT)
    assert message.lower().startswith(f"namespace {name} is not found")
    # The name is free again, with nothing of the old namespace in it.
    await ws.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=DAY)
    )

    async def empty() -> bool:
        try:
            counted = await ws.count_workflow_executions(
                CountWorkflowExecutionsRequest(namespace=name)
            )
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False  # the new namespace is not in every cache yet
            raise
        return counted.count == 0

    await wait_for(empty, within=30, message="an empty namespace under the old name")


async def test_delete_namespace_after_a_delay(client: Client) -> None:
    ws = client.workflow_service
    name = unique("del-later")
    await ws.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=DAY)
    )
    resp = await client.operator_service.delete_namespace(
        DeleteNamespaceRequest(namespace=name, namespace_delete_delay=Duration(seconds=3600))
    )
    # Renamed and DELETED at once; listed only on request until its data goes.
    described = await ws.describe_namespace(
        DescribeNamespaceRequest(namespace=resp.deleted_namespace)
    )
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DELETED

    async def names(include_deleted: bool) -> set[str]:
        request = ListNamespacesRequest()
        request.namespace_filter.include_deleted = include_deleted
        listed = await ws.list_namespaces(request)
        return {n.namespace_info.name for n in listed.namespaces}

    assert resp.deleted_namespace in await names(True)
    assert resp.deleted_namespace not in await names(False)
    assert name not in await names(True)
