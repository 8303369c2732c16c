"""Batch operations: StartBatchOperation (terminate, cancel, signal, reset; by query
and by list), Describe/List/StopBatchOperation, the concurrency limit, and the CLI's
`workflow terminate --query` and `batch ...` commands. Every test also passes against
Temporal's dev server (PYTEMPORAL_TEST_SERVER=reference)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty
from temporalio import workflow
from temporalio.api.batch.v1 import (
    BatchOperationCancellation,
    BatchOperationDeletion,
    BatchOperationReset,
    BatchOperationSignal,
    BatchOperationTermination,
)
from temporalio.api.common.v1 import ResetOptions, WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    DescribeBatchOperationResponse,
    ListBatchOperationsRequest,
    StartBatchOperationRequest,
    StopBatchOperationRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from .harness import (
    ServerProcess,
    event_types,
    is_pytemporal,
    reference_binary,
    running_worker,
    unique,
    wait_for,
)

COMPLETED = BatchOperationState.BATCH_OPERATION_STATE_COMPLETED


@workflow.defn
class WaitingWorkflow:
    """Waits for a signal named "go"; ends when it comes, or when cancelled."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.go = True


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "20s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def _start_waiting(
    client: Client, task_queue: str, prefix: str, n: int
) -> list[WorkflowHandle[Any, Any]]:
    return [
        await client.start_workflow(WaitingWorkflow.run, id=f"{prefix}-{i}", task_queue=task_queue)
        for i in range(n)
    ]


async def _visible(client: Client, query: str, n: int) -> None:
    async def count() -> bool:
        return (await client.count_workflows(query)).count == n

    await wait_for(count, within=20, message=f"{n} workflows visible")


async def _finished(client: Client, job_id: str) -> DescribeBatchOperationResponse:
    async def done() -> DescribeBatchOperationResponse | None:
        resp = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
        )
        return resp if resp.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING else None

    return await wait_for(done, within=30, message=f"batch {job_id} done")


async def _status(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionStatus | None:
    return (await handle.describe()).status


async def _wait_batches_done(client: Client) -> None:
    """Until no job runs (the namespace allows one at a time)."""

    async def idle() -> bool:
        resp = await client.workflow_service.list_batch_operations(
            ListBatchOperationsRequest(namespace=client.namespace)
        )
        running = BatchOperationState.BATCH_OPERATION_STATE_RUNNING
        return all(o.state != running for o in resp.operation_info)

    await wait_for(idle, within=30, message="no batch running")


async def test_terminate_by_query(client: Client, task_queue: str) -> None:
    await _wait_batches_done(client)
    prefix = unique("bq")
    handles = await _start_waiting(client, task_queue, prefix, 3)
    query = f"WorkflowId STARTS_WITH '{prefix}'"
    await _visible(client, query, 3)
    job_id = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace,
            job_id=job_id,
            visibility_query=query,
            reason="cleanup",
            termination_operation=BatchOperationTermination(identity="batcher"),
        )
    )
    resp = await _finished(client, job_id)
    assert resp.state == COMPLETED
    assert resp.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW
    assert (resp.total_operation_count, resp.complete_operation_count) == (3, 3)
    assert resp.failure_operation_count == 0
    assert resp.reason == "cleanup" and resp.identity == "batcher"
    assert resp.close_time.seconds >= resp.start_time.seconds
    assert resp.query == query
    for h in handles:
        assert await _status(h) == WorkflowExecutionStatus.TERMINATED
    listed = await client.workflow_service.list_batch_operations(
        ListBatchOperationsRequest(namespace=client.namespace)
    )
    assert job_id in [o.job_id for o in listed.operation_info]


async def test_signal_and_cancel_by_list(client: Client, task_queue: str) -> None:
    await _wait_batches_done(client)
    prefix = unique("bl")
    async with running_worker(client, task_queue, workflows=[WaitingWorkflow]):
        handles = await _start_waiting(client, task_queue, prefix, 3)
        executions = [WorkflowExecution(workflow_id=h.id) for h in handles]
        signal_job = str(uuid.uuid4())
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=signal_job,
                executions=executions[:2],
                reason="release two",
                signal_operation=BatchOperationSignal(signal="release"),
            )
        )
        resp = await _finished(client, signal_job)
        assert resp.complete_operation_count == 2
        assert resp.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW
        for h in handles[:2]:
            assert await h.result() == "released"
        cancel_job = str(uuid.uuid4())
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=cancel_job,
                executions=executions[2:],
                reason="cancel the last",
                cancellation_operation=BatchOperationCancellation(),
            )
        )
        await _finished(client, cancel_job)

        async def cancelled() -> bool:
            return await _status(handles[2]) == WorkflowExecutionStatus.CANCELED

        await wait_for(cancelled, message="workflow cancelled")


