"""Fixtures: one shared server process per session, selected by PYTEMPORAL_TEST_SERVER."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from .harness import ServerProcess, selected_server_kind, unique


@pytest.fixture(scope="session")
def server_kind() -> str:
    """``pytemporal`` (default) or ``reference`` (Temporal's Go dev server)."""
    return selected_server_kind()


@pytest.fixture(scope="session")
async def server(server_kind: str) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(server_kind)
    await proc.start()
    try:
        yield proc
    finally:
        proc.terminate(timeout=5)


@pytest.fixture(scope="session")
async def client(server: ServerProcess) -> Client:
    return await server.connect()


@pytest.fixture
def task_queue() -> str:
    return unique("tq")
