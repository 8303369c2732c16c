"""Schema version 3 (the visibility columns of Temporal's SQL visibility): a version-2
database, with a run in it, upgrades in place on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from pytemporal.persistence import schema_tool, urls
from pytemporal.persistence.errors import SchemaMismatch
from pytemporal.persistence.postgres import schema as pg_schema
from pytemporal.persistence.sqlite import schema as sqlite_schema
from pytemporal.persistence.sqlite.store import SqliteStore

V2_ROW = (
    "INSERT INTO executions (namespace_id, workflow_id, run_id, db_version, next_event_id,"
    " status, workflow_type, start_time, active, state)"
    " VALUES ('ns', 'wf', 'run', 7, 12, 2, 'T', 1.0, {false}, {blob})"
)
V3_READ = (
    "SELECT parent_workflow_id, parent_run_id, root_workflow_id, root_run_id,"
    " history_size_bytes, state_transition_count FROM executions"
)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/pytemporal.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def _run(db: str, sql: str) -> tuple[object, ...] | None:
    if db.startswith("sqlite"):
        conn = sqlite3.connect(urls.parse(db).sqlite_path or "", isolation_level=None)
        try:
            row = conn.execute(sql).fetchone()
            return tuple(row) if row else None
        finally:
            conn.close()
    pg = await asyncpg.connect(db)
    try:
        record = await pg.fetchrow(sql)
        return tuple(record) if record else None
    finally:
        await pg.close()


async def test_a_version_2_database_upgrades_to_3(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_schema.SCHEMA_VERSION == pg_schema.SCHEMA_VERSION == 3
    with monkeypatch.context() as m:
        for module, holder in (
            (sqlite_schema, schema_tool._SqliteSchema),
            (pg_schema, schema_tool._PostgresSchema),
        ):
            m.setattr(module, "MIGRATIONS", {v: module.MIGRATIONS[v] for v in (1, 2)})
            m.setattr(holder, "latest", 2)
        assert (await schema_tool.setup(db)).after == 2
    sqlite = db.startswith("sqlite")
    await _run(
        db,
        V2_ROW.format(false="0" if sqlite else "false", blob="x''" if sqlite else "''::bytea"),
    )
    if sqlite:
        # The dev server on an older file names the fix.
        path = urls.parse(db).sqlite_path or ""
        with pytest.raises(SchemaMismatch, match=f"run `pytemporal schema upgrade --db {db}`"):
            SqliteStore(path)
    change = await schema_tool.upgrade(db)
    assert (change.before, change.after) == (2, 3)
    await schema_tool.check(db)
    # The old run names itself as its root until its next commit rewrites the columns.
    assert await _run(db, V3_READ) == (None, None, "wf", "run", 0, 7)
