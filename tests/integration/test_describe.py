"""DescribeWorkflowExecution in full, memo/search-attribute upserts, closed-workflow queries."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.enums.v1 import (
    IndexedValueType,
    ParentClosePolicy,
    PendingActivityState,
    QueryRejectCondition,
)
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryRejectedError,
)
from temporalio.converter import DataConverter

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows import ApprovalWorkflow, Decision
from .workflows_v3 import (
    SCORE_KEY,
    STAGE_KEY,
    PendingChildrenParentWorkflow,
    RetryingActivityWorkflow,
    RetryingHeartbeatActivities,
    UpsertingWorkflow,
    WaitingChildWorkflow,
)


async def decode(payload: Any) -> Any:
    return DataConverter.default.payload_converter.from_payloads([payload])[0]


async def test_pending_activity_attempt_failure_and_heartbeat(
    client: Client, task_queue: str
) -> None:
    acts = RetryingHeartbeatActivities(succeed_on=3)
    async with running_worker(
        client,
        task_queue,
        workflows=[RetryingActivityWorkflow],
        activities=[acts.heartbeat_then_fail],
    ):
        handle = await client.start_workflow(
            RetryingActivityWorkflow.run, id=unique("describe-act"), task_queue=task_queue
        )

        async def third_attempt_heartbeating() -> Any:
            desc = await handle.describe()
            for pending in desc.raw_description.pending_activities:
                details = [await decode(p) for p in pending.heartbeat_details.payloads]
                if pending.attempt == 3 and details == ["progress on attempt 3"]:
                    return pending
            return None

        pending = await wait_for(third_attempt_heartbeating, message="attempt 3 heartbeating")
        assert pending.activity_id == "1"
        assert pending.activity_type.name == "heartbeat_then_fail"
        assert pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        assert pending.maximum_attempts == 5
        assert pending.last_failure.message == "attempt 2 failed"
        assert pending.last_failure.application_failure_info.type == "Transient"
        assert pending.HasField("last_heartbeat_time")
        assert pending.HasField("last_started_time")
        assert pending.HasField("scheduled_time")
        assert pending.last_worker_identity
        acts.release.set()
        assert await handle.result() == "done"
    assert acts.attempts == [1, 2, 3]
    assert list((await handle.describe()).raw_description.pending_activities) == []


async def test_pending_activity_not_yet_started(client: Client, task_queue: str) -> None:
    # No worker polls for the activity: it stays SCHEDULED on attempt 1.
    acts = RetryingHeartbeatActivities(succeed_on=2)
    handle = await client.start_workflow(
        RetryingActivityWorkflow.run, id=unique("describe-retry"), task_queue=task_queue
    )
    async with running_worker(client, task_queue, workflows=[RetryingActivityWorkflow]):
        await wait_for(lambda: _has(handle, "ACTIVITY_TASK_SCHEDULED"), message="scheduled")
    desc = await handle.describe()
    (pending,) = desc.raw_description.pending_activities
    assert pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
    assert pending.attempt == 1
    assert not pending.HasField("last_failure")
    assert not pending.HasField("last_started_time")
    await handle.terminate()
    assert acts.attempts == []


async def test_pending_children_and_parent_link(client: Client, task_queue: str) -> None:
    parent_id = unique("describe-parent")
    async with running_worker(
        client, task_queue, workflows=[PendingChildrenParentWorkflow, WaitingChildWorkflow]
    ):
        parent = await client.start_workflow(
            PendingChildrenParentWorkflow.run, id=parent_id, task_queue=task_queue
        )
        await wait_for(lambda: _has(parent, "TIMER_STARTED"), message="both children started")
        desc = await parent.describe()
        pending = sorted(desc.raw_description.pending_children, key=lambda c: c.workflow_id)
        assert [c.workflow_id for c in pending] == [f"{parent_id}-child-0", f"{parent_id}-child-1"]
        assert {c.workflow_type_name for c in pending} == {"WaitingChildWorkflow"}
        assert [c.parent_close_policy for c in pending] == [
            ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
            ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON,
        ]
        events = await history_events(parent)
        initiated_ids = [
            e.event_id
            for e in events
            if event_type_name(e) == "START_CHILD_WORKFLOW_EXECUTION_INITIATED"
        ]
        assert [c.initiated_id for c in pending] == initiated_ids
        for child in pending:
            assert child.run_id
            child_desc = await client.get_workflow_handle(child.workflow_id).describe()
            assert child_desc.run_id == child.run_id
            assert child_desc.parent_id == parent_id
            assert child_desc.parent_run_id == parent.first_execution_run_id
            assert (
                child_desc.raw_description.workflow_execution_info.root_execution.workflow_id
                == (parent_id)
            )

        # A completed child is no longer pending.
        first_child = client.get_workflow_handle(pending[0].workflow_id)
        await first_child.signal(WaitingChildWorkflow.release)
        await first_child.result()

        async def one_pending() -> bool:
            return len((await parent.describe()).raw_description.pending_children) == 1

        await wait_for(one_pending, message="one child left")
        await parent.terminate()


async def ensure_search_attributes(client: Client) -> None:
    wanted = {
        STAGE_KEY.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        SCORE_KEY.name: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    }
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    missing = {k: v for k, v in wanted.items() if k not in listed.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace="default", search_attributes=missing)
        )

    async def registered() -> bool:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        return all(listed.custom_attributes.get(k) == v for k, v in wanted.items())

    await wait_for(registered, message="search attributes registered")


async def test_upserted_memo_and_search_attributes_in_describe(
    client: Client, task_queue: str
) -> None:
    await ensure_search_attributes(client)
    async with running_worker(client, task_queue, workflows=[UpsertingWorkflow]):
        handle = await client.start_workflow(
            UpsertingWorkflow.run,
            id=unique("upsert"),
            task_queue=task_queue,
            memo={"owner": "ops", "note": "initial"},
        )
        await wait_for(lambda: _has(handle, "WORKFLOW_PROPERTIES_MODIFIED"), message="upserted")
        desc = await handle.describe()
        assert desc.typed_search_attributes.get(STAGE_KEY) == "packed"
        assert desc.typed_search_attributes.get(SCORE_KEY) == 7
        assert await desc.memo() == {"owner": "ops", "note": "first", "dropped": "soon"}

        await handle.signal(UpsertingWorkflow.release)
        assert await handle.result() == "upserted"

    desc = await handle.describe()
    assert desc.typed_search_attributes.get(STAGE_KEY) == "shipped"
    assert desc.typed_search_attributes.get(SCORE_KEY) == 7
    # Upserting a memo key to None removes it.
    assert await desc.memo() == {"owner": "ops", "note": "second"}

    events = await history_events(handle)
    types = [event_type_name(e) for e in events]
    assert types[4:6] == ["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", "WORKFLOW_PROPERTIES_MODIFIED"]
    upsert = events[4].upsert_workflow_search_attributes_event_attributes
    assert upsert.workflow_task_completed_event_id == 4
    assert set(upsert.search_attributes.indexed_fields) == {STAGE_KEY.name, SCORE_KEY.name}
    modified = events[5].workflow_properties_modified_event_attributes
    assert modified.workflow_task_completed_event_id == 4
    assert set(modified.upserted_memo.fields) == {"note", "dropped"}
    # The removal is recorded as a null payload in the event.
    last_modified = [e for e in events if event_type_name(e) == "WORKFLOW_PROPERTIES_MODIFIED"][-1]
    dropped = last_modified.workflow_properties_modified_event_attributes.upserted_memo.fields[
        "dropped"
    ]
    assert await decode(dropped) is None

    async def listed_by_stage() -> bool:
        query = f"{STAGE_KEY.name} = 'shipped' AND WorkflowId = '{handle.id}'"
        return len([w async for w in client.list_workflows(query)]) == 1

    await wait_for(listed_by_stage, message="visible to list by search attribute")


async def test_query_closed_workflow_and_reject_condition(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 30.0, id=unique("closed-query"), task_queue=task_queue
        )
        await handle.signal(ApprovalWorkflow.decide, Decision(approved=True, approver="kim"))
        assert await handle.result() == "approved by kim"
        # A worker answers by replaying the closed workflow's history.
        assert await handle.query(ApprovalWorkflow.status) == "approved"
        with pytest.raises(WorkflowQueryRejectedError) as exc_info:
            await handle.query(
                ApprovalWorkflow.status,
                reject_condition=QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN,
            )
        assert exc_info.value.status == WorkflowExecutionStatus.COMPLETED
        # NOT_COMPLETED_CLEANLY only rejects runs that did not complete.
        clean = await handle.query(
            ApprovalWorkflow.status,
            reject_condition=QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY,
        )
        assert clean == "approved"
    terminated = await client.start_workflow(
        ApprovalWorkflow.run, 30.0, id=unique("closed-query"), task_queue=task_queue
    )
    await terminated.terminate()
    with pytest.raises(WorkflowQueryRejectedError) as rejected:
        await terminated.query(
            ApprovalWorkflow.status,
            reject_condition=QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY,
        )
    assert rejected.value.status == WorkflowExecutionStatus.TERMINATED


async def _has(handle: WorkflowHandle[Any, Any], name: str) -> bool:
    return name in await event_types(handle)