async def test_reset_by_list(client: Client, task_queue: str) -> None:
    await _wait_batches_done(client)
    async with running_worker(client, task_queue, workflows=[WaitingWorkflow]):
        (handle,) = await _start_waiting(client, task_queue, unique("br"), 1)

        async def first_task_done() -> bool:
            return "WORKFLOW_TASK_COMPLETED" in await event_types(handle)

        await wait_for(first_task_done, message="first workflow task completed")
        job_id = str(uuid.uuid4())
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=job_id,
                executions=[WorkflowExecution(workflow_id=handle.id)],
                reason="reset it",
                reset_operation=BatchOperationReset(
                    options=ResetOptions(first_workflow_task=Empty())
                ),
            )
        )
        resp = await _finished(client, job_id)
        assert resp.complete_operation_count == 1
        described = await client.get_workflow_handle(handle.id).describe()
        assert described.run_id != handle.first_execution_run_id
        await client.get_workflow_handle(handle.id).terminate()


async def test_concurrency_limit_and_stop(client: Client) -> None:
    await _wait_batches_done(client)
    # 500 workflows that do not exist (each counts as done) take both servers about
    # 10 s at their default 50 operations per second: the job is still running.
    missing = [WorkflowExecution(workflow_id=unique("missing")) for _ in range(500)]
    first = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace,
            job_id=first,
            executions=missing,
            reason="slow",
            termination_operation=BatchOperationTermination(),
        )
    )

    async def listed_running() -> bool:
        # Temporal counts running jobs in visibility, which lags the start a little.
        resp = await client.workflow_service.list_batch_operations(
            ListBatchOperationsRequest(namespace=client.namespace)
        )
        running = BatchOperationState.BATCH_OPERATION_STATE_RUNNING
        return any(o.job_id == first and o.state == running for o in resp.operation_info)

    await wait_for(listed_running, message="job listed as running")
    with pytest.raises(RPCError) as err:
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=str(uuid.uuid4()),
                executions=missing[:1],
                reason="second",
                termination_operation=BatchOperationTermination(),
            )
        )
    assert err.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert err.value.message == "Max concurrent batch operations is reached"
    await client.workflow_service.stop_batch_operation(
        StopBatchOperationRequest(namespace=client.namespace, job_id=first, reason="enough")
    )
    resp = await _finished(client, first)
    assert resp.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    assert resp.complete_operation_count < 500
    with pytest.raises(RPCError) as err:
        await client.workflow_service.stop_batch_operation(
            StopBatchOperationRequest(namespace=client.namespace, job_id=first, reason="again")
        )
    assert err.value.status == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"reason": "r", "termination_operation": BatchOperationTermination()},
            "must provide required parameters: BatchType,Reason,Namespace, AND one of "
            "(Query OR Executions OR TargetExecutions)",
        ),
        (
            {
                "reason": "r",
                "visibility_query": "WorkflowType = 'x'",
                "termination_operation": BatchOperationTermination(),
            },
            "JobId is not set on request.",
        ),
        (
            {
                "job_id": "j",
                "reason": "r",
                "visibility_query": "WorkflowType = 'x'",
                "executions": [WorkflowExecution(workflow_id="w")],
                "termination_operation": BatchOperationTermination(),
            },
            "visibility query, executions, and target executions are mutually exclusive",
        ),
    ],
)
async def test_start_rejects(client: Client, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(namespace=client.namespace, **kwargs)
        )
    assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert err.value.message == message


async def test_describe_unknown_job(client: Client) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=unique("nojob"))
        )
    assert err.value.status == grpc.StatusCode.NOT_FOUND.value[0]


