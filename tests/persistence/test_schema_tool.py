"""`pytemporal schema setup/upgrade`, and the check a production server runs at start.

Runs on a SQLite file and on a fresh PostgreSQL database. Upgrades are exercised with
made-up migrations v2/v3 patched in, the way a real v2 will be added.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from pytemporal.common.errors import PersistenceError
from pytemporal.persistence import schema_tool, urls
from pytemporal.persistence.errors import SchemaMismatch
from pytemporal.persistence.factory import open_store
from pytemporal.persistence.postgres import schema as pg_schema
from pytemporal.persistence.sqlite import schema as sqlite_schema

DIALECTS = ["sqlite", "postgres"]

# The schema version this code creates; the fake migrations come after it.
CUR = sqlite_schema.SCHEMA_VERSION
assert pg_schema.SCHEMA_VERSION == CUR


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/pytemporal.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def _query(db: str, sql: str, *args: object) -> object:
    if db.startswith("sqlite"):
        conn = sqlite3.connect(urls.parse(db).sqlite_path or "", isolation_level=None)
        try:
            row = conn.execute(sql.replace("$1", "?"), args).fetchone()
            return row[0] if row else None
        finally:
            conn.close()
    pg = await asyncpg.connect(db)
    try:
        return await pg.fetchval(sql, *args)
    finally:
        await pg.close()


async def _set_version(db: str, version: int) -> None:
    await _query(db, "UPDATE schema_version SET version = $1", version)


async def _has_table(db: str, name: str) -> bool:
    if db.startswith("sqlite"):
        sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
    else:
        sql = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1"
    return bool(await _query(db, sql, name))


@pytest.fixture
def add_migrations(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Pretend this code's schema has more versions: add_migrations(v2=ddl, v3=ddl...)
    adds versions CUR + 1, CUR + 2... (v2 is the first after the current one)."""

    def add(**by_version: str) -> None:
        for module, holder in (
            (sqlite_schema, schema_tool._SqliteSchema),
            (pg_schema, schema_tool._PostgresSchema),
        ):
            migrations = dict(module.MIGRATIONS)
            migrations.update({CUR + int(k[1:]) - 1: ddl for k, ddl in by_version.items()})
            monkeypatch.setattr(module, "MIGRATIONS", migrations)
            monkeypatch.setattr(holder, "latest", max(migrations))

    return add


# -- setup and check -------------------------------------------------------------


async def test_check_on_an_empty_database_says_run_setup(db: str) -> None:
    with pytest.raises(SchemaMismatch) as raised:
        await schema_tool.check(db)
    assert f"run `pytemporal schema setup --db {db}`" in str(raised.value)


async def test_setup_creates_the_current_schema(db: str) -> None:
    change = await schema_tool.setup(db)
    assert (change.before, change.after, change.changed) == (None, CUR, True)
    await schema_tool.check(db)
    assert await _query(db, "SELECT version FROM schema_version") == CUR
    for table in ("namespaces", "executions", "current_executions", "history"):
        assert await _has_table(db, table)


async def test_setup_on_a_current_schema_is_a_no_op(db: str) -> None:
    await schema_tool.setup(db)
    change = await schema_tool.setup(db)
    assert (change.before, change.after, change.changed) == (CUR, CUR, False)
    assert await _query(db, "SELECT count(*) FROM schema_version") == 1


async def test_concurrent_setups_create_the_schema_once(db: str) -> None:
    changes = await asyncio.gather(*(schema_tool.setup(db) for _ in range(3)))
    assert all(c.after == CUR for c in changes)
    assert await _query(db, "SELECT count(*) FROM schema_version") == 1


# -- older schemas ---------------------------------------------------------------


async def test_older_schema_check_and_setup_say_run_upgrade(
    db: str, add_migrations: Callable[..., None]
) -> None:
    await schema_tool.setup(db)
    add_migrations(v2="CREATE TABLE extra (x BIGINT);")
    for call in (schema_tool.check, schema_tool.setup):
        with pytest.raises(
            SchemaMismatch, match=rf"schema version {CUR} is older than version {CUR + 1}"
        ) as e:
            await call(db)
        assert f"run `pytemporal schema upgrade --db {db}`" in str(e.value)


async def test_upgrade_applies_missing_migrations_in_order(
    db: str, add_migrations: Callable[..., None]
) -> None:
    await schema_tool.setup(db)
    # v3 only works after v2: order matters.
    add_migrations(
        v2="CREATE TABLE extra (x BIGINT);",
        v3="ALTER TABLE extra ADD COLUMN y BIGINT; INSERT INTO extra (x, y) VALUES (1, 2);",
    )
    change = await schema_tool.upgrade(db)
    assert (change.before, change.after) == (CUR, CUR + 2)
    await schema_tool.check(db)
    assert await _query(db, "SELECT y FROM extra WHERE x = 1") == 2
    again = await schema_tool.upgrade(db)
    assert (again.before, again.after, again.changed) == (CUR + 2, CUR + 2, False)


