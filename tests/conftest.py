"""Shared pytest configuration.

The integration fixtures (server process, client) live in tests/integration/conftest.py;
set PYTEMPORAL_TEST_SERVER=reference to run that suite against Temporal's Go dev server.
PostgreSQL fixtures come from tests/pgtest.py (PYTEMPORAL_TEST_POSTGRES_URL picks the
server; tests needing it skip when it cannot be reached).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import pgtest


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    pgtest.skip_unless_reachable()
    url = await pgtest.create_database()
    try:
        yield url
    finally:
        await pgtest.drop_database(url)


@pytest.fixture(scope="session", autouse=True)
async def _drop_postgres_session_database() -> AsyncIterator[None]:
    yield
    await pgtest.SESSION.drop()
    from integration.harness import SERVER_DATABASES

    for url in SERVER_DATABASES:
        await pgtest.drop_database(url)
