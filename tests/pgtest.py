"""Throwaway PostgreSQL databases for the tests.

The server is ``PYTEMPORAL_TEST_POSTGRES_URL`` (default: the local trust-auth
cluster, ``postgresql://postgres@127.0.0.1:5432/postgres``); tests that need it skip
with a clear message when nothing listens there.

* ``create_database()`` / ``drop_database(url)``: a fresh database, for tests that own
  a whole database (schema tool, servers); the ``postgres_url`` fixture wraps them.
* ``SESSION``: one database for the whole run, dropped at the end by an autouse
  fixture in tests/conftest.py. The contract suite gives each test its own PostgreSQL
  schema inside it (``search_path``), which isolates tests as well as a database per
  test and costs a millisecond instead of a ``CREATE DATABASE``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "PYTEMPORAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@cache
def unreachable_reason() -> str | None:
    parts = urlsplit(ADMIN_URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as e:
        return f"PostgreSQL not reachable at {host}:{port} ({e}); set PYTEMPORAL_TEST_POSTGRES_URL"


def skip_unless_reachable() -> None:
    reason = unreachable_reason()
    if reason is not None:
        pytest.skip(reason)


def database_url(name: str, base: str = ADMIN_URL) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}", query=""))


async def admin_execute(sql: str, url: str = ADMIN_URL) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(prefix: str = "pytemporal_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin_execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    # FORCE: a server a test SIGKILLed may leave sessions that PostgreSQL has not
    # noticed are gone yet.
    await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SessionDatabase:
    def __init__(self) -> None:
        self._url: str | None = None
        self._lock = asyncio.Lock()

    async def url(self) -> str:
        async with self._lock:
            if self._url is None:
                self._url = await create_database("pytemporal_test_run")
            return self._url

    async def new_schema(self) -> str:
        """A URL whose tables live in a new, empty schema of the session database."""
        base = await self.url()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        await admin_execute(f"CREATE SCHEMA {schema}", base)
        return f"{base}?search_path={schema}"

    async def drop(self) -> None:
        if self._url is not None:
            await drop_database(self._url)
            self._url = None


SESSION = SessionDatabase()
