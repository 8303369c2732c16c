"""Versioned PostgreSQL schema: the same tables as SQLite, in PostgreSQL types.

To change the schema: add ``MIGRATIONS[n + 1]`` (DDL that turns version n into n + 1)
and bump ``SCHEMA_VERSION``; ``pytemporal schema upgrade`` applies the missing ones in
order, each in its own transaction with the ``schema_version`` row.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 3

SCHEMA_V1 = """
CREATE TABLE schema_version (version BIGINT NOT NULL);
CREATE TABLE namespaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    db_version BIGINT NOT NULL,
    next_event_id BIGINT NOT NULL,
    status BIGINT NOT NULL,
    workflow_type TEXT NOT NULL,
    start_time DOUBLE PRECISION NOT NULL,
    close_time DOUBLE PRECISION,
    -- Visibility: what List/CountWorkflowExecutions filter and sort on.
    task_queue TEXT NOT NULL DEFAULT '',
    execution_time DOUBLE PRECISION NOT NULL DEFAULT 0,
    history_length BIGINT NOT NULL DEFAULT 0,
    search_attributes TEXT NOT NULL DEFAULT '{}',
    -- True while the run is open or still has cross-workflow work to deliver: what a
    -- restarted server must load.
    active BOOLEAN NOT NULL,
    shard_id BIGINT NOT NULL DEFAULT 0,
    state BYTEA NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);
CREATE INDEX executions_active ON executions (active, shard_id) WHERE active;
CREATE TABLE shards (
    shard_id BIGINT PRIMARY KEY,
    owner TEXT NOT NULL,
    range_id BIGINT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL
);
CREATE TABLE cluster_members (
    member_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    heartbeat DOUBLE PRECISION NOT NULL
);
CREATE TABLE current_executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    create_request_id TEXT NOT NULL,
    status BIGINT NOT NULL,
    first_execution_run_id TEXT NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id)
);
CREATE TABLE history (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    first_event_id BIGINT NOT NULL,
    last_event_id BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, first_event_id)
);
"""

# Version 2: durable queues (see the SQLite schema for what each table holds). Mutable
# state is protobuf from this version on; version-1 databases hold pickled state.
SCHEMA_V2 = """
CREATE TABLE timer_tasks (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    shard_id BIGINT NOT NULL,
    fire_time DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);
-- Scanned in (fire_time, run) order, page after page, in byte order as on SQLite.
CREATE INDEX timer_tasks_due ON timer_tasks
    (fire_time, namespace_id COLLATE "C", workflow_id COLLATE "C", run_id COLLATE "C");
CREATE TABLE tasks (
    task_id BIGSERIAL PRIMARY KEY,
    namespace_id TEXT NOT NULL,
    task_queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scheduled_event_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    normal_queue TEXT NOT NULL
);
CREATE INDEX tasks_queue ON tasks (namespace_id, task_queue, kind, task_id);
CREATE UNIQUE INDEX tasks_run ON tasks (namespace_id, workflow_id, run_id, kind, scheduled_event_id);
DROP INDEX IF EXISTS executions_active;
"""

SCHEMA_V3 = """
-- Version 3: the rest of Temporal's SQL visibility columns. Rows written before it
-- get their parent and root at their next commit; until then (and for good, for runs
-- that are already closed) they name themselves as their root, and have no parent.
ALTER TABLE executions
    ADD COLUMN parent_workflow_id TEXT,
    ADD COLUMN parent_run_id TEXT,
    ADD COLUMN root_workflow_id TEXT NOT NULL DEFAULT '',
    ADD COLUMN root_run_id TEXT NOT NULL DEFAULT '',
    ADD COLUMN history_size_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN state_transition_count BIGINT NOT NULL DEFAULT 0;
UPDATE executions SET root_workflow_id = workflow_id, root_run_id = run_id,
    state_transition_count = db_version;
"""

# version -> the DDL that brings version - 1 to it; SCHEMA_VERSION is the last key.
MIGRATIONS: dict[int, str] = {1: SCHEMA_V1, 2: SCHEMA_V2, 3: SCHEMA_V3}

# Serializes schema changes of concurrent `schema setup`/`upgrade` runs (and dev servers
# creating their schema at start) on one database: pg_advisory_xact_lock key.
MIGRATION_LOCK = 0x707974656D70  # "pytemp"


async def read_version(conn: Any) -> int | None:
    """The stored schema version; None when the database has no pytemporal schema.

    `conn` is an asyncpg connection. The table is looked up through ``search_path``, so
    a schema per tenant (or per test) works like a database per tenant.
    """
    # Not to_regclass(): it answers from the session's catalog cache, which can still
    # say "no such table" after another session's setup committed (seen under the
    # migration lock). pg_class is read with a fresh snapshot per statement.
    exists = await conn.fetchval(
        "SELECT 1 FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = 'schema_version' AND n.nspname = current_schema()"
    )
    if exists is None:
        return None
    version = await conn.fetchval("SELECT max(version) FROM schema_version")
    # An empty table: a setup that never finished. Report it as older than anything.
    return 0 if version is None else int(version)


async def apply_migration(conn: Any, version: int) -> bool:
    """Bring the schema from `version - 1` to `version` in one transaction.

    Returns False, changing nothing, when the database is not at `version - 1` once the
    migration lock is held: another process migrated it first.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        current = await read_version(conn)
        if (current or 0) != version - 1:
            return False
        await conn.execute(MIGRATIONS[version])
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    return True
