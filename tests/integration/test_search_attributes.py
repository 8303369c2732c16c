"""Search attributes must be registered (or predefined) before a workflow uses them."""

from __future__ import annotations

from temporalio import workflow
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from .harness import history_events, running_worker, unique, wait_for

UNREGISTERED = SearchAttributeKey.for_keyword("NeverRegisteredKeyword")


@workflow.defn(sandboxed=False)
class UpsertUnregisteredWorkflow:
    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes([UNREGISTERED.value_set("x")])
        return "done"


async def test_start_with_unregistered_attribute_is_rejected(
    client: Client, task_queue: str
) -> None:
    attrs = TypedSearchAttributes([SearchAttributePair(UNREGISTERED, "v")])
    workflow_id = unique("sa")
    try:
        await client.start_workflow(
            UpsertUnregisteredWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=attrs,
        )
    except RPCError as err:
        assert err.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.message == (
            "Namespace default has no mapping defined for search attribute NeverRegisteredKeyword"
        )
    else:
        raise AssertionError("the start was accepted")
    # Nothing was stored.
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
    else:
        raise AssertionError("a rejected start left a workflow behind")


async def test_upsert_of_unregistered_attribute_fails_the_task(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[UpsertUnregisteredWorkflow]):
        handle = await client.start_workflow(
            UpsertUnregisteredWorkflow.run, id=unique("sa"), task_queue=task_queue
        )

        async def task_failed() -> bool:
            return any(
                e.HasField("workflow_task_failed_event_attributes")
                for e in await history_events(handle)
            )

        await wait_for(task_failed, message="workflow task failed")
        await handle.terminate()
    failed = next(
        e.workflow_task_failed_event_attributes
        for e in await history_events(handle)
        if e.HasField("workflow_task_failed_event_attributes")
    )
    assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES
    assert failed.failure.message == (
        "BadSearchAttributes: Namespace default has no mapping defined for search attribute"
        " NeverRegisteredKeyword"
    )