async def test_setup_on_an_empty_database_applies_every_migration(
    db: str, add_migrations: Callable[..., None]
) -> None:
    add_migrations(v2="CREATE TABLE extra (x BIGINT);")
    assert (await schema_tool.setup(db)).after == CUR + 1
    assert await _has_table(db, "extra")


async def test_a_failing_migration_leaves_the_previous_version(
    db: str, add_migrations: Callable[..., None]
) -> None:
    await schema_tool.setup(db)
    add_migrations(v2="CREATE TABLE half_done (x BIGINT); CREATE TABLE broken (x NOTATYPE(;")
    with pytest.raises(Exception):  # noqa: B017  (the driver's syntax error, either dialect)
        await schema_tool.upgrade(db)
    assert await _query(db, "SELECT version FROM schema_version") == CUR
    assert not await _has_table(db, "half_done")


async def test_upgrade_of_an_empty_database_says_run_setup(db: str) -> None:
    with pytest.raises(SchemaMismatch, match="pytemporal schema setup --db"):
        await schema_tool.upgrade(db)


# -- newer schemas ---------------------------------------------------------------


@pytest.mark.parametrize("call", ["check", "setup", "upgrade"])
async def test_newer_schema_is_refused_by_every_command(db: str, call: str) -> None:
    await schema_tool.setup(db)
    await _set_version(db, 7)
    with pytest.raises(SchemaMismatch, match="created by a newer pytemporal") as e:
        await getattr(schema_tool, call)(db)
    assert "schema version 7" in str(e.value)
    assert await _query(db, "SELECT version FROM schema_version") == 7


# -- opening stores --------------------------------------------------------------


async def test_a_production_store_needs_the_schema_set_up_first(db: str) -> None:
    with pytest.raises(SchemaMismatch, match="pytemporal schema setup"):
        await open_store(db, create_schema=False)
    await schema_tool.setup(db)
    store = await open_store(db, create_schema=False, pool_size=2)
    await store.close()


async def test_a_production_store_refuses_an_older_schema(
    db: str, add_migrations: Callable[..., None]
) -> None:
    await schema_tool.setup(db)
    add_migrations(v2="CREATE TABLE extra (x BIGINT);")
    with pytest.raises(SchemaMismatch, match="pytemporal schema upgrade"):
        await open_store(db, create_schema=False)


async def test_a_dev_store_creates_its_schema(db: str) -> None:
    store = await open_store(db, create_schema=True, pool_size=2)
    await store.close()
    await schema_tool.check(db)


async def test_postgres_store_checks_the_version_itself(postgres_url: str) -> None:
    from pytemporal.persistence.postgres import PostgresStore

    with pytest.raises(SchemaMismatch, match="pytemporal schema setup"):
        await PostgresStore.connect(postgres_url)


# -- URLs ------------------------------------------------------------------------


async def test_in_memory_sqlite_has_nothing_to_set_up() -> None:
    await schema_tool.check("sqlite://")
    with pytest.raises(urls.DatabaseURLError, match="in-memory"):
        await schema_tool.setup("sqlite://")


async def test_unreachable_postgres_is_a_persistence_error() -> None:
    with pytest.raises(PersistenceError, match=r"connect to postgresql://u:\*\*\*@127.0.0.1:1/"):
        await schema_tool.check("postgresql://u:secret@127.0.0.1:1/db")


@pytest.mark.parametrize(
    ("url", "dialect", "path"),
    [
        (None, "sqlite", None),
        ("sqlite://", "sqlite", None),
        ("sqlite://:memory:", "sqlite", None),
        ("sqlite:///data/p.db", "sqlite", "data/p.db"),
        ("sqlite:////var/lib/p.db", "sqlite", "/var/lib/p.db"),
        ("postgresql://u@h/db", "postgresql", None),
        ("postgres://u@h/db", "postgresql", None),
    ],
)
def test_urls_name_a_dialect_and_a_place(url: str | None, dialect: str, path: str | None) -> None:
    parsed = urls.parse(url)
    assert (parsed.dialect, parsed.sqlite_path) == (dialect, path)


@pytest.mark.parametrize("url", ["mysql://h/db", "just-a-path.db", "sqlite:/x.db", "sqlite:///"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(urls.DatabaseURLError):
        urls.parse(url)


def test_redact_hides_the_password_only() -> None:
    assert urls.redact("postgresql://u:pw@h:5/db?x=1") == "postgresql://u:***@h:5/db?x=1"
    assert urls.redact("postgresql://u@h/db") == "postgresql://u@h/db"
