"""The server's log as an operator reads it: formats and levels in both commands, the
workflow tags on lines that concern a workflow, one line per expected error.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    PollNexusTaskQueueRequest,
    service_pb2_grpc,
)
from temporalio.client import Client

from .harness import free_port, running_worker, unique, wait_for
from .workflows import ApprovalWorkflow


@dataclass
class Server:
    address: str
    log: Path
    process: asyncio.subprocess.Process

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def records(self) -> list[dict[str, Any]]:
        """Every line parsed as JSON (fails on a line that is not)."""
        return [json.loads(line) for line in self.lines()]


@asynccontextmanager
async def server(tmp_path: Path, *args: str) -> AsyncIterator[Server]:
    """`pytemporal <args>` with stderr (the log) in a file; stdout (the banner) apart."""
    log = tmp_path / "server.log"
    banner = tmp_path / "banner.txt"
    with log.open("wb") as err, banner.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pytemporal",
            *args,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    try:
        first = await wait_for(
            lambda: _first_line(banner, process), within=60, message="start banner"
        )
        yield Server(first.split()[4], log, process)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)


def _first_line(banner: Path, process: asyncio.subprocess.Process) -> str:
    assert process.returncode is None, f"server exited with {process.returncode}"
    text = banner.read_text()
    return text.splitlines()[0] if "\n" in text else ""


def start_dev(*flags: str) -> list[str]:
    port = str(free_port())
    return ["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", port, *flags]


async def call(address: str, rpc: str, request: Any) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(address) as channel:
        method = getattr(service_pb2_grpc.WorkflowServiceStub(channel), rpc)
        try:
            await method(request, timeout=10)
        except grpc.aio.AioRpcError as e:
            return e
    raise AssertionError(f"{rpc} succeeded")


async def test_unimplemented_call_logs_one_line(tmp_path: Path) -> None:
    async with server(tmp_path, *start_dev("--log-format", "json")) as s:
        error = await call(
            s.address, "PollNexusTaskQueue", PollNexusTaskQueueRequest(namespace="default")
        )
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        assert error.details() == "Method WorkflowService/PollNexusTaskQueue is not implemented"
        await wait_for(lambda: s.lines(), message="a log line")
    # At the default level (warn): the call, and nothing else (no traceback).
    [record] = s.records()
    assert record["level"] == "WARN"
    assert record["msg"] == "Method WorkflowService/PollNexusTaskQueue is not implemented"
    assert record["wf-namespace"] == "default"
    assert "error" not in record


async def test_expected_error_is_one_debug_line_with_the_workflow(tmp_path: Path) -> None:
    execution = WorkflowExecution(workflow_id="missing-wf", run_id=_RUN_ID)
    request = DescribeWorkflowExecutionRequest(namespace="default", execution=execution)
    flags = ("--log-format", "json", "--log-level", "debug")
    async with server(tmp_path, *start_dev(*flags)) as s:
        error = await call(s.address, "DescribeWorkflowExecution", request)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        await wait_for(lambda: _about(s, "missing-wf"), message="the NOT_FOUND line")
    [line] = _about(s, "missing-wf")
    assert line["level"] == "DEBUG"
    assert "NOT_FOUND" in line["msg"]
    assert (line["wf-namespace"], line["wf-run-id"]) == ("default", _RUN_ID)
    assert all("error" not in r and "Traceback" not in r["msg"] for r in s.records())


_RUN_ID = "5e0f3a52-9d7e-4d4c-8b0e-3f0c7a1b2c3d"


def _about(s: Server, workflow_id: str) -> list[dict[str, Any]]:
    return [r for r in s.records() if r.get("wf-id") == workflow_id]


async def test_history_lines_carry_the_workflow(tmp_path: Path) -> None:
    """A line logged by history while it changes a run (here: the large-history
    warning, with a tiny threshold) names the run."""
    flags = ("--log-format", "json", "--dynamic-config-value", "limit.historyCount.warn=2")
    async with server(tmp_path, *start_dev(*flags)) as s:
        client = await Client.connect(s.address)
        workflow_id = unique("logged")
        async with running_worker(client, "logs", workflows=[ApprovalWorkflow]):
            # Still open after its first workflow task (a timer): the check applies.
            handle = await client.start_workflow(
                ApprovalWorkflow.run, 600.0, id=workflow_id, task_queue="logs"
            )
            await wait_for(lambda: _about(s, workflow_id), message="a line about the workflow")
            await handle.terminate()
    line = _about(s, workflow_id)[0]
    assert "is large" in line["msg"]
    assert line["wf-run-id"] == handle.result_run_id
    assert line["wf-namespace-id"]


async def test_text_format_and_level_in_server_start(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"persistence: {{sqlite_path: {tmp_path / 'db.sqlite'}}}\n"
        f"listen: {{ip: 127.0.0.1, port: {free_port()}}}\n"
        "log_level: info\n"
        "log_format: text\n"
    )
    await _schema_setup(tmp_path / "db.sqlite")
    async with server(tmp_path, "server", "start", "--config", str(config)) as s:
        error = await call(
            s.address, "PollNexusTaskQueue", PollNexusTaskQueueRequest(namespace="default")
        )
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        await wait_for(lambda: _mentions(s, "PollNexusTaskQueue"), message="the UNIMPLEMENTED line")
    [line] = _mentions(s, "PollNexusTaskQueue")
    assert line.startswith("time=") and " level=WARN " in line and "wf-namespace=default" in line


async def test_json_flag_overrides_server_start_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"persistence: {{sqlite_path: {tmp_path / 'db.sqlite'}}}\n"
        f"listen: {{ip: 127.0.0.1, port: {free_port()}}}\n"
        "log_format: text\n"
    )
    await _schema_setup(tmp_path / "db.sqlite")
    args = ("server", "start", "--config", str(config), "--log-format", "json")
    async with server(tmp_path, *args, "--log-level", "info") as s:
        error = await call(
            s.address, "PollNexusTaskQueue", PollNexusTaskQueueRequest(namespace="default")
        )
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        await wait_for(lambda: _mentions(s, "PollNexusTaskQueue"), message="the UNIMPLEMENTED line")
    records = s.records()  # every line is JSON
    assert [r["msg"] for r in records if "PollNexusTaskQueue" in r["msg"]] == [
        "Method WorkflowService/PollNexusTaskQueue is not implemented"
    ]


async def _schema_setup(path: Path) -> None:
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{path}"
    )
    assert await setup.wait() == 0


def _mentions(s: Server, text: str) -> list[str]:
    return [line for line in s.lines() if text in line]