async def test_cli_terminate_by_query_and_batch_commands(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    await _wait_batches_done(client)
    prefix = unique("bc")
    handles = await _start_waiting(client, task_queue, prefix, 2)
    query = f"WorkflowId STARTS_WITH '{prefix}'"
    await _visible(client, query, 2)
    done = await asyncio.to_thread(
        _cli, server, "workflow", "terminate", "--query", query, "--reason", "cli", "--yes"
    )
    assert done.returncode == 0, done.stderr

    async def all_terminated() -> bool:
        statuses = [await _status(h) for h in handles]
        return all(s == WorkflowExecutionStatus.TERMINATED for s in statuses)

    await wait_for(all_terminated, within=30, message="terminated by the CLI's batch")
    listed = await asyncio.to_thread(_cli, server, "batch", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert jobs
    job_id = jobs[0]["jobId"]
    await _finished(client, job_id)
    shown = await asyncio.to_thread(_cli, server, "batch", "describe", "--job-id", job_id)
    assert shown.returncode == 0, shown.stderr
    stop = await asyncio.to_thread(
        _cli, server, "batch", "terminate", "--job-id", job_id, "--reason", "late"
    )
    # The job is over: Temporal answers NOT_FOUND ("already completed").
    assert stop.returncode != 0


async def test_batch_survives_a_server_crash(server_kind: str, tmp_path: Path) -> None:
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "batch.db"))
    client = await server.start()
    try:
        task_queue = unique("crash-batch")
        handles = await _start_waiting(client, task_queue, unique("bk"), 3)
        job_id = str(uuid.uuid4())
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=job_id,
                executions=[WorkflowExecution(workflow_id=h.id) for h in handles],
                reason="across a crash",
                max_operations_per_second=1,
                termination_operation=BatchOperationTermination(),
            )
        )

        async def some_terminated() -> bool:
            return await _status(handles[0]) == WorkflowExecutionStatus.TERMINATED

        await wait_for(some_terminated, message="first target terminated")
        server.kill()
        await server.restart()
        resp = await _finished(client, job_id)
        assert resp.state == COMPLETED
        assert resp.complete_operation_count == 3
        for h in handles:
            assert await _status(h) == WorkflowExecutionStatus.TERMINATED
    finally:
        server.kill()


async def test_cli_signal_cancel_and_reset_by_query(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[WaitingWorkflow]):
        prefix = unique("bcli")
        handles = await _start_waiting(client, task_queue, prefix, 3)
        first, second, third = handles

        async def cli_batch(wf: WorkflowHandle[Any, Any], *args: str) -> None:
            await _wait_batches_done(client)
            query = f"WorkflowId = '{wf.id}'"
            await _visible(client, query, 1)
            done = await asyncio.to_thread(
                _cli, server, "workflow", *args, "--query", query, "--reason", "cli", "--yes"
            )
            assert done.returncode == 0, done.stderr

        await cli_batch(first, "signal", "--name", "release")
        assert await first.result() == "released"

        await cli_batch(second, "cancel")

        async def cancelled() -> bool:
            return await _status(second) == WorkflowExecutionStatus.CANCELED

        await wait_for(cancelled, within=30, message="cancelled by the CLI's batch")

        async def first_task_done() -> bool:
            return "WORKFLOW_TASK_COMPLETED" in await event_types(third)

        await wait_for(first_task_done, message="first workflow task completed")
        await cli_batch(third, "reset", "--type", "FirstWorkflowTask")

        async def reset_done() -> bool:
            return (await client.get_workflow_handle(third.id).describe()).run_id != (
                third.first_execution_run_id
            )

        await wait_for(reset_done, within=30, message="reset by the CLI's batch")
        await client.get_workflow_handle(third.id).terminate()
        await _wait_batches_done(client)


async def test_delete_by_list(server: ServerProcess, client: Client, task_queue: str) -> None:
    await _wait_batches_done(client)
    handles = await _start_waiting(client, task_queue, unique("bd"), 2)
    job_id = str(uuid.uuid4())
    try:
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=job_id,
                executions=[WorkflowExecution(workflow_id=h.id) for h in handles],
                reason="delete them",
                deletion_operation=BatchOperationDeletion(),
            )
        )
    except RPCError as e:
        if is_pytemporal(server.kind) and e.status == grpc.StatusCode.UNIMPLEMENTED.value[0]:
            # BatchTargets gets its deleter when DeleteWorkflowExecution is merged in.
            pytest.skip("this build has no DeleteWorkflowExecution for batches")
        raise
    resp = await _finished(client, job_id)
    assert resp.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_DELETE_WORKFLOW
    assert resp.complete_operation_count == 2

    async def gone() -> bool:
        for h in handles:
            try:
                await h.describe()
                return False
            except RPCError as e:
                if e.status != grpc.StatusCode.NOT_FOUND.value[0]:
                    raise
        return True

    await wait_for(gone, within=30, message="workflows deleted")
