"""Versioned SQLite schema. Bump SCHEMA_VERSION and add a migration for every change."""

SCHEMA_VERSION = 3

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

# Version 2: durable queues. Mutable state is protobuf from this version on; a version-1
# database (0.1.0 development builds) holds pickled state that this server cannot read.
SCHEMA_V2 = """
-- One row per run with something due: its earliest deadline (user timer, activity
-- timeout or retry, workflow-task timeout, run timeout, start backoff) or, while it has
-- cross-workflow work to deliver, the time that work was committed. Written in the
-- same transaction as the run's state; the timer queue reads the due head per shard.
CREATE TABLE IF NOT EXISTS timer_tasks (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    shard_id INTEGER NOT NULL,
    fire_time REAL NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);
-- Scanned in (fire_time, run) order, page after page (a shard filter rides along).
CREATE INDEX IF NOT EXISTS timer_tasks_due
    ON timer_tasks (fire_time, namespace_id, workflow_id, run_id);
-- Task-queue backlog: workflow and activity tasks scheduled and not yet started, kept
-- in step with the runs' state by every commit. Matching reads a queue's head.
CREATE TABLE IF NOT EXISTS tasks (
    task_id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id TEXT NOT NULL,
    task_queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scheduled_event_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    normal_queue TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (namespace_id, task_queue, kind, task_id);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_run
    ON tasks (namespace_id, workflow_id, run_id, kind, scheduled_event_id);
DROP INDEX IF EXISTS executions_active;
"""

SCHEMA_V3 = """
-- Version 3: the rest of Temporal's SQL visibility columns. Rows written before it
-- get their parent and root at their next commit; until then (and for good, for runs
-- that are already closed) they name themselves as their root, and have no parent.
ALTER TABLE executions ADD COLUMN parent_workflow_id TEXT;
ALTER TABLE executions ADD COLUMN parent_run_id TEXT;
ALTER TABLE executions ADD COLUMN root_workflow_id TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN root_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN history_size_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN state_transition_count INTEGER NOT NULL DEFAULT 0;
UPDATE executions SET root_workflow_id = workflow_id, root_run_id = run_id,
    state_transition_count = db_version;
"""

# version -> the DDL that brings version - 1 to it. The schema tool runs each in one
# transaction together with the schema_version update; SCHEMA_VERSION is the last key.
MIGRATIONS: dict[int, str] = {1: SCHEMA_V1, 2: SCHEMA_V2, 3: SCHEMA_V3}
