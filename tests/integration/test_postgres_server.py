"""The production path on PostgreSQL: `schema setup`, then `server start --config FILE`.

A real server subprocess on a fresh database runs a workflow with activities and a
timer, survives a SIGKILL mid-workflow (the workflow completes exactly once), and
refuses to start on a database whose schema was never set up.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from pytemporal.persistence.postgres.schema import SCHEMA_VERSION

from .harness import (
    CLUSTER_SECRET,
    PYTEMPORAL,
    ServerProcess,
    event_types,
    free_port,
    has_event,
    running_worker,
    unique,
    wait_for,
)
from .workflows import MultiStepWorkflow, StepActivities


class ConfiguredServer(ServerProcess):
    """`pytemporal server start --config FILE` instead of start-dev."""

    def __init__(self, config_path: Path, port: int) -> None:
        super().__init__(PYTEMPORAL, port=port)
        self.config_path = config_path

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytemporal",
            "server",
            "start",
            "--config",
            str(self.config_path),
        ]


def pytemporal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytemporal", *args], capture_output=True, text=True, timeout=60
    )


def write_config(tmp_path: Path, database_url: str, port: int) -> Path:
    path = tmp_path / "pytemporal.yaml"
    path.write_text(
        f"persistence:\n  database_url: {database_url}\n  pool_size: 5\n"
        f"listen:\n  ip: 127.0.0.1\n  port: {port}\n"
        f"cluster:\n  port: {free_port()}\n  secret: {CLUSTER_SECRET}\n"
        "num_history_shards: 4\nnamespaces: [orders]\nlog_level: warn\n"
    )
    return path


@pytest.fixture
async def server(
    server_kind: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[ConfiguredServer]:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own production server and schema tool")
    setup = pytemporal("schema", "setup", "--db", postgres_url)
    assert setup.returncode == 0, setup.stderr
    assert f"created schema version {SCHEMA_VERSION}" in setup.stdout
    port = ServerProcess(PYTEMPORAL).port  # a free port
    proc = ConfiguredServer(write_config(tmp_path, postgres_url, port), port)
    try:
        yield proc
    finally:
        proc.kill()


async def test_workflow_with_activities_and_a_timer(server: ConfiguredServer) -> None:
    client = await server.start()
    await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="orders"))
    acts = StepActivities()
    task_queue = unique("pg")
    async with running_worker(
        client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
    ):
        handle = await client.start_workflow(
            MultiStepWorkflow.run, 0.2, id=unique("pg"), task_queue=task_queue
        )
        assert await handle.result() == ["a", "b", "c", "d"]
    assert acts.executions == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert (await event_types(handle)).count("TIMER_FIRED") == 1


async def test_sigkill_mid_workflow_completes_exactly_once(server: ConfiguredServer) -> None:
    client = await server.start()
    acts = StepActivities()
    task_queue = unique("pg-crash")
    async with running_worker(
        client, task_queue, workflows=[MultiStepWorkflow], activities=[acts.step]
    ):
        handle = await client.start_workflow(
            MultiStepWorkflow.run, 2.0, id=unique("pg-crash"), task_queue=task_queue
        )
        await wait_for(
            lambda: has_event(handle, "TIMER_STARTED"), within=15, message="timer started"
        )
        assert acts.executions == {"a": 1, "b": 1}

        server.kill()
        await server.restart()

        # The same client and worker reconnect by themselves once the port answers.
        assert await handle.result() == ["a", "b", "c", "d"]

    assert acts.executions == {"a": 1, "b": 1, "c": 1, "d": 1}
    types = await event_types(handle)
    assert types.count("ACTIVITY_TASK_COMPLETED") == 4
    assert (types.count("TIMER_STARTED"), types.count("TIMER_FIRED")) == (1, 1)
    assert types.count("WORKFLOW_EXECUTION_COMPLETED") == 1
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"


async def test_start_refuses_a_database_without_schema(
    server_kind: str, postgres_url: str, tmp_path: Path
) -> None:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own production server")
    config = write_config(tmp_path, postgres_url, ServerProcess(PYTEMPORAL).port)
    result = pytemporal("server", "start", "--config", str(config))
    assert result.returncode == 1
    assert f"run `pytemporal schema setup --db {postgres_url}`" in result.stderr
