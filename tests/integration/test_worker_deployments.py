"""Worker deployments: versions, current and ramping routing, pinned and auto-upgrade
runs, overrides, drainage, and the `temporal worker deployment` commands.

Every test runs against pytemporal and, with PYTEMPORAL_TEST_SERVER=reference, against
Temporal's dev server (which applies routing changes asynchronously: the tests poll).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
from temporalio.api.enums.v1 import (
    VersionDrainageStatus,
    VersioningBehavior,
    WorkerDeploymentVersionStatus,
)
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    DeleteWorkerDeploymentRequest,
    DeleteWorkerDeploymentVersionRequest,
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentResponse,
    DescribeWorkerDeploymentVersionRequest,
    ListWorkerDeploymentsRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
    UpdateWorkerDeploymentVersionMetadataRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import PinnedVersioningOverride, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker, WorkerDeploymentConfig

from .harness import (
    ServerProcess,
    history_events,
    is_pytemporal,
    reference_binary,
    running_worker,
    unique,
    wait_for,
)
from .workflows_versioned import (
    AutoV1,
    AutoV2,
    PinnedActivityV1,
    PinnedActivityV2,
    PinnedV1,
    PinnedV2,
    which_build_v1,
    which_build_v2,
)

WITHIN = 30.0


@asynccontextmanager
async def versioned_worker(
    client: Client,
    task_queue: str,
    deployment: str,
    build: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]] = (),
) -> AsyncIterator[Worker]:
    config = WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=deployment, build_id=build),
        use_worker_versioning=True,
    )
    async with running_worker(
        client, task_queue, workflows=workflows, activities=activities, deployment_config=config
    ) as worker:
        yield worker


async def describe(client: Client, deployment: str) -> DescribeWorkerDeploymentResponse:
    return await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
    )


async def wait_visible(client: Client, deployment: str, *builds: str) -> bytes:
    """Wait until the deployment lists these versions; its conflict token."""

    async def visible() -> bytes | None:
        try:
            resp = await describe(client, deployment)
        except RPCError:
            return None
        have = {
            s.deployment_version.build_id for s in resp.worker_deployment_info.version_summaries
        }
        return (resp.conflict_token or b"-") if set(builds) <= have else None

    token = await wait_for(visible, within=WITHIN, message=f"versions {builds} visible")
    return b"" if token == b"-" else token


async def set_current(client: Client, deployment: str, build: str) -> bytes:
    resp = await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=deployment, build_id=build
        )
    )
    await wait_routing(client, deployment, build)
    return resp.conflict_token


async def set_ramping(client: Client, deployment: str, build: str, pct: float) -> bytes:
    resp = await client.workflow_service.set_worker_deployment_ramping_version(
        SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace, deployment_name=deployment, build_id=build, percentage=pct
        )
    )
    return resp.conflict_token


async def wait_routing(client: Client, deployment: str, current: str) -> None:
    """Temporal propagates routing to the task queues asynchronously."""

    async def done() -> bool:
        info = (await describe(client, deployment)).worker_deployment_info
        return (
            info.routing_config.current_deployment_version.build_id == current
            and info.routing_config_update_state == 2  # COMPLETED
        )

    await wait_for(done, within=WITHIN, message=f"{current} current")


async def query_version(handle: WorkflowHandle[Any, Any]) -> str:
    return str(await handle.query("version"))


async def start(
    client: Client, task_queue: str, wf_type: str, wait: bool = True, **kw: Any
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        wf_type, wait, id=unique(wf_type), task_queue=task_queue, result_type=str, **kw
    )


async def test_pinned_stay_on_their_version_while_new_runs_go_to_current(
    client: Client, task_queue: str
) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [PinnedV1]),
        versioned_worker(client, task_queue, dep, "v2", [PinnedV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        old = await start(client, task_queue, "PinnedWorkflow")
        assert await query_version(old) == "v1"

        await set_current(client, dep, "v2")
        new = await start(client, task_queue, "PinnedWorkflow")
        assert await query_version(new) == "v2"
        # The pinned run still runs on v1: its next task (the signal) goes there.
        await old.signal("finish")
        await new.signal("finish")
        assert await old.result() == "v1"
        assert await new.result() == "v2"

        info = (await old.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.behavior == VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
        assert info.deployment_version == VersionProto(deployment_name=dep, build_id="v1")
        attrs = (await new.describe()).raw_description.workflow_execution_info.search_attributes
        fields = attrs.indexed_fields
        assert json.loads(fields["TemporalWorkerDeploymentVersion"].data) == f"{dep}:v2"
        assert json.loads(fields["TemporalWorkflowVersioningBehavior"].data) == "Pinned"


async def test_a_pinned_runs_activities_run_on_its_version(client: Client, task_queue: str) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [PinnedActivityV1], [which_build_v1]),
        versioned_worker(client, task_queue, dep, "v2", [PinnedActivityV2], [which_build_v2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        old = await start(client, task_queue, "PinnedActivityWorkflow")
        assert await query_version(old) == "v1"
        await set_current(client, dep, "v2")
        new = await start(client, task_queue, "PinnedActivityWorkflow")
        assert await query_version(new) == "v2"
        await old.signal("finish")
        await new.signal("finish")
        assert (await old.result(), await new.result()) == ("v1/v1", "v2/v2")


async def test_auto_upgrade_moves_to_the_new_current_version(
    client: Client, task_queue: str
) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [AutoV1]),
        versioned_worker(client, task_queue, dep, "v2", [AutoV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        run = await start(client, task_queue, "AutoWorkflow")
        assert await query_version(run) == "v1"
        await set_current(client, dep, "v2")
        await run.signal("finish")
        assert await run.result() == "v2"
        info = (await run.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.behavior == VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
        assert info.deployment_version.build_id == "v2"


async def test_a_30_percent_ramp_sends_about_30_percent_of_new_runs(
    client: Client, task_queue: str
) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [PinnedV1]),
        versioned_worker(client, task_queue, dep, "v2", [PinnedV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        await set_ramping(client, dep, "v2", 30)

        async def ramped() -> bool:
            rc = (await describe(client, dep)).worker_deployment_info
            return (
                rc.routing_config.ramping_version_percentage == 30
                and rc.routing_config_update_state == 2
            )

        await wait_for(ramped, within=WITHIN, message="ramp applied")
        gate = asyncio.Semaphore(20)

        async def one(i: int) -> str:
            async with gate:
                h = await start(client, task_queue, "PinnedWorkflow", wait=False)
                return str(await h.result())

        results = await asyncio.gather(*(one(i) for i in range(200)))
        share = results.count("v2") / len(results)
        assert 0.2 <= share <= 0.4, share
        assert set(results) == {"v1", "v2"}


async def test_a_pinned_override_per_workflow(client: Client, task_queue: str) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [AutoV1]),
        versioned_worker(client, task_queue, dep, "v2", [AutoV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v2")
        pinned = await start(
            client,
            task_queue,
            "AutoWorkflow",
            versioning_override=PinnedVersioningOverride(
                WorkerDeploymentVersion(deployment_name=dep, build_id="v1")
            ),
        )
        plain = await start(client, task_queue, "AutoWorkflow")
        assert await query_version(pinned) == "v1"
        assert await query_version(plain) == "v2"
        await pinned.signal("finish")
        await plain.signal("finish")
        assert (await pinned.result(), await plain.result()) == ("v1", "v2")
        info = (await pinned.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.versioning_override.pinned.version.build_id == "v1"


async def test_describe_list_drainage_and_delete(
    client: Client, task_queue: str, server: ServerProcess
) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [PinnedV1]),
        versioned_worker(client, task_queue, dep, "v2", [PinnedV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        run = await start(client, task_queue, "PinnedWorkflow")
        assert await query_version(run) == "v1"
        await set_current(client, dep, "v2")

        async def v1() -> Any:
            return (
                await client.workflow_service.describe_worker_deployment_version(
                    DescribeWorkerDeploymentVersionRequest(
                        namespace=client.namespace,
                        deployment_version=VersionProto(deployment_name=dep, build_id="v1"),
                    )
                )
            ).worker_deployment_version_info

        async def draining() -> bool:
            info = await v1()
            return (
                info.status
                == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
                and info.drainage_info.status
                == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING
            )

        await wait_for(draining, within=WITHIN, message="v1 draining")
        info = await v1()
        # The workers have no activities: only their workflow pollers registered.
        assert [(q.name, q.type) for q in info.task_queue_infos] == [(task_queue, 1)]

        listed = await client.workflow_service.list_worker_deployments(
            ListWorkerDeploymentsRequest(namespace=client.namespace)
        )
        mine = [d for d in listed.worker_deployments if d.name == dep]
        assert len(mine) == 1
        assert mine[0].routing_config.current_deployment_version.build_id == "v2"

        # A draining version cannot be deleted; the current one neither.
        for build in ("v1", "v2"):
            with pytest.raises(RPCError) as err:
                await client.workflow_service.delete_worker_deployment_version(
                    DeleteWorkerDeploymentVersionRequest(
                        namespace=client.namespace,
                        deployment_version=VersionProto(deployment_name=dep, build_id=build),
                    )
                )
            assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
        await run.signal("finish")
        assert await run.result() == "v1"
        if is_pytemporal(server.kind):
            # Temporal waits out a visibility grace period (minutes) before it says so.
            async def drained() -> bool:
                info = await v1()
                return (
                    info.drainage_info.status
                    == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED
                )

            await wait_for(drained, within=WITHIN, message="v1 drained")


async def test_errors_as_temporal(client: Client, task_queue: str) -> None:
    dep = unique("dep")
    with pytest.raises(RPCError) as err:
        await describe(client, dep)
    assert err.value.status == RPCStatusCode.NOT_FOUND
    async with versioned_worker(client, task_queue, dep, "v1", [PinnedV1]):
        token = await wait_visible(client, dep, "v1")
        with pytest.raises(RPCError) as err:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=dep,
                    build_id="v1",
                    conflict_token=token + b"x",
                )
            )
        assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
        assert "conflict token mismatch" in err.value.message
        with pytest.raises(RPCError) as err:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace, deployment_name=dep, build_id="nope"
                )
            )
        assert err.value.status == RPCStatusCode.NOT_FOUND
        with pytest.raises(RPCError) as err:
            await client.workflow_service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=client.namespace, deployment_name=dep, build_id="v1", percentage=101
                )
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "Percentage must be between 0 and 100 (inclusive)"


def cli_error(server: ServerProcess, *args: str) -> str:
    out = subprocess.run(
        [reference_binary(), "worker", "deployment", *args, "--address", server.target],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0, out.stdout
    return out.stderr.strip()


def cli(server: ServerProcess, *args: str) -> Any:
    out = subprocess.run(
        [
            reference_binary(),
            "worker",
            "deployment",
            *args,
            "--address",
            server.target,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


async def test_temporal_cli_worker_deployment_commands(
    client: Client, task_queue: str, server: ServerProcess
) -> None:
    dep = unique("dep")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(versioned_worker(client, task_queue, dep, "v1", [PinnedV1]))
        await stack.enter_async_context(versioned_worker(client, task_queue, dep, "v2", [PinnedV2]))
        await wait_visible(client, dep, "v1", "v2")
        run = asyncio.to_thread
        await run(
            cli,
            server,
            "set-current-version",
            "--deployment-name",
            dep,
            "--build-id",
            "v1",
            "--yes",
        )
        await wait_routing(client, dep, "v1")
        await run(
            cli,
            server,
            "set-ramping-version",
            "--deployment-name",
            dep,
            "--build-id",
            "v2",
            "--percentage",
            "25",
            "--yes",
        )
        described = await run(cli, server, "describe", "--name", dep)
        assert described["name"] == dep
        routing = described["routingConfig"]
        assert routing["currentVersionBuildID"] == "v1"
        assert routing["rampingVersionBuildID"] == "v2"
        assert routing["rampingVersionPercentage"] == 25
        listed = await run(cli, server, "list")
        assert dep in [d["name"] for d in listed]
        version = await run(
            cli, server, "describe-version", "--deployment-name", dep, "--build-id", "v2"
        )
        assert (version["deploymentName"], version["BuildID"]) == (dep, "v2")
        assert version["rampPercentage"] == 25
        assert version["taskQueuesInfos"] == [{"name": task_queue, "type": "workflow"}]
        assert {v["BuildID"] for v in described["versionSummaries"]} == {"v1", "v2"}
    # Unset the ramp. v2's workers have stopped, but Temporal remembers its pollers for
    # 5 minutes (matching.PollerHistoryTTL): it cannot be deleted yet, even with
    # --skip-drainage.
    await asyncio.to_thread(
        cli, server, "set-ramping-version", "--deployment-name", dep, "--delete", "--yes"
    )
    described = await asyncio.to_thread(cli, server, "describe", "--name", dep)
    assert described["routingConfig"]["rampingVersionBuildID"] == ""
    refused = await asyncio.to_thread(
        cli_error,
        server,
        "delete-version",
        "--deployment-name",
        dep,
        "--build-id",
        "v2",
        "--skip-drainage",
    )
    assert refused == (
        "Error: error deleting worker deployment version: version "
        f"'{dep}:v2' cannot be deleted since it has active pollers"
    )


async def test_update_workflow_execution_options_sets_and_removes_an_override(
    client: Client, task_queue: str
) -> None:
    dep = unique("dep")
    async with (
        versioned_worker(client, task_queue, dep, "v1", [AutoV1]),
        versioned_worker(client, task_queue, dep, "v2", [AutoV2]),
    ):
        await wait_visible(client, dep, "v1", "v2")
        await set_current(client, dep, "v1")
        run = await start(client, task_queue, "AutoWorkflow")
        assert await query_version(run) == "v1"

        async def set_override(override: VersioningOverride | None) -> Any:
            opts = WorkflowExecutionOptions()
            if override is not None:
                opts.versioning_override.CopyFrom(override)
            return await client.workflow_service.update_workflow_execution_options(
                UpdateWorkflowExecutionOptionsRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=run.id),
                    workflow_execution_options=opts,
                    update_mask=FieldMask(paths=["versioning_override"]),
                    identity="test",
                )
            )

        pin = VersioningOverride(
            pinned=VersioningOverride.PinnedOverride(
                behavior=VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED,
                version=VersionProto(deployment_name=dep, build_id="v1"),
            )
        )
        resp = await set_override(pin)
        assert resp.workflow_execution_options.versioning_override.pinned.version.build_id == "v1"
        # Pinned by the override: a new current version does not move it.
        await set_current(client, dep, "v2")
        await run.signal("finish")
        assert await run.result() == "v1"
        events = [
            e
            for e in await history_events(run)
            if e.HasField("workflow_execution_options_updated_event_attributes")
        ]
        assert len(events) == 1
        attrs = events[0].workflow_execution_options_updated_event_attributes
        assert attrs.versioning_override.pinned.version.build_id == "v1"
        assert attrs.identity == "test"

        # Removed again: an auto-upgrade run moves to the current version.
        other = await start(
            client,
            task_queue,
            "AutoWorkflow",
            versioning_override=PinnedVersioningOverride(
                WorkerDeploymentVersion(deployment_name=dep, build_id="v1")
            ),
        )
        assert await query_version(other) == "v1"
        run = other
        resp = await set_override(None)
        assert not resp.workflow_execution_options.HasField("versioning_override")
        await other.signal("finish")
        assert await other.result() == "v2"
        with pytest.raises(RPCError) as err:
            await client.workflow_service.update_workflow_execution_options(
                UpdateWorkflowExecutionOptionsRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=other.id),
                    workflow_execution_options=WorkflowExecutionOptions(),
                )
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "UpdateMask is required"


async def test_deployments_and_pins_survive_a_server_crash(
    server_kind: str, tmp_path: Path
) -> None:
    proc = ServerProcess(server_kind, db_filename=str(tmp_path / "deployments.db"))
    client = await proc.start()
    try:
        dep, task_queue = unique("dep"), unique("tq")
        async with (
            versioned_worker(client, task_queue, dep, "v1", [PinnedV1]),
            versioned_worker(client, task_queue, dep, "v2", [PinnedV2]),
        ):
            await wait_visible(client, dep, "v1", "v2")
            await set_current(client, dep, "v1")
            old = await start(client, task_queue, "PinnedWorkflow")
            assert await query_version(old) == "v1"
            await set_current(client, dep, "v2")
        # With no worker polling, the signal's workflow task waits in the backlog.
        await old.signal("finish")
        proc.kill()
        client = await proc.restart()
        info = (await describe(client, dep)).worker_deployment_info
        assert info.routing_config.current_deployment_version.build_id == "v2"
        assert {s.deployment_version.build_id for s in info.version_summaries} == {"v1", "v2"}
        # The task is read back from the durable backlog, which does not know the pin;
        # v2's worker, which polls first, never runs it.
        old = client.get_workflow_handle(old.id, run_id=old.result_run_id)
        async with versioned_worker(client, task_queue, dep, "v2", [PinnedV2]):
            new = await start(client, task_queue, "PinnedWorkflow", wait=False)
            assert await new.result() == "v2"
            async with versioned_worker(client, task_queue, dep, "v1", [PinnedV1]):
                assert await old.result() == "v1"
    finally:
        proc.terminate(timeout=5)


async def test_errors_for_missing_deployments_as_temporal(client: Client) -> None:
    ws, ns, dep = client.workflow_service, client.namespace, unique("missing")
    version = VersionProto(deployment_name=dep, build_id="b")

    async def error(call: Any) -> tuple[RPCStatusCode, str]:
        with pytest.raises(RPCError) as err:
            await call
        return err.value.status, err.value.message

    assert await error(
        ws.describe_worker_deployment_version(
            DescribeWorkerDeploymentVersionRequest(namespace=ns, deployment_version=version)
        )
    ) == (RPCStatusCode.NOT_FOUND, "Worker Deployment Version not found")
    assert await error(
        ws.describe_worker_deployment_version(
            DescribeWorkerDeploymentVersionRequest(namespace=ns, version="nodelimiter")
        )
    ) == (
        RPCStatusCode.INVALID_ARGUMENT,
        'invalid version string "nodelimiter", expected format is "<deployment_name>.<build_id>"',
    )
    assert await error(
        ws.describe_worker_deployment_version(DescribeWorkerDeploymentVersionRequest(namespace=ns))
    ) == (RPCStatusCode.INVALID_ARGUMENT, "deployment version cannot be empty")
    assert await error(
        ws.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(namespace=ns, build_id="b")
        )
    ) == (RPCStatusCode.INVALID_ARGUMENT, "deployment name cannot be empty")
    assert await error(
        ws.delete_worker_deployment_version(
            DeleteWorkerDeploymentVersionRequest(namespace=ns, deployment_version=version)
        )
    ) == (
        RPCStatusCode.NOT_FOUND,
        f"workflow not found for ID: temporal-sys-worker-deployment:{dep}",
    )
    assert await error(
        ws.update_worker_deployment_version_metadata(
            UpdateWorkerDeploymentVersionMetadataRequest(
                namespace=ns, deployment_version=version, remove_entries=["x"]
            )
        )
    ) == (
        RPCStatusCode.NOT_FOUND,
        f"workflow not found for ID: temporal-sys-worker-deployment-version:{dep}:b",
    )
    # Deleting a deployment that does not exist succeeds.
    await ws.delete_worker_deployment(
        DeleteWorkerDeploymentRequest(namespace=ns, deployment_name=dep)
    )
