"""Schema management for both dialects: ``setup``, ``upgrade`` and ``check``.

Each dialect keeps ``MIGRATIONS`` (version -> DDL bringing version - 1 to it) and
``SCHEMA_VERSION`` (the last key) beside its store; the current version is the single
row of the ``schema_version`` table. Migrations run in order, each in one transaction
together with its ``schema_version`` update, so a failed upgrade leaves the database
at the last version that completed, never in between.

* ``setup`` creates the schema in an empty database. On a database already at the
  current version it does nothing (so deploy scripts may run it every time); on any
  other version it refuses and says which command to run instead.
* ``upgrade`` applies the missing migrations; it refuses an empty database (run
  ``setup``) and one written by a newer pytemporal.
* ``check`` is what ``pytemporal server start`` runs first: SchemaMismatch unless the
  schema is exactly current, with the fix in the message.

Concurrent runs on one database are safe: PostgreSQL migrations hold an advisory
lock, SQLite ones a ``BEGIN IMMEDIATE`` write lock, and each re-reads the version
under that lock.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]

from pytemporal.common.errors import PersistenceError
from pytemporal.persistence import urls
from pytemporal.persistence.errors import SchemaMismatch
from pytemporal.persistence.postgres import schema as pg_schema
from pytemporal.persistence.postgres.errors import translate
from pytemporal.persistence.sqlite import schema as sqlite_schema

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SchemaChange:
    before: int | None  # None: the database had no schema
    after: int

    @property
    def changed(self) -> bool:
        return self.before != self.after


class _Schema(Protocol):
    latest: int

    async def version(self) -> int | None: ...

    async def migrate(self, version: int) -> None:
        """Apply MIGRATIONS[version] if the database is at version - 1, else nothing."""


async def setup(url: str) -> SchemaChange:
    async with _open(url, "set up") as schema:
        before = await schema.version()
        if before is not None:
            if before == schema.latest:
                return SchemaChange(before, before)
            raise _mismatch(url, before, schema.latest)
        return SchemaChange(None, await _migrate(schema, 0))


async def upgrade(url: str) -> SchemaChange:
    async with _open(url, "upgrade") as schema:
        before = await schema.version()
        if before is None or before > schema.latest:
            raise _mismatch(url, before, schema.latest)
        return SchemaChange(before, await _migrate(schema, before))


async def check(url: str) -> None:
    """Raise SchemaMismatch unless the database's schema is the one this code expects."""
    if urls.parse(url).dialect == "sqlite" and urls.parse(url).sqlite_path is None:
        return  # in-memory: created by the store itself, there is nothing to check
    async with _open(url, "check") as schema:
        version = await schema.version()
        if version != schema.latest:
            raise _mismatch(url, version, schema.latest)


async def _migrate(schema: _Schema, start: int) -> int:
    for version in range(start + 1, schema.latest + 1):
        await schema.migrate(version)
    after = await schema.version()
    if after != schema.latest:  # only if another process wrote something else meanwhile
        raise SchemaMismatch(f"schema ended at version {after}, expected {schema.latest}")
    return after


def _mismatch(url: str, stored: int | None, expected: int) -> SchemaMismatch:
    return SchemaMismatch.for_versions(stored, expected, urls.redact(url))


@asynccontextmanager
async def _open(url: str, doing: str) -> AsyncIterator[_Schema]:
    target = urls.parse(url)
    if target.dialect == "postgresql":
        try:
            conn = await asyncpg.connect(target.url, timeout=CONNECT_TIMEOUT)
        except Exception as e:
            raise translate(e, f"connect to {urls.redact(url)}") from e
        try:
            yield _PostgresSchema(conn)
        finally:
            await conn.close()
        return
    if target.sqlite_path is None:
        raise urls.DatabaseURLError(
            f"cannot {doing} an in-memory SQLite database: the server creates its schema"
            " at start; give a file (sqlite:///path.db) or a PostgreSQL URL"
        )
    yield _SqliteSchema(target.sqlite_path)


class _PostgresSchema:
    latest = pg_schema.SCHEMA_VERSION

    def __init__(self, conn: object) -> None:
        self._conn = conn

    async def version(self) -> int | None:
        return await pg_schema.read_version(self._conn)

    async def migrate(self, version: int) -> None:
        await pg_schema.apply_migration(self._conn, version)


class _SqliteSchema:
    """sqlite3 is blocking: each step runs in a worker thread."""

    latest = sqlite_schema.SCHEMA_VERSION

    def __init__(self, path: str) -> None:
        self._path = path

    async def version(self) -> int | None:
        try:
            return await asyncio.to_thread(self._version)
        except sqlite3.Error as e:
            raise PersistenceError(f"sqlite {self._path}: {e}") from e

    async def migrate(self, version: int) -> None:
        try:
            await asyncio.to_thread(self._migrate, version)
        except sqlite3.Error as e:
            raise PersistenceError(f"sqlite {self._path}: migration to v{version}: {e}") from e

    def _version(self) -> int | None:
        if not os.path.exists(self._path):
            return None  # and do not create an empty file just by looking
        db = sqlite3.connect(self._path)
        try:
            return _sqlite_version(db)
        finally:
            db.close()

    def _migrate(self, version: int) -> None:
        db = sqlite3.connect(self._path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                if (_sqlite_version(db) or 0) == version - 1:
                    for statement in _statements(sqlite_schema.MIGRATIONS[version]):
                        db.execute(statement)
                    db.execute("DELETE FROM schema_version")
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()


def _sqlite_version(db: sqlite3.Connection) -> int | None:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if found is None:
        return None
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements, so they can run inside our own transaction.

    (``executescript`` would commit first, and the version check with it.)
    """
    statements, buffer = [], ""
    for char in script:
        buffer += char
        if char == ";" and sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
