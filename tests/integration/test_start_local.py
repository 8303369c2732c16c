"""The SDK's own test harness launches the server binary itself."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from .harness import dev_server_path, running_worker, unique
from .workflows import HelloWorkflow


async def test_workflow_environment_start_local(server_kind: str) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path(server_kind)
    )
    async with env:
        task_queue = unique("start-local")
        async with running_worker(env.client, task_queue, workflows=[HelloWorkflow]):
            result = await env.client.execute_workflow(
                HelloWorkflow.run, "env", id=unique("start-local"), task_queue=task_queue
            )
        assert result == "hello env"
