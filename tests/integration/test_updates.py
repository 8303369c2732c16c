"""Workflow updates: accepted, rejected, wait stages, dedup, closed workflows, with-start."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.errordetails.v1 import (
    MultiOperationExecutionFailure,
    NotFoundFailure,
    WorkflowExecutionAlreadyStartedFailure,
)
from temporalio.api.failure.v1 import MultiOperationExecutionAborted
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.api.update.v1 import WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import UpdatableWorkflow

Stage = UpdateWorkflowExecutionLifecycleStage


async def started_cart(
    client: Client, task_queue: str
) -> WorkflowHandle[UpdatableWorkflow, list[str]]:
    handle = await client.start_workflow(
        UpdatableWorkflow.run, id=unique("cart"), task_queue=task_queue
    )
    await wait_for(lambda: _first_task_done(handle), message="first workflow task completed")
    return handle


async def _first_task_done(handle: WorkflowHandle[UpdatableWorkflow, list[str]]) -> bool:
    return "WORKFLOW_TASK_COMPLETED" in await event_types(handle)


async def test_update_accepted_and_returns_value(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        assert await handle.execute_update(UpdatableWorkflow.add_item, "apple", id="upd-1") == 1
        assert await handle.execute_update(UpdatableWorkflow.add_item, "pear") == 2
        await handle.signal(UpdatableWorkflow.finish)
        assert await handle.result() == ["apple", "pear"]

    events = await history_events(handle)
    types = [event_type_name(e) for e in events]
    assert types[4:9] == [
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
        "WORKFLOW_EXECUTION_UPDATE_COMPLETED",
    ]
    assert types.count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 2
    assert types.count("WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 2
    accepted = events[7].workflow_execution_update_accepted_event_attributes
    assert accepted.protocol_instance_id == "upd-1"
    assert accepted.accepted_request.meta.update_id == "upd-1"
    assert accepted.accepted_request.input.name == "add_item"
    assert accepted.accepted_request_sequencing_event_id == 5
    assert accepted.accepted_request_message_id == "upd-1/request"
    completed = events[8].workflow_execution_update_completed_event_attributes
    assert completed.meta.update_id == "upd-1"
    assert completed.accepted_event_id == 8
    assert completed.outcome.success.payloads[0].data == b"1"


async def test_update_rejected_by_validator_leaves_no_history(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        before = await history_events(handle)
        with pytest.raises(WorkflowUpdateFailedError) as exc_info:
            await handle.execute_update(UpdatableWorkflow.add_item, "", id="empty")
        # The rejected update's workflow task is dropped: no new event at all.
        after = await history_events(handle)
        assert after == before
        assert await handle.query(UpdatableWorkflow.handler_runs) == 0
        # The workflow still works afterwards.
        assert await handle.execute_update(UpdatableWorkflow.add_item, "kiwi") == 1
        await handle.signal(UpdatableWorkflow.finish)
        assert await handle.result() == ["kiwi"]

    cause = exc_info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "item must not be empty"
    assert cause.type == "ValueError"
    assert str(exc_info.value) == "Workflow update failed"
    types = await event_types(handle)
    assert types.count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 1
    assert "WORKFLOW_EXECUTION_UPDATE_REJECTED" not in types


async def test_update_handler_failure_completes_with_failure(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as exc_info:
            await handle.execute_update(UpdatableWorkflow.broken_update, id="broken")
        await handle.signal(UpdatableWorkflow.finish)
        await handle.result()
    cause = exc_info.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.message, cause.type) == ("update handler failed", "UpdateBroke")
    events = await history_events(handle)
    (completed,) = [
        e.workflow_execution_update_completed_event_attributes
        for e in events
        if e.HasField("workflow_execution_update_completed_event_attributes")
    ]
    assert completed.meta.update_id == "broken"
    assert completed.outcome.failure.application_failure_info.type == "UpdateBroke"


async def test_start_update_wait_stages(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        update = await handle.start_update(
            UpdatableWorkflow.slow_add,
            "plum",
            id="slow",
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        assert update.id == "slow"
        assert update.workflow_id == handle.id
        assert await has_accepted(handle, "slow")
        assert not await has_completed(handle, "slow")

        # A second caller can poll the same update by id, and a raw UpdateWorkflowExecution
        # for the same id waiting only for ACCEPTED reports the stage reached.
        polled = handle.get_update_handle_for(UpdatableWorkflow.slow_add, "slow")
        response = await client.workflow_service.update_workflow_execution(
            UpdateWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=update_target(handle),
                wait_policy=WaitPolicy(
                    lifecycle_stage=Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
                ),
                request=UpdateRequest(meta={"update_id": "slow"}, input={"name": "slow_add"}),
            )
        )
        assert response.stage == (Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED)
        assert not response.outcome.HasField("success")
        assert response.update_ref.update_id == "slow"

        await handle.signal(UpdatableWorkflow.open_gate)
        assert await update.result() == 1
        assert await polled.result() == 1
        await handle.signal(UpdatableWorkflow.finish)
        assert await handle.result() == ["plum"]


def raw_update(
    handle: WorkflowHandle[UpdatableWorkflow, list[str]],
    stage: UpdateWorkflowExecutionLifecycleStage.ValueType,
    item: str | None,
    update_id: str = "",
) -> UpdateWorkflowExecutionRequest:
    args = {}
    if item is not None:
        args = {
            "payloads": [{"metadata": {"encoding": b"json/plain"}, "data": f'"{item}"'.encode()}]
        }
    return UpdateWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=update_target(handle),
        wait_policy=WaitPolicy(lifecycle_stage=stage),
        request=UpdateRequest(
            meta={"update_id": update_id}, input={"name": "add_item", "args": args}
        ),
    )


async def test_raw_update_wait_policies_and_links(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        service = client.workflow_service
        # Waiting only for ADMITTED is refused.
        with pytest.raises(RPCError) as exc_info:
            await service.update_workflow_execution(
                raw_update(handle, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED, "a")
            )
        assert exc_info.value.status == RPCStatusCode.PERMISSION_DENIED
        assert exc_info.value.message == (
            "UpdateWorkflowExecution issued asynchronously and waiting on update admitted"
            " is not supported."
        )
        # UNSPECIFIED waits for completion; an empty update id gets a generated one.
        accepted = await service.update_workflow_execution(
            raw_update(handle, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED, "b")
        )
        assert accepted.stage == Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
        assert accepted.outcome.success.payloads[0].data == b"1"
        assert len(accepted.update_ref.update_id) == 36  # a UUID
        assert accepted.update_ref.workflow_execution.workflow_id == handle.id
        assert accepted.update_ref.workflow_execution.run_id == handle.first_execution_run_id
        event_link = accepted.link.workflow_event
        assert event_link.workflow_id == handle.id
        assert event_link.request_id_ref.event_type == (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        )
        # A rejection is a completed outcome carrying the validator's failure.
        rejected = await service.update_workflow_execution(
            raw_update(handle, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED, "", "rej")
        )
        assert rejected.stage == Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
        assert rejected.outcome.failure.message == "item must not be empty"
        assert rejected.outcome.failure.application_failure_info.type == "ValueError"
        assert rejected.link.workflow.workflow_id == handle.id
        assert rejected.link.workflow.reason == "Update rejected"
        await handle.terminate()


async def test_update_id_is_deduplicated(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        first = await handle.execute_update(UpdatableWorkflow.add_item, "fig", id="same")
        again = await handle.execute_update(UpdatableWorkflow.add_item, "fig", id="same")
        # Even with a different argument, a known id returns the recorded outcome.
        third = await handle.execute_update(UpdatableWorkflow.add_item, "other", id="same")
        assert first == again == third == 1
        assert await handle.query(UpdatableWorkflow.handler_runs) == 1
        await handle.signal(UpdatableWorkflow.finish)
        assert await handle.result() == ["fig"]
    types = await event_types(handle)
    assert types.count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 1
    assert types.count("WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 1


async def test_completed_update_result_survives_workflow_close(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        assert await handle.execute_update(UpdatableWorkflow.add_item, "nut", id="kept") == 1
        await handle.signal(UpdatableWorkflow.finish)
        await handle.result()
    # The same id on the closed workflow is answered from history.
    assert await handle.execute_update(UpdatableWorkflow.add_item, "nut", id="kept") == 1
    assert await handle.get_update_handle_for(UpdatableWorkflow.add_item, "kept").result() == 1


async def test_update_on_closed_workflow(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        await handle.signal(UpdatableWorkflow.finish)
        await handle.result()
    with pytest.raises(RPCError) as exc_info:
        await handle.execute_update(UpdatableWorkflow.add_item, "late", id="late")
    # The SDK surfaces the gRPC error as is.
    err = exc_info.value
    assert err.status == RPCStatusCode.NOT_FOUND
    assert err.message == "workflow execution already completed"
    assert err.grpc_status.details[0].Is(NotFoundFailure.DESCRIPTOR)
    # Polling an update id the workflow never saw:
    with pytest.raises(RPCError) as poll_info:
        await handle.get_update_handle("never-sent").result()
    assert poll_info.value.status == RPCStatusCode.NOT_FOUND
    assert poll_info.value.message == 'update "never-sent" not found'
    assert poll_info.value.grpc_status.details[0].Is(NotFoundFailure.DESCRIPTOR)


async def test_poll_unknown_update_on_running_workflow(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        handle = await started_cart(client, task_queue)
        with pytest.raises(RPCError) as exc_info:
            await handle.get_update_handle("never-sent").result()
        await handle.terminate()
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    assert exc_info.value.message == 'update "never-sent" not found'


async def test_update_with_start(client: Client, task_queue: str) -> None:
    workflow_id = unique("uws")

    def start_op() -> WithStartWorkflowOperation[UpdatableWorkflow, list[str]]:
        return WithStartWorkflowOperation(
            UpdatableWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async with running_worker(client, task_queue, workflows=[UpdatableWorkflow]):
        first_op = start_op()
        result = await client.execute_update_with_start_workflow(
            UpdatableWorkflow.add_item, "egg", start_workflow_operation=first_op
        )
        assert result == 1
        handle = await first_op.workflow_handle()
        assert handle.id == workflow_id
        first_run = handle.first_execution_run_id
        assert first_run

        # With USE_EXISTING the second call updates the running workflow.
        second_op = start_op()
        assert (
            await client.execute_update_with_start_workflow(
                UpdatableWorkflow.add_item, "ham", start_workflow_operation=second_op
            )
            == 2
        )
        assert (await second_op.workflow_handle()).first_execution_run_id == first_run

        # With FAIL the start part fails because the workflow is running.
        failing_op = WithStartWorkflowOperation(
            UpdatableWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        with pytest.raises(WorkflowAlreadyStartedError) as exc_info:
            await client.execute_update_with_start_workflow(
                UpdatableWorkflow.add_item, "jam", start_workflow_operation=failing_op
            )
        with pytest.raises(WorkflowAlreadyStartedError):
            await failing_op.workflow_handle()
        # The server answers ALREADY_EXISTS "Update-with-Start could not be executed."
        # with a MultiOperationExecutionFailure: one status per operation, the start's
        # ALREADY_EXISTS (WorkflowExecutionAlreadyStartedFailure) and the update's
        # ABORTED "Operation was aborted." (MultiOperationExecutionAborted).
        rpc_error = rpc_error_behind(exc_info.value)
        assert rpc_error.status == RPCStatusCode.ALREADY_EXISTS
        assert rpc_error.message == "Update-with-Start could not be executed."
        failure = MultiOperationExecutionFailure()
        assert rpc_error.grpc_status.details[0].Unpack(failure)
        start_status, update_status = failure.statuses
        assert start_status.code == RPCStatusCode.ALREADY_EXISTS
        assert start_status.message == (
            f"Workflow execution is already running. WorkflowId: {workflow_id}, RunId: {first_run}."
        )
        already = WorkflowExecutionAlreadyStartedFailure()
        assert start_status.details[0].Unpack(already)
        assert already.run_id == first_run
        assert update_status.code == RPCStatusCode.ABORTED
        assert update_status.message == "Operation was aborted."
        assert update_status.details[0].Is(MultiOperationExecutionAborted.DESCRIPTOR)

        await handle.signal(UpdatableWorkflow.finish)
        assert await handle.result() == ["egg", "ham"]

    # The first update rode on the first workflow task, right after the start.
    assert (await event_types(handle))[:6] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
        "WORKFLOW_EXECUTION_UPDATE_COMPLETED",
    ]


def rpc_error_behind(err: BaseException) -> RPCError:
    """The RPCError the SDK was handling when it raised ``err``."""
    current: BaseException | None = err
    while current is not None and not isinstance(current, RPCError):
        current = current.__cause__ or current.__context__
    assert isinstance(current, RPCError), f"no RPCError behind {err!r}"
    return current


def update_target(handle: WorkflowHandle[UpdatableWorkflow, list[str]]) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=handle.id)


async def has_accepted(
    handle: WorkflowHandle[UpdatableWorkflow, list[str]], update_id: str
) -> bool:
    return any(
        e.workflow_execution_update_accepted_event_attributes.protocol_instance_id == update_id
        for e in await history_events(handle)
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    )


async def has_completed(
    handle: WorkflowHandle[UpdatableWorkflow, list[str]], update_id: str
) -> bool:
    return any(
        e.workflow_execution_update_completed_event_attributes.meta.update_id == update_id
        for e in await history_events(handle)
        if e.HasField("workflow_execution_update_completed_event_attributes")
    )
