"""What the metrics cost per instrumented event, without the noise of a whole server.

Measures, in this process, the added time of:

- ``interceptor``: a public call through ``ServiceMetricsInterceptor`` (the per-call
  handler it builds, the counter, the latency histogram) minus the same call without it;
- ``store``: a store call through the metered wrapper minus the same call on the bare
  in-memory SQLite store (``get_namespace``);
- ``close``: ``Metrics.workflow_closed`` (a close counter and two histograms);
- ``task start``: ``Metrics.task_started`` (one histogram).

Then runs WORKFLOWS one-activity workflows (the throughput benchmark's workload) on an
in-process server with metrics on and reads from its own scrape how many calls and
store calls one workflow makes, to give the cost per workflow. Compare it with the
server CPU per workflow of ``bench/throughput.py`` (``--metrics on`` / ``off``).

Usage::

    python bench/metrics_overhead.py [--iterations 200000] [--workflows 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import grpc
import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from pytemporal.config import ServerConfig
from pytemporal.metrics import Metrics
from pytemporal.metrics.interceptor import ServiceMetricsInterceptor
from pytemporal.metrics.store import metered
from pytemporal.persistence.api import NamespaceRecord
from pytemporal.persistence.sqlite.store import SqliteStore
from pytemporal.server import serve

ROUNDS = 5


class _Details:
    method = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"


class _Request:
    namespace = "default"


async def _per_call(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n


async def interceptor_cost(n: int) -> float:
    async def answer(request: Any, context: Any) -> str:
        return "ok"

    handler = grpc.unary_unary_rpc_method_handler(answer)

    async def continuation(_details: Any) -> grpc.RpcMethodHandler:
        return handler

    interceptor = ServiceMetricsInterceptor(Metrics(), lambda name: True)
    request, details = _Request(), _Details()

    async def bare() -> None:
        h = await continuation(details)
        await h.unary_unary(request, None)

    async def measured() -> None:
        h = await interceptor.intercept_service(continuation, details)
        await h.unary_unary(request, None)

    with_metrics, without = [], []
    for _ in range(ROUNDS):
        without.append(await _per_call(bare, n))
        with_metrics.append(await _per_call(measured, n))
    return min(with_metrics) - min(without)


async def store_cost(n: int) -> float:
    bare = SqliteStore(None)
    await bare.create_namespace(NamespaceRecord(id="id", name="default", data="{}"))
    wrapped = metered(bare, Metrics())
    try:
        # Alternate, and keep the best of each: a store call's own time varies far more
        # than the wrapper's cost.
        with_metrics, without = [], []
        for _ in range(ROUNDS):
            without.append(await _per_call(lambda: bare.get_namespace(name="default"), n))
            with_metrics.append(await _per_call(lambda: wrapped.get_namespace(name="default"), n))
    finally:
        await bare.close()
    return min(with_metrics) - min(without)


def hook_cost(fn: Callable[[], None], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


@activity.defn(name="overhead_echo")
async def overhead_echo(value: str) -> str:
    return value


@workflow.defn(name="OverheadWorkflow", sandboxed=False)
class OverheadWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            overhead_echo, value, start_to_close_timeout=timedelta(seconds=30)
        )


def _total(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


async def events_per_workflow(workflows: int) -> tuple[float, float]:
    """(public calls, store calls) per one-activity workflow, from a real scrape."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    config = ServerConfig(port=0, metrics_port=_free_port())
    server = asyncio.create_task(serve(config, on_ready=ready.set_result, stop=stop))
    try:
        client = await Client.connect(await ready)
        queue = f"overhead-{uuid.uuid4()}"
        async with Worker(
            client,
            task_queue=queue,
            workflows=[OverheadWorkflow],
            activities=[overhead_echo],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            base = await _scrape(config)
            await asyncio.gather(
                *(
                    client.execute_workflow(
                        OverheadWorkflow.run, "x", id=f"{queue}-{i}", task_queue=queue
                    )
                    for i in range(workflows)
                )
            )
            after = await _scrape(config)
        calls = _total(after, "service_requests") - _total(base, "service_requests")
        stored = _total(after, "persistence_requests") - _total(base, "persistence_requests")
        return calls / workflows, stored / workflows
    finally:
        stop.set()
        await server


async def _scrape(config: ServerConfig) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{config.metrics_port}/metrics")
    return response.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--workflows", type=int, default=200)
    args = parser.parse_args()
    n = args.iterations
    m = Metrics()
    costs = {
        "interceptor": await interceptor_cost(n // 10),
        "store": await store_cost(n // 10),
        "close": hook_cost(lambda: m.workflow_closed("default", "tq", "Wf", 2, 4096, 11), n),
        "task start": hook_cost(lambda: m.task_started("default", "tq", "workflow", 0.01), n),
    }
    for name, seconds in costs.items():
        print(f"{name:>12}: {seconds * 1e6:7.2f} us per event")
    calls, stored = await events_per_workflow(args.workflows)
    per_workflow = (
        calls * costs["interceptor"]
        + stored * costs["store"]
        + costs["close"]
        + 2 * costs["task start"]
    )
    print(f"per workflow: {calls:.1f} public calls, {stored:.1f} store calls")
    print(f"metrics cost per workflow: {per_workflow * 1e6:.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
