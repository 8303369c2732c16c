"""SIGKILL the server mid-workflow, restart it on the same database file and port."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from .harness import ServerProcess, event_types, has_event, running_worker, unique, wait_for
from .workflows import MultiStepWorkflow, StepActivities


async def test_workflow_completes_exactly_once_across_server_crash(
    server_kind: str, tmp_path: Path
) -> None:
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "crash.db"))
    client: Client = await server.start()
    try:
        acts = StepActivities()
        task_queue = unique("crash")
        async with running_worker(
            client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
        ):
            handle = await client.start_workflow(
                MultiStepWorkflow.run, 2.0, id=unique("crash"), task_queue=task_queue
            )
            await wait_for(
                lambda: has_event(handle, "TIMER_STARTED"), within=15, message="timer started"
            )
            assert acts.executions == {"a": 1, "b": 1}

            server.kill()
            assert not server.is_running()
            await server.restart()

            # The same client and worker reconnect on their own once the port answers again.
            assert await handle.result() == ["a", "b", "c", "d"]

        assert acts.executions == {"a": 1, "b": 1, "c": 1, "d": 1}
        types = await event_types(handle)
        assert types.count("ACTIVITY_TASK_SCHEDULED") == 4
        assert types.count("ACTIVITY_TASK_COMPLETED") == 4
        assert types.count("TIMER_STARTED") == 1
        assert types.count("TIMER_FIRED") == 1
        assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    finally:
        server.kill()


async def test_completed_workflow_survives_restart(server_kind: str, tmp_path: Path) -> None:
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "durable.db"))
    client = await server.start()
    try:
        acts = StepActivities()
        task_queue = unique("durable")
        async with running_worker(
            client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
        ):
            handle = await client.start_workflow(
                MultiStepWorkflow.run, 0.1, id=unique("durable"), task_queue=task_queue
            )
            assert await handle.result() == ["a", "b", "c", "d"]
        before = await event_types(handle)

        server.terminate()
        fresh = await server.restart()
        after_handle = fresh.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        assert await after_handle.result() == ["a", "b", "c", "d"]
        assert await event_types(after_handle) == before
    finally:
        server.kill()
