"""The store backends the contract suite runs against, keyed by test id.

Adding a backend (PostgreSQL is next) means adding one factory to `BACKENDS`; every
test in this folder then runs against it too. A factory gets the test's private
`tmp_path` and returns a `Backend`, which opens stores on one database. A backend
that needs a server it cannot reach should call `pytest.skip` from its factory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg

import pgtest
from pytemporal.persistence.api import Store
from pytemporal.persistence.factory import open_store
from pytemporal.persistence.sqlite.store import SchemaMismatch, SqliteStore


class Backend:
    id = ""
    # Opening the same Backend twice reaches the same data (false for in-memory stores,
    # where every open starts empty).
    durable = False
    # What opening a database written with another schema version raises.
    schema_mismatch: type[Exception] = SchemaMismatch

    async def open(self) -> Store:
        raise NotImplementedError

    async def set_schema_version(self, version: int) -> None:
        """Rewrite the stored schema version behind the store's back (durable only)."""
        raise NotImplementedError


class SqliteMemory(Backend):
    id = "sqlite-memory"

    async def open(self) -> Store:
        return SqliteStore(None)


class SqliteFile(Backend):
    id = "sqlite-file"
    durable = True

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "pytemporal.db")

    async def open(self) -> Store:
        return SqliteStore(self.path)

    async def set_schema_version(self, version: int) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("UPDATE schema_version SET version = ?", (version,))
        finally:
            db.close()


class Postgres(Backend):
    """A fresh schema in the run's PostgreSQL database (see tests/pgtest.py)."""

    id = "postgres"
    durable = True

    def __init__(self, tmp_path: Path) -> None:
        pgtest.skip_unless_reachable()
        self._url: str | None = None

    async def url(self) -> str:
        if self._url is None:
            self._url = await pgtest.SESSION.new_schema()
        return self._url

    async def open(self) -> Store:
        # A small pool, so the suite also covers callers waiting for a connection.
        return await open_store(await self.url(), pool_size=4, create_schema=True)

    async def set_schema_version(self, version: int) -> None:
        conn = await asyncpg.connect(await self.url())
        try:
            await conn.execute("UPDATE schema_version SET version = $1", version)
        finally:
            await conn.close()


BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "sqlite-memory": lambda tmp_path: SqliteMemory(),
    "sqlite-file": SqliteFile,
    "postgres": Postgres,
}
