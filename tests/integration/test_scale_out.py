"""Several server processes on one PostgreSQL database share the work.

Three `pytemporal server start` processes share 8 history shards. Clients and workers
talk to whichever process they like; calls reach the shard owners. One process is
killed with SIGKILL while 50 workflows (activities and timers) are in flight: its
shards move to the survivors and every workflow completes exactly once. Children,
external signals and cancels and parent close policies reach targets on any process
through the typed internal calls.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy

from .harness import (
    CLUSTER_SECRET,
    PYTEMPORAL,
    ServerProcess,
    free_port,
    running_worker,
    unique,
    wait_for,
)
from .test_postgres_server import pytemporal

SHARDS = 8
WORKFLOWS = 50


class ClusterServer(ServerProcess):
    """`pytemporal server start`, configured through environment variables."""

    def __init__(self, database_url: str) -> None:
        super().__init__(PYTEMPORAL)
        self.database_url = database_url
        self.cluster_port = free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "pytemporal", "server", "start"]

    def spawn(self) -> None:
        os.environ.update(self.env())
        try:
            super().spawn()
        finally:
            for key in self.env():
                os.environ.pop(key, None)

    def env(self) -> dict[str, str]:
        return {
            "PYTEMPORAL_DATABASE_URL": self.database_url,
            "PYTEMPORAL_IP": "127.0.0.1",
            "PYTEMPORAL_PORT": str(self.port),
            "PYTEMPORAL_NUM_HISTORY_SHARDS": str(SHARDS),
            "PYTEMPORAL_LOG_LEVEL": "warn",
            "PYTEMPORAL_CLUSTER_PORT": str(self.cluster_port),
            "PYTEMPORAL_CLUSTER_SECRET": CLUSTER_SECRET,
        }


@pytest.fixture
async def cluster(server_kind: str, postgres_url: str) -> AsyncIterator[list[ClusterServer]]:
    if server_kind != PYTEMPORAL:
        pytest.skip("pytemporal's own multi-process deployment")
    setup = pytemporal("schema", "setup", "--db", postgres_url)
    assert setup.returncode == 0, setup.stderr
    servers = [ClusterServer(postgres_url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.start() for s in servers))
        yield servers
    finally:
        for s in servers:
            s.kill()


executions: Counter[str] = Counter()


@activity.defn
async def cluster_step(name: str) -> str:
    executions[name] += 1
    return name


@workflow.defn(sandboxed=False)
class ClusterWorkflow:
    @workflow.run
    async def run(self, key: str) -> list[str]:
        done = []
        for step in ("a", "b", "c"):
            done.append(
                await workflow.execute_activity(
                    cluster_step,
                    f"{key}:{step}",
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
                )
            )
            await workflow.sleep(0.5)
        return done


@workflow.defn(sandboxed=False)
class ClusterChild:
    def __init__(self) -> None:
        self.got: str | None = None

    @workflow.signal
    def poke(self, value: str) -> None:
        self.got = value

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.wait_condition(lambda: self.got is not None)
        return f"{key}:{self.got}"


@workflow.defn(sandboxed=False)
class ClusterParent:
    """Cross-workflow work whose targets hash to shards all over the cluster."""

    @workflow.run
    async def run(self, key: str) -> list[str]:
        children = [
            await workflow.start_child_workflow(ClusterChild.run, f"c{i}", id=f"{key}-c{i}")
            for i in range(CHILDREN)
        ]
        for child in children:
            await child.signal(ClusterChild.poke, "hi")  # an external signal
        results = [await child for child in children]  # each close notifies this parent
        await workflow.start_child_workflow(
            ClusterChild.run,
            "abandoned",
            id=f"{key}-abandoned",
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        await workflow.get_external_workflow_handle(f"{key}-abandoned").cancel()
        # Still running when this run closes: the parent close policy terminates it.
        await workflow.start_child_workflow(ClusterChild.run, "left", id=f"{key}-left")
        return results


CHILDREN = 6


async def test_processes_share_the_work_and_survive_sigkill(
    cluster: list[ClusterServer],
) -> None:
    a, b, c = cluster
    client_a = await a.connect()
    client_b = await b.connect()
    task_queue = unique("cluster")
    keys = [unique("wf") for _ in range(WORKFLOWS)]
    async with (
        running_worker(
            client_a, task_queue, workflows=[ClusterWorkflow], activities=[cluster_step]
        ),
        running_worker(
            client_b, task_queue, workflows=[ClusterWorkflow], activities=[cluster_step]
        ),
    ):
        handles = [
            await client_a.start_workflow(ClusterWorkflow.run, k, id=k, task_queue=task_queue)
            for k in keys
        ]
        await wait_for(
            lambda: sum(executions[f"{k}:a"] for k in keys) >= WORKFLOWS // 2,
            within=60,  # three processes may still be balancing their shards
            message="half the workflows under way",
        )
        c.kill()  # owns about a third of the shards and task queues
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=90)
    assert results == [[f"{k}:{s}" for s in "abc"] for k in keys]
    for k in keys:
        for s in "abc":
            assert executions[f"{k}:{s}"] == 1, f"{k}:{s} ran {executions[f'{k}:{s}']} times"
    # Each workflow has exactly one run, completed.
    for h in handles:
        desc = await client_b.get_workflow_handle(h.id).describe()
        assert desc.status is not None and desc.status.name == "COMPLETED"
        assert desc.run_id == h.result_run_id


async def test_any_process_answers_for_any_workflow(cluster: list[ClusterServer]) -> None:
    clients: list[Client] = [await s.connect() for s in cluster]
    task_queue = unique("cluster")
    async with running_worker(
        clients[2], task_queue, workflows=[ClusterWorkflow], activities=[cluster_step]
    ):
        key = unique("any")
        handle = await clients[0].start_workflow(
            ClusterWorkflow.run, key, id=key, task_queue=task_queue
        )
        assert await clients[1].get_workflow_handle(key).result() == [f"{key}:{s}" for s in "abc"]
    for client in clients:
        desc = await client.get_workflow_handle(key).describe()
        assert desc.run_id == handle.result_run_id


async def test_a_process_with_another_shard_count_is_refused(
    cluster: list[ClusterServer],
) -> None:
    odd = ClusterServer(cluster[0].database_url)
    odd.env = lambda: {**ClusterServer.env(odd), "PYTEMPORAL_NUM_HISTORY_SHARDS": "3"}  # type: ignore[method-assign]
    odd.spawn()
    assert odd.process is not None
    assert odd.process.wait(timeout=60) == 1
    assert f"shared with {SHARDS} history shards" in odd.log_tail()


async def test_cross_workflow_work_reaches_every_process(cluster: list[ClusterServer]) -> None:
    clients: list[Client] = [await s.connect() for s in cluster]
    task_queue = unique("cluster")
    key = unique("parent")
    async with running_worker(clients[1], task_queue, workflows=[ClusterParent, ClusterChild]):
        result = await clients[0].execute_workflow(
            ClusterParent.run, key, id=key, task_queue=task_queue
        )
        assert result == [f"c{i}:hi" for i in range(CHILDREN)]

        async def status(workflow_id: str) -> WorkflowExecutionStatus | None:
            return (await clients[2].get_workflow_handle(workflow_id).describe()).status

        async def settled() -> bool:
            return (
                await status(f"{key}-abandoned") == WorkflowExecutionStatus.CANCELED
                and await status(f"{key}-left") == WorkflowExecutionStatus.TERMINATED
            )

        await wait_for(settled, within=30, message="external cancel and parent close policy")
