"""Fixtures: one shared server process per session, selected by PYTEMPORAL_TEST_SERVER."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from .harness import ServerProcess, selected_server_kinds, unique


@pytest.fixture(scope="session", params=selected_server_kinds())
def server_kind(request: pytest.FixtureRequest) -> str:
    """Every test runs against each selected server: ``pytemporal`` (dev server,
    SQLite), ``pytemporal-pg`` (`server start` on PostgreSQL) and, on request,
    ``reference`` (Temporal's Go dev server)."""
    return str(request.param)


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
