"""Worker deployments across `server start` processes: each keeps its own copy of the
deployments and re-reads the rows every 5 s, so a routing change made through one
process reaches the process that serves the task queue."""

from __future__ import annotations

from temporalio.client import Client

from .harness import unique, wait_for
from .test_scale_out import ClusterServer, cluster  # noqa: F401 (the fixture)
from .test_worker_deployments import (
    describe,
    query_version,
    start,
    versioned_worker,
    wait_visible,
)
from .workflows_versioned import PinnedV1, PinnedV2


async def set_current_via(client: Client, deployment: str, build: str) -> None:
    from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest

    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=deployment, build_id=build
        )
    )


async def test_routing_changes_reach_every_process(
    cluster: list[ClusterServer],  # noqa: F811
) -> None:
    a, b, c = [await s.connect() for s in cluster]
    dep, task_queue = unique("dep"), unique("tq")
    async with (
        versioned_worker(a, task_queue, dep, "v1", [PinnedV1]),
        versioned_worker(a, task_queue, dep, "v2", [PinnedV2]),
    ):
        await wait_visible(b, dep, "v1", "v2")
        await set_current_via(b, dep, "v1")
        first = await start(c, task_queue, "PinnedWorkflow")

        async def on_v1() -> bool:
            desc = await first.describe()
            info = desc.raw_description.workflow_execution_info.versioning_info
            return info.deployment_version.build_id == "v1"

        # The task queue's process learns of the change at its next re-read (5 s).
        await wait_for(on_v1, within=30, interval=0.5, message="first run on v1")
        assert await query_version(first) == "v1"

        # Through a third process, whose copy may be older: its commit is conditional.
        await set_current_via(c, dep, "v2")
        info = (await describe(c, dep)).worker_deployment_info
        assert info.routing_config.current_deployment_version.build_id == "v2"

        async def lands_on_v2() -> bool:
            run = await start(a, task_queue, "PinnedWorkflow", wait=False)
            return await run.result() == "v2"

        await wait_for(lands_on_v2, within=30, interval=0.5, message="new runs on v2")
        await first.signal("finish")
        assert await first.result() == "v1"
