"""Server memory under concurrent oversized gRPC requests.

Starts `pytemporal server start-dev` (in-memory SQLite), samples its RSS with psutil
every 10 ms, sends N concurrent requests of SIZE bytes (a DescribeNamespaceRequest with
a huge namespace name, over the 4 MiB receive limit), then checks the server still
answers, and prints RSS before / peak / after. The client holds each request in memory
while it sends it, so N x SIZE must fit in the client's RAM.

    PYTHONPATH=src python bench/oversized.py --count 100 --size 100000000

"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import grpc
import psutil
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeNamespaceResponse

METHOD = "/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(target: str, deadline: float) -> None:
    while True:
        try:
            async with grpc.aio.insecure_channel(target) as ch:
                call = ch.unary_unary(
                    METHOD,
                    request_serializer=DescribeNamespaceRequest.SerializeToString,
                    response_deserializer=DescribeNamespaceResponse.FromString,
                )
                await call(DescribeNamespaceRequest(namespace="default"), timeout=2)
                return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def spawn(port: int) -> tuple[subprocess.Popen[bytes], Any]:
    log = open(os.path.join(tempfile.mkdtemp(prefix="oversized-"), "server.log"), "wb")  # noqa: SIM115
    cmd = [sys.executable, "-m", "pytemporal", "server", "start-dev", "--ip", "127.0.0.1"]
    cmd += ["--port", str(port), "--headless", "--log-level", "warn"]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log


async def run(count: int, size: int) -> dict[str, object]:
    port = free_port()
    target = f"127.0.0.1:{port}"
    server, log = spawn(port)
    try:
        await wait_ready(target, time.monotonic() + 60)
        proc = psutil.Process(server.pid)
        before = proc.memory_info().rss
        peak = before
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, proc.memory_info().rss)
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        payload = DescribeNamespaceRequest(namespace="x" * size).SerializeToString()
        started = time.monotonic()
        async with grpc.aio.insecure_channel(
            target, options=[("grpc.max_send_message_length", -1)]
        ) as ch:
            call = ch.unary_unary(
                METHOD,
                request_serializer=lambda b: b,
                response_deserializer=DescribeNamespaceResponse.FromString,
            )

            async def one() -> str:
                try:
                    await call(payload, timeout=120)
                    return "OK"
                except grpc.aio.AioRpcError as err:
                    return f"{err.code().name}: {err.details()}"

            answers = await asyncio.gather(*(one() for _ in range(count)))
        elapsed = time.monotonic() - started
        await wait_ready(target, time.monotonic() + 10)  # still serving
        await asyncio.sleep(0.5)
        after = proc.memory_info().rss
        stop.set()
        sampler.join()
        return {
            "answers": sorted(set(answers)),
            "elapsed_s": round(elapsed, 2),
            "rss_before_mib": round(before / MIB, 1),
            "rss_peak_mib": round(peak / MIB, 1),
            "rss_after_mib": round(after / MIB, 1),
            "alive": server.poll() is None,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=100_000_000)
    args = parser.parse_args()
    print("command:", " ".join(["python", "bench/oversized.py", *sys.argv[1:]]))
    print(f"{args.count} concurrent requests of {args.size} bytes, one connection")
    result = asyncio.run(run(args.count, args.size))
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
