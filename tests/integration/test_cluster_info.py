"""GetClusterInfo, ListClusters, and the `temporal operator cluster` commands on them.

Temporal's dev server is the reference for which fields are filled; the values that
are the server's own (version, id, addresses) are compared by shape only.
"""

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
from google.protobuf.json_format import MessageToDict
from temporalio.api.operatorservice.v1 import ListClustersRequest
from temporalio.api.operatorservice.v1 import service_pb2_grpc as operator_grpc
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest
from temporalio.api.workflowservice.v1 import service_pb2_grpc as workflow_grpc

from .harness import PYTEMPORAL, REFERENCE, ServerProcess, reference_binary


def _cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [reference_binary(), *args, "--address", target, "--command-timeout", "10s"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_CLI_SHOW_STACKS": "0"},
    )


async def cluster_info(target: str) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await workflow_grpc.WorkflowServiceStub(channel).GetClusterInfo(
            GetClusterInfoRequest(), timeout=10
        )
    return MessageToDict(reply)


async def list_clusters(target: str) -> list[dict[str, Any]]:
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await operator_grpc.OperatorServiceStub(channel).ListClusters(
            ListClustersRequest(), timeout=10
        )
    return [MessageToDict(c) for c in reply.clusters]


async def test_get_cluster_info(server: ServerProcess) -> None:
    info = await cluster_info(server.target)
    assert info["clusterName"] == "active"
    uuid.UUID(info["clusterId"])
    assert info["serverVersion"]
    assert info["supportedClients"]["temporal-cli"] == "<2.0.0"
    expected_store = "postgres" if server.kind == "pytemporal-pg" else "sqlite"
    assert (info["persistenceStore"], info["visibilityStore"]) == (expected_store,) * 2
    assert info["historyShardCount"] == (4 if server.kind == "pytemporal-pg" else 1)
    assert (info["initialFailoverVersion"], info["failoverVersionIncrement"]) == ("1", "10")


async def test_list_clusters_is_this_cluster(server: ServerProcess) -> None:
    info = await cluster_info(server.target)
    [cluster] = await list_clusters(server.target)
    assert cluster["clusterName"] == "active"
    assert cluster["clusterId"] == info["clusterId"]
    assert cluster["address"] == server.target
    assert cluster["historyShardCount"] == info["historyShardCount"]
    assert cluster["isConnectionEnabled"] is True


@pytest.mark.reference
async def test_the_fields_match_temporals() -> None:
    """The same fields are set as by Temporal's dev server."""
    fields: dict[str, tuple[set[str], set[str]]] = {}
    for kind in (PYTEMPORAL, REFERENCE):
        process = ServerProcess(kind)
        await process.start()
        try:
            info = await cluster_info(process.target)
            [cluster] = await list_clusters(process.target)
            fields[kind] = (set(info), set(cluster))
        finally:
            process.terminate()
    info_fields, cluster_fields = fields[REFERENCE]
    # Both dev servers serve the HTTP API (on a free port), so both report httpAddress.
    assert fields[PYTEMPORAL] == (info_fields, cluster_fields)


async def test_cluster_id_is_stable_per_database(tmp_path: Path) -> None:
    first = ServerProcess(PYTEMPORAL, db_filename=str(tmp_path / "a.db"))
    other = ServerProcess(PYTEMPORAL, db_filename=str(tmp_path / "b.db"))
    await first.start()
    await other.start()
    try:
        before = (await cluster_info(first.target))["clusterId"]
        assert (await cluster_info(other.target))["clusterId"] != before
        first.terminate()
        await first.restart()
        assert (await cluster_info(first.target))["clusterId"] == before
    finally:
        first.terminate()
        other.terminate()


@pytest.mark.parametrize("command", ["health", "describe", "list", "system"])
async def test_operator_cluster_commands(server: ServerProcess, command: str) -> None:
    text = await asyncio.to_thread(_cli, server.target, "operator", "cluster", command)
    assert text.returncode == 0, text.stderr
    done = await asyncio.to_thread(
        _cli, server.target, "operator", "cluster", command, "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    if command == "health":
        assert "SERVING" in text.stdout
        assert reply == {"status": "SERVING"}
    elif command == "describe":
        assert "active" in text.stdout
        assert reply["clusterName"] == "active"
    elif command == "list":
        assert reply[0]["clusterName"] == "active"
        assert reply[0]["address"] == server.target
    else:
        assert reply["serverVersion"]
