"""Testing workflows with pytemporal's pytest fixtures.

Run with ``python -m pytest examples/testing`` (needs pytemporal and pytest-asyncio).
``temporal_client`` is connected to an in-process pytemporal server shared by the
session; ``temporal_fresh_server`` is a server for one test only; ``temporal_env`` is a
time-skipping ``WorkflowEnvironment`` for one test.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from greeting import GreetingWorkflow, ReminderWorkflow, compose_greeting
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import pytemporal.testing

# pytest-asyncio runs the async tests (or set asyncio_mode = auto).
pytestmark = pytest.mark.asyncio


async def test_greeting(temporal_client: Client) -> None:
    task_queue = f"greeting-{uuid.uuid4()}"
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[compose_greeting],
    ):
        result = await temporal_client.execute_workflow(
            GreetingWorkflow.run, "World", id=f"greet-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "Hello, World!"


async def test_greeting_with_mocked_activity(temporal_client: Client) -> None:
    # An activity of the same name replaces the real one for this worker.
    @activity.defn(name="compose_greeting")
    async def fake_compose_greeting(name: str) -> str:
        return f"Hi {name}"

    task_queue = f"greeting-{uuid.uuid4()}"
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[fake_compose_greeting],
    ):
        handle = await temporal_client.start_workflow(
            GreetingWorkflow.run, "Temporal", id=f"greet-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == "Hi Temporal"
        assert await handle.query(GreetingWorkflow.current) == "Hi Temporal"


@pytest.fixture(scope="session")
def temporal_server_options() -> dict[str, object]:
    # Every server of the plugin gets these (make_config's options).
    return {"namespaces": ["orders"], "search_attributes": {"CustomerId": "Keyword"}}


async def test_fresh_server_with_namespace(temporal_fresh_server: str) -> None:
    # A server of this test's own: nothing left by other tests.
    client = await Client.connect(temporal_fresh_server, namespace="orders")
    task_queue = "greeting"
    async with Worker(
        client, task_queue=task_queue, workflows=[GreetingWorkflow], activities=[compose_greeting]
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run,
            "orders",
            id="greet-orders",
            task_queue=task_queue,
        )
    assert result == "Hello, orders!"
    assert [w.id async for w in client.list_workflows()] == ["greet-orders"]


async def test_without_fixtures() -> None:
    # The same server, without the plugin: a context manager yielding the address.
    async with pytemporal.testing.server(namespaces=["billing"]) as target:
        client = await Client.connect(target, namespace="billing")
        async with Worker(
            client, task_queue="tq", workflows=[GreetingWorkflow], activities=[compose_greeting]
        ):
            result = await client.execute_workflow(
                GreetingWorkflow.run, "you", id="greet", task_queue="tq"
            )
    assert result == "Hello, you!"


async def test_reminder_after_a_week(temporal_env: WorkflowEnvironment) -> None:
    # Time skips while the client awaits the result: a week passes in milliseconds.
    began = time.monotonic()
    start = await temporal_env.get_current_time()
    async with Worker(
        temporal_env.client,
        task_queue="reminders",
        workflows=[ReminderWorkflow],
        activities=[compose_greeting],
    ):
        result = await temporal_env.client.execute_workflow(
            ReminderWorkflow.run, "Ada", id="remind-ada", task_queue="reminders"
        )
    assert result == "Hello, Ada, please confirm!"
    assert await temporal_env.get_current_time() - start >= timedelta(days=7)
    assert time.monotonic() - began < 10


async def test_confirmed_reminder(temporal_env: WorkflowEnvironment) -> None:
    async with Worker(
        temporal_env.client,
        task_queue="reminders",
        workflows=[ReminderWorkflow],
        activities=[compose_greeting],
    ):
        handle = await temporal_env.client.start_workflow(
            ReminderWorkflow.run, "Ada", id="remind-ada", task_queue="reminders"
        )
        await temporal_env.sleep(timedelta(days=3))  # skips three days
        await handle.signal(ReminderWorkflow.confirm)
        assert await handle.result() == "confirmed"
