"""One `Mutation` as SQL on an asyncpg connection, inside the caller's transaction.

The conditions are the SQLite store's, checked the same way: an UPDATE that must hit
exactly one row raises ``ConditionFailed`` otherwise, and an INSERT that collides with
an existing key raises asyncpg's UniqueViolationError, which the caller turns into
``ConditionFailed``. Under READ COMMITTED a conditional UPDATE racing another
transaction waits for it and then re-checks its WHERE clause against the new row, so
the loser sees 0 rows, as it would on SQLite's single writer.
"""

from __future__ import annotations

from typing import Any

from pytemporal.common.errors import ConditionFailed, ShardOwnershipLost
from pytemporal.persistence.api import CurrentMode, Mutation

_INSERT_EXECUTION = (
    "INSERT INTO executions (namespace_id, workflow_id, run_id, db_version, next_event_id,"
    " status, workflow_type, start_time, close_time, active, state, task_queue,"
    " execution_time, history_length, search_attributes, shard_id, parent_workflow_id,"
    " parent_run_id, root_workflow_id, root_run_id, history_size_bytes,"
    " state_transition_count)"
    " VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
    " $18, $19, $20, 1)"
)
# Parent and root never change, but are written again: rows from before schema
# version 3 get them at their next commit.
_UPDATE_EXECUTION = (
    "UPDATE executions SET db_version = $4, next_event_id = $5, status = $6,"
    " close_time = $7, active = $8, state = $9, history_length = $11, search_attributes = $12,"
    " history_size_bytes = $13, state_transition_count = $4, parent_workflow_id = $14,"
    " parent_run_id = $15, root_workflow_id = $16, root_run_id = $17"
    " WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3 AND db_version = $10"
)
_INSERT_HISTORY = (
    "INSERT INTO history (namespace_id, workflow_id, run_id, first_event_id, last_event_id,"
    " data) VALUES ($1, $2, $3, $4, $5, $6)"
)
_INSERT_CURRENT = (
    "INSERT INTO current_executions (namespace_id, workflow_id, run_id, create_request_id,"
    " status, first_execution_run_id) VALUES ($1, $2, $3, $4, $5, $6)"
)
_UPDATE_CURRENT = (
    "UPDATE current_executions SET run_id = $3, create_request_id = $4, status = $5,"
    " first_execution_run_id = $6 WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $7"
)

_DELETE_TIMER = (
    "DELETE FROM timer_tasks WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3"
)
_UPSERT_TIMER = (
    "INSERT INTO timer_tasks (namespace_id, workflow_id, run_id, shard_id, fire_time)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace_id, workflow_id, run_id)"
    " DO UPDATE SET fire_time = EXCLUDED.fire_time, shard_id = EXCLUDED.shard_id"
)
# Keeps the rows whose (kind, scheduled_event_id) pair is in the two parallel arrays.
_DELETE_TASKS = (
    "DELETE FROM tasks WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3"
    " AND (kind, scheduled_event_id) NOT IN"
    " (SELECT * FROM unnest($4::text[], $5::bigint[]))"
)
# A new attempt of a task replaces the row of the previous one, at the queue's tail.
_UPSERT_TASK = (
    "INSERT INTO tasks (namespace_id, task_queue, kind, workflow_id, run_id,"
    " scheduled_event_id, attempt, normal_queue) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (namespace_id, workflow_id, run_id, kind, scheduled_event_id)"
    " DO UPDATE SET task_id = nextval(pg_get_serial_sequence('tasks', 'task_id')),"
    " task_queue = EXCLUDED.task_queue, attempt = EXCLUDED.attempt,"
    " normal_queue = EXCLUDED.normal_queue"
)


def rowcount(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 1``."""
    return int(status.rsplit(" ", 1)[-1])


async def apply(conn: Any, m: Mutation) -> None:
    key = (m.namespace_id, m.workflow_id, m.run_id)
    if m.range_id:
        # Fencing: a process that lost the shard must not write. FOR SHARE waits for a
        # concurrent takeover (which updates the row) and then sees its new range_id.
        stored = await conn.fetchval(
            "SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE", m.shard_id
        )
        if stored != m.range_id:
            raise ShardOwnershipLost(f"shard {m.shard_id} is owned by another process")
    if m.db_version == 1:
        await conn.execute(
            _INSERT_EXECUTION,
            *key,
            m.next_event_id,
            m.status,
            m.workflow_type,
            m.start_time,
            m.close_time,
            m.active,
            m.state,
            m.task_queue,
            m.execution_time,
            m.next_event_id - 1,
            m.search_attributes,
            m.shard_id,
            m.parent_workflow_id,
            m.parent_run_id,
            m.root_workflow_id,
            m.root_run_id,
            m.history_size_bytes,
        )
    else:
        status = await conn.execute(
            _UPDATE_EXECUTION,
            *key,
            m.db_version,
            m.next_event_id,
            m.status,
            m.close_time,
            m.active,
            m.state,
            m.db_version - 1,
            m.next_event_id - 1,
            m.search_attributes,
            m.history_size_bytes,
            m.parent_workflow_id,
            m.parent_run_id,
            m.root_workflow_id,
            m.root_run_id,
        )
        if rowcount(status) != 1:
            raise ConditionFailed(f"execution {key} changed concurrently")
    if m.batches:
        await conn.executemany(
            _INSERT_HISTORY,
            [(*key, b.first_event_id, b.last_event_id, b.data) for b in m.batches],
        )
    if m.current is not None:
        await _apply_current(conn, m)
    await _apply_queues(conn, m)


async def _apply_queues(conn: Any, m: Mutation) -> None:
    key = (m.namespace_id, m.workflow_id, m.run_id)
    if m.set_timer:
        if m.timer is None:
            await conn.execute(_DELETE_TIMER, *key)
        else:
            await conn.execute(_UPSERT_TIMER, *key, m.shard_id, m.timer)
    if m.keep_tasks is not None:
        kinds = [k for k, _ in m.keep_tasks]
        ids = [i for _, i in m.keep_tasks]
        await conn.execute(_DELETE_TASKS, *key, kinds, ids)
    if m.new_tasks:
        await conn.executemany(
            _UPSERT_TASK,
            [
                (
                    t.namespace_id,
                    t.task_queue,
                    t.kind,
                    t.workflow_id,
                    t.run_id,
                    t.scheduled_event_id,
                    t.attempt,
                    t.normal_queue,
                )
                for t in m.new_tasks
            ],
        )


async def _apply_current(conn: Any, m: Mutation) -> None:
    c = m.current
    assert c is not None
    row = (m.namespace_id, m.workflow_id, m.run_id, c.create_request_id, c.status)
    if c.mode is CurrentMode.CREATE:
        await conn.execute(_INSERT_CURRENT, *row, c.first_execution_run_id)
        return
    expected = c.expected_run_id if c.mode is CurrentMode.REPLACE else m.run_id
    status = await conn.execute(_UPDATE_CURRENT, *row, c.first_execution_run_id, expected)
    # A run that is no longer current keeps its own status only (as on SQLite).
    if rowcount(status) != 1 and c.mode is CurrentMode.REPLACE:
        raise ConditionFailed(f"current run of {m.workflow_id} is not {expected}")
