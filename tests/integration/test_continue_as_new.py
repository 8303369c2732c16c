"""Continue-as-new: a chain of runs under one workflow id, linked both ways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import ContinueAsNewInitiator
from temporalio.api.errordetails.v1 import NotFoundFailure
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import ContinueAsNewWorkflow, RunChain

CONTINUED_RUN_TYPES = [
    "WORKFLOW_EXECUTION_STARTED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
]


async def test_continue_as_new_five_times(client: Client, task_queue: str) -> None:
    workflow_id = unique("can")
    async with running_worker(client, task_queue, workflows=[ContinueAsNewWorkflow]):
        first = await client.start_workflow(
            ContinueAsNewWorkflow.run, args=[5, None], id=workflow_id, task_queue=task_queue
        )
        first_run = first.first_execution_run_id
        assert first_run is not None
        # A handle pinned to the first run follows the chain to the last run's result.
        pinned = client.get_workflow_handle_for(
            ContinueAsNewWorkflow.run, workflow_id, run_id=first_run
        )
        chain = await pinned.result()

    assert isinstance(chain, RunChain)
    assert chain.count == 5
    assert chain.first_execution_run_id == first_run
    assert len(chain.continued_run_ids) == 5
    assert chain.continued_run_ids[0] == first_run
    assert len(set(chain.continued_run_ids)) == 5

    # Without following runs, the first run reports that it continued as new.
    with pytest.raises(WorkflowContinuedAsNewError) as exc_info:
        await pinned.result(follow_runs=False)
    assert exc_info.value.new_execution_run_id == chain.continued_run_ids[1]

    # Walk the chain through the histories: each run's last event names the next run,
    # and each next run's started event points back.
    run_ids = [first_run]
    for index in range(5):
        events = await history_events(client.get_workflow_handle(workflow_id, run_id=run_ids[-1]))
        assert [event_type_name(e) for e in events] == CONTINUED_RUN_TYPES
        continued = events[-1].workflow_execution_continued_as_new_event_attributes
        assert continued.workflow_type.name == "ContinueAsNewWorkflow"
        assert continued.task_queue.name == task_queue
        assert continued.workflow_task_completed_event_id == 4
        # The initiator is only recorded on the next run's started event.
        assert continued.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED
        next_run = continued.new_execution_run_id
        started = (await history_events(client.get_workflow_handle(workflow_id, run_id=next_run)))[
            0
        ].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id == run_ids[-1]
        assert started.first_execution_run_id == first_run
        assert started.original_execution_run_id == next_run
        assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW
        assert started.attempt == 1
        # history.workflowIdReuseMinimalInterval (1 s): a run continued less than 1 s
        # after its start has its first workflow task delayed to keep that spacing.
        backoff = started.first_workflow_task_backoff.ToTimedelta()
        assert timedelta(0) < backoff <= timedelta(seconds=1)
        assert (
            events[-1].event_time
            == (await history_events(client.get_workflow_handle(workflow_id, run_id=next_run)))[
                0
            ].event_time
        )
        assert index + 1 == len(run_ids)
        run_ids.append(next_run)
    assert run_ids[1:] == chain.continued_run_ids[1:] + [run_ids[-1]]

    # The latest run is what an unpinned handle describes; it knows the first run.
    latest = await client.get_workflow_handle(workflow_id).describe()
    assert latest.run_id == run_ids[-1]
    assert latest.status == WorkflowExecutionStatus.COMPLETED
    assert latest.raw_description.workflow_execution_info.first_run_id == first_run
    # Earlier runs are closed with status CONTINUED_AS_NEW.
    first_desc = await client.get_workflow_handle(workflow_id, run_id=first_run).describe()
    assert first_desc.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert first_desc.raw_description.workflow_execution_info.first_run_id == first_run

    async def six_runs_listed() -> bool:
        runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        return len(runs) == 6

    await wait_for(six_runs_listed, message="six runs visible")


async def test_first_handle_targets_the_current_run_of_its_chain(
    client: Client, task_queue: str
) -> None:
    # A handle from start_workflow carries the first run id; terminate sends it as
    # first_execution_run_id and the server applies it to whichever run is current.
    workflow_id = unique("can-term")
    async with running_worker(client, task_queue, workflows=[ContinueAsNewWorkflow]):
        first = await client.start_workflow(
            ContinueAsNewWorkflow.run, args=[2, None, True], id=workflow_id, task_queue=task_queue
        )

        async def last_run_waiting() -> str | None:
            # Only the third run (count 2 == target) starts a timer.
            run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
            current = client.get_workflow_handle(workflow_id, run_id=run_id)
            return run_id if "TIMER_STARTED" in await event_types(current) else None

        latest_run = await wait_for(last_run_waiting, message="third run waiting on its timer")
        # A first_execution_run_id that is not this chain's does not match the current run.
        stranger = client.get_workflow_handle(workflow_id, first_execution_run_id=latest_run)
        with pytest.raises(RPCError) as exc_info:
            await stranger.terminate()
        assert exc_info.value.status == RPCStatusCode.NOT_FOUND
        assert exc_info.value.message == "workflow execution not found"
        assert exc_info.value.grpc_status.details[0].Is(NotFoundFailure.DESCRIPTOR)

        await first.terminate(reason="stop the chain")
        desc = await client.get_workflow_handle(workflow_id, run_id=latest_run).describe()
        assert desc.status == WorkflowExecutionStatus.TERMINATED
