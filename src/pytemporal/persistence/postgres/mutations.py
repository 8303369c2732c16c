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
    " execution_time, history_length, search_attributes, shard_id)"
    " VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)
_UPDATE_EXECUTION = (
    "UPDATE executions SET db_version = $4, next_event_id = $5, status = $6,"
    " close_time = $7, active = $8, state = $9, history_length = $11, search_attributes = $12"
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
