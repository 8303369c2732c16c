"""Open the store a database URL names (see ``urls`` for the forms it takes).

``create_schema=True`` is the dev server's mode: an empty database gets the current
schema. ``create_schema=False`` is ``pytemporal server start``: the schema must have
been set up (``pytemporal schema setup``) and be current, or SchemaMismatch says which
command to run. A store never migrates an existing schema by itself.
"""

from __future__ import annotations

import sqlite3

from pytemporal.common.errors import PersistenceError
from pytemporal.persistence import urls
from pytemporal.persistence.api import Store
from pytemporal.persistence.sqlite.store import SqliteStore


async def open_store(url: str | None, *, pool_size: int = 10, create_schema: bool) -> Store:
    """Raises DatabaseURLError, SchemaMismatch, or PersistenceError (unreachable)."""
    target = urls.parse(url)
    if target.dialect == "sqlite" and create_schema:
        # (SqliteStore creates its own schema when the database has none.) The dev
        # server's and the test servers' path: asyncpg is not even imported.
        return _sqlite(target.sqlite_path)
    from pytemporal.persistence import schema_tool

    if create_schema:
        await schema_tool.setup(target.url)  # nothing to do when already current
    else:
        await schema_tool.check(target.url)
    if target.dialect == "postgresql":
        from pytemporal.persistence.postgres import PostgresStore

        # Checks the version again itself, so it never serves a schema it does not know.
        return await PostgresStore.connect(target.url, pool_size=pool_size)
    return _sqlite(target.sqlite_path)


def _sqlite(path: str | None) -> Store:
    try:
        return SqliteStore(path)
    except sqlite3.Error as e:
        raise PersistenceError(f"cannot open SQLite database {path}: {e}") from e
