"""Versioned SQLite schema. Bump SCHEMA_VERSION and add a migration for every change."""

SCHEMA_VERSION = 1

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    db_version INTEGER NOT NULL,
    next_event_id INTEGER NOT NULL,
    status INTEGER NOT NULL,
    workflow_type TEXT NOT NULL,
    start_time REAL NOT NULL,
    close_time REAL,
    -- Visibility: what List/CountWorkflowExecutions filter and sort on.
    task_queue TEXT NOT NULL DEFAULT '',
    execution_time REAL NOT NULL DEFAULT 0,
    history_length INTEGER NOT NULL DEFAULT 0,
    search_attributes TEXT NOT NULL DEFAULT '{}',
    -- 1 while the run is open or still has cross-workflow work to deliver (a closed
    -- child notifying its parent...): what a restarted server must load.
    active INTEGER NOT NULL,
    shard_id INTEGER NOT NULL DEFAULT 0,
    state BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);
CREATE INDEX IF NOT EXISTS executions_active ON executions (active, shard_id) WHERE active = 1;
CREATE TABLE IF NOT EXISTS shards (
    shard_id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    range_id INTEGER NOT NULL,
    lease_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_members (
    member_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS current_executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    create_request_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    first_execution_run_id TEXT NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id)
);
CREATE TABLE IF NOT EXISTS history (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    first_event_id INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, first_event_id)
);
"""

# version -> the DDL that brings version - 1 to it. The schema tool runs each in one
# transaction together with the schema_version update; SCHEMA_VERSION is the last key.
MIGRATIONS: dict[int, str] = {1: SCHEMA_V1}
