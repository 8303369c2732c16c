"""SQLite store: one connection, used only from the event-loop thread.

See DESIGN.md beside this file for why commits are batched on the loop instead of a
writer thread.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from typing import Any

from pytemporal.common.errors import (
    ConditionFailed,
    NamespaceAlreadyExists,
    PersistenceError,
    ShardOwnershipLost,
)
from pytemporal.persistence import deletion
from pytemporal.persistence.api import (
    CurrentMode,
    CurrentRun,
    ExecutionRow,
    HistoryBatch,
    Member,
    Mutation,
    NamespaceRecord,
    ShardLease,
    TaskRow,
    TimerRow,
    VisibilityCounts,
    VisibilityCursor,
    VisibilityRow,
)
from pytemporal.persistence.errors import SchemaMismatch
from pytemporal.persistence.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from pytemporal.visibility import sql as visibility_sql
from pytemporal.visibility.attributes import InvalidQuery
from pytemporal.visibility.query import Expr, OrderItem

_TOO_COMPLEX = frozenset({"parser stack overflow"})

__all__ = ["SchemaMismatch", "SqliteStore"]


class SqliteStore:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self._db = sqlite3.connect(
            path or ":memory:", isolation_level=None, check_same_thread=False
        )
        if path:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit reaches the OS before it returns, so it survives
            # the process being killed; only an OS crash can lose the newest commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            self._init_schema()
        except BaseException:
            self._db.close()
            raise
        self._closed = False
        self._pending: list[tuple[Sequence[Mutation], asyncio.Future[None]]] = []
        self._flush_scheduled = False
        self.commits = 0
        self.transactions = 0

    def _init_schema(self) -> None:
        row = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if row is None:
            for version in sorted(MIGRATIONS):
                self._db.executescript(MIGRATIONS[version])
            self._db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            return
        (version,) = self._db.execute("SELECT version FROM schema_version").fetchone()
        if version != SCHEMA_VERSION:
            # Name the fix: an older dev-server file upgrades in place.
            db = f"sqlite:///{os.path.abspath(self.path)}" if self.path else "sqlite://"
            raise SchemaMismatch.for_versions(version, SCHEMA_VERSION, db)

    async def close(self) -> None:
        if self._pending:
            self._flush()
        self._closed = True
        self._db.close()

    # -- namespaces ---------------------------------------------------------------

    async def create_namespace(self, ns: NamespaceRecord) -> None:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO namespaces (id, name, data) VALUES (?, ?, ?)",
                    (ns.id, ns.name, ns.data),
                )
        except sqlite3.IntegrityError as e:
            raise NamespaceAlreadyExists(f"Namespace already exists: {ns.name}") from e

    async def update_namespace(self, ns: NamespaceRecord) -> None:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "UPDATE namespaces SET name = ?, data = ? WHERE id = ?",
                    (ns.name, ns.data, ns.id),
                )
        except sqlite3.IntegrityError as e:
            raise NamespaceAlreadyExists(f"Namespace already exists: {ns.name}") from e

    async def get_namespace(self, *, name: str = "", id: str = "") -> NamespaceRecord | None:
        col, val = ("name", name) if name else ("id", id)
        row = self._db.execute(
            f"SELECT id, name, data FROM namespaces WHERE {col} = ?", (val,)
        ).fetchone()
        return NamespaceRecord(*row) if row else None

    async def list_namespaces(self) -> list[NamespaceRecord]:
        rows = self._db.execute("SELECT id, name, data FROM namespaces ORDER BY name").fetchall()
        return [NamespaceRecord(*r) for r in rows]

    async def delete_namespace(self, namespace_id: str) -> None:
        self._delete(["DELETE FROM namespaces WHERE id = ?"], (namespace_id,))

    # -- deletion -----------------------------------------------------------------

    async def delete_execution(self, namespace_id: str, workflow_id: str, run_id: str) -> None:
        self._delete(deletion.run_statements("sqlite"), (namespace_id, workflow_id, run_id))

    async def delete_namespace_data(self, namespace_ids: Sequence[str]) -> None:
        ids = tuple(namespace_ids)
        self._delete(deletion.namespace_statements("sqlite", len(ids)), ids)

    def _delete(self, statements: list[str], params: tuple[str, ...]) -> None:
        if self._closed:
            raise PersistenceError("the store is closed")
        if self._pending:
            self._flush()  # commits requested before this delete land before it
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for sql in statements:
                    self._db.execute(sql, params)
        except sqlite3.Error as e:
            raise PersistenceError(f"sqlite delete failed: {e}") from e

    # -- executions ---------------------------------------------------------------

    async def get_current_run(self, namespace_id: str, workflow_id: str) -> CurrentRun | None:
        row = self._db.execute(
            "SELECT run_id, create_request_id, status, first_execution_run_id"
            " FROM current_executions"
            " WHERE namespace_id = ? AND workflow_id = ?",
            (namespace_id, workflow_id),
        ).fetchone()
        return CurrentRun(*row) if row else None

    async def get_execution(
        self, namespace_id: str, workflow_id: str, run_id: str
    ) -> ExecutionRow | None:
        row = self._db.execute(
            "SELECT e.namespace_id, e.workflow_id, e.run_id, e.db_version, e.next_event_id,"
            " e.status, e.state, t.fire_time FROM executions e LEFT JOIN timer_tasks t"
            " USING (namespace_id, workflow_id, run_id)"
            " WHERE e.namespace_id = ? AND e.workflow_id = ? AND e.run_id = ?",
            (namespace_id, workflow_id, run_id),
        ).fetchone()
        return ExecutionRow(*row) if row else None

    async def read_history(
        self,
        namespace_id: str,
        workflow_id: str,
        run_id: str,
        min_event_id: int = 1,
        max_event_id: int | None = None,
    ) -> list[HistoryBatch]:
        rows = self._db.execute(
            "SELECT first_event_id, last_event_id, data FROM history"
            " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ? AND last_event_id >= ?"
            " AND first_event_id <= ? ORDER BY first_event_id",
            (namespace_id, workflow_id, run_id, min_event_id, max_event_id or 2**62),
        ).fetchall()
        return [HistoryBatch(*r) for r in rows]

    async def read_timers(
        self,
        shard_ids: Sequence[int] | None,
        until: float,
        limit: int,
        *,
        after: TimerRow | None = None,
    ) -> list[TimerRow]:
        sql = (
            "SELECT namespace_id, workflow_id, run_id, shard_id, fire_time FROM timer_tasks"
            " WHERE fire_time <= ?"
        )
        params: list[float | int | str] = [until]
        if shard_ids is not None:
            sql += f" AND shard_id IN ({', '.join('?' for _ in shard_ids)})"
            params.extend(shard_ids)
        if after is not None:
            sql += " AND (fire_time, namespace_id, workflow_id, run_id) > (?, ?, ?, ?)"
            params.extend([after.fire_time, after.namespace_id, after.workflow_id, after.run_id])
        sql += " ORDER BY fire_time, namespace_id, workflow_id, run_id LIMIT ?"
        params.append(limit)
        return [TimerRow(*r) for r in self._db.execute(sql, params).fetchall()]

    async def read_tasks(
        self, namespace_id: str, task_queue: str, kind: str, after_task_id: int, limit: int
    ) -> list[TaskRow]:
        rows = self._db.execute(
            "SELECT namespace_id, task_queue, kind, workflow_id, run_id, scheduled_event_id,"
            " attempt, normal_queue, task_id FROM tasks"
            " WHERE namespace_id = ? AND task_queue = ? AND kind = ? AND task_id > ?"
            " ORDER BY task_id LIMIT ?",
            (namespace_id, task_queue, kind, after_task_id, limit),
        ).fetchall()
        return [TaskRow(*r) for r in rows]

    # -- visibility ---------------------------------------------------------------

    async def list_executions(
        self,
        namespace_id: str,
        where: Expr | None,
        *,
        page_size: int,
        after: VisibilityCursor | None = None,
        order_by: Sequence[OrderItem] = (),
    ) -> list[VisibilityRow]:
        key = None if after is None else (after.close_time, after.start_time, after.run_id)
        sql, params = visibility_sql.select_page(
            "sqlite",
            namespace_id,
            where,
            limit=page_size,
            after=key,
            order_by=order_by,
            offset=after.offset if after is not None else 0,
        )
        return [VisibilityRow(*r) for r in self._visibility_query(sql, params)]

    async def count_executions(
        self, namespace_id: str, where: Expr | None, *, group_by_status: bool = False
    ) -> VisibilityCounts:
        sql, params = visibility_sql.select_count(
            "sqlite", namespace_id, where, group_by_status=group_by_status
        )
        rows = self._visibility_query(sql, params)
        if not group_by_status:
            return VisibilityCounts(total=rows[0][0])
        by_status = {int(status): int(n) for status, n in rows}
        return VisibilityCounts(total=sum(by_status.values()), by_status=by_status)

    def _visibility_query(self, sql: str, params: list[object]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            # The filter is valid but nests deeper than this SQLite build parses (its
            # parser stack holds ~100 entries before 3.46): the client's query, so
            # INVALID_ARGUMENT, not a store failure.
            if str(e) in _TOO_COMPLEX or str(e).startswith("Expression tree is too large"):
                raise InvalidQuery(f"query is too complex for the SQLite store ({e})") from e
            raise

    # -- cluster ------------------------------------------------------------------

    async def heartbeat_member(self, member_id: str, address: str, now: float) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO cluster_members (member_id, address, heartbeat) VALUES (?, ?, ?)"
                " ON CONFLICT (member_id) DO UPDATE SET address = excluded.address,"
                " heartbeat = excluded.heartbeat",
                (member_id, address, now),
            )

    async def list_members(self) -> list[Member]:
        rows = self._db.execute("SELECT member_id, address, heartbeat FROM cluster_members")
        return [Member(*r) for r in rows.fetchall()]

    async def list_shards(self) -> list[ShardLease]:
        rows = self._db.execute("SELECT shard_id, owner, range_id, lease_until FROM shards")
        return [ShardLease(*r) for r in rows.fetchall()]

    async def acquire_shard(
        self, shard_id: int, member_id: str, now: float, ttl: float
    ) -> int | None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "INSERT INTO shards (shard_id, owner, range_id, lease_until) VALUES (?, ?, 1, ?)"
                " ON CONFLICT (shard_id) DO UPDATE SET owner = excluded.owner,"
                " range_id = shards.range_id + 1, lease_until = excluded.lease_until"
                " WHERE shards.lease_until < ? OR shards.owner = excluded.owner"
                " RETURNING range_id",
                (shard_id, member_id, now + ttl, now),
            ).fetchone()
        return int(row[0]) if row else None

    async def renew_shards(
        self, member_id: str, ranges: dict[int, int], now: float, ttl: float
    ) -> set[int]:
        kept: set[int] = set()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for shard_id, range_id in ranges.items():
                cur = self._db.execute(
                    "UPDATE shards SET lease_until = ?"
                    " WHERE shard_id = ? AND owner = ? AND range_id = ?",
                    (now + ttl, shard_id, member_id, range_id),
                )
                if cur.rowcount == 1:
                    kept.add(shard_id)
        return kept

    async def release_shard(self, shard_id: int, member_id: str, range_id: int) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE shards SET lease_until = 0"
                " WHERE shard_id = ? AND owner = ? AND range_id = ?",
                (shard_id, member_id, range_id),
            )

    # -- commits ------------------------------------------------------------------

    async def commit(self, mutations: Sequence[Mutation]) -> None:
        if self._closed:
            raise PersistenceError("the store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((mutations, fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # Every commit requested during this loop iteration shares one transaction.
            loop.call_soon(self._flush)
        await fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        results: list[Exception | None] = []
        try:
            results = self._write(pending)
        except Exception as e:  # the transaction itself failed: nobody's write landed
            failed = PersistenceError(f"sqlite commit failed: {e}")
            results = [failed] * len(pending)
        finally:
            # Every caller hears back, whatever happened above.
            results += [PersistenceError("sqlite commit failed")] * (len(pending) - len(results))
            self.commits += 1
            self.transactions += len(pending)
            for (_, fut), res in zip(pending, results, strict=True):
                if fut.done():
                    continue
                if res is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(res)

    def _write(
        self, pending: list[tuple[Sequence[Mutation], asyncio.Future[None]]]
    ) -> list[Exception | None]:
        """One transaction, one savepoint per caller: a caller's failure is its own."""
        results: list[Exception | None] = []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for i, (mutations, _) in enumerate(pending):
                db.execute(f"SAVEPOINT m{i}")
                try:
                    for m in mutations:
                        self._apply(m)
                except (ConditionFailed, ShardOwnershipLost) as e:
                    db.execute(f"ROLLBACK TO m{i}")
                    results.append(e)
                except sqlite3.IntegrityError as e:
                    db.execute(f"ROLLBACK TO m{i}")
                    results.append(ConditionFailed(str(e)))
                except Exception as e:  # a write this store cannot make: that caller only
                    db.execute(f"ROLLBACK TO m{i}")
                    results.append(PersistenceError(f"sqlite write failed: {e}"))
                else:
                    results.append(None)
                db.execute(f"RELEASE m{i}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    def _apply(self, m: Mutation) -> None:
        db = self._db
        key = (m.namespace_id, m.workflow_id, m.run_id)
        if m.range_id:
            row = db.execute(
                "SELECT range_id FROM shards WHERE shard_id = ?", (m.shard_id,)
            ).fetchone()
            if row is None or row[0] != m.range_id:
                raise ShardOwnershipLost(f"shard {m.shard_id} is owned by another process")
        if m.db_version == 1:
            db.execute(
                "INSERT INTO executions (namespace_id, workflow_id, run_id, db_version,"
                " next_event_id, status, workflow_type, start_time, close_time, active, state,"
                " task_queue, execution_time, history_length, search_attributes, shard_id,"
                " parent_workflow_id, parent_run_id, root_workflow_id, root_run_id,"
                " history_size_bytes, state_transition_count)"
                " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    *key,
                    m.next_event_id,
                    m.status,
                    m.workflow_type,
                    m.start_time,
                    m.close_time,
                    int(m.active),
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
                ),
            )
        else:
            cur = db.execute(
                "UPDATE executions SET db_version = ?, next_event_id = ?, status = ?,"
                " close_time = ?, active = ?, state = ?, history_length = ?,"
                " search_attributes = ?, history_size_bytes = ?, state_transition_count = ?,"
                # Parent and root never change, but are written again: rows from before
                # schema version 3 get them at their next commit.
                " parent_workflow_id = ?, parent_run_id = ?, root_workflow_id = ?,"
                " root_run_id = ?"
                " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ? AND db_version = ?",
                (
                    m.db_version,
                    m.next_event_id,
                    m.status,
                    m.close_time,
                    int(m.active),
                    m.state,
                    m.next_event_id - 1,
                    m.search_attributes,
                    m.history_size_bytes,
                    m.db_version,
                    m.parent_workflow_id,
                    m.parent_run_id,
                    m.root_workflow_id,
                    m.root_run_id,
                    *key,
                    m.db_version - 1,
                ),
            )
            if cur.rowcount != 1:
                raise ConditionFailed(f"execution {key} changed concurrently")
        for b in m.batches:
            db.execute(
                "INSERT INTO history (namespace_id, workflow_id, run_id, first_event_id,"
                " last_event_id, data) VALUES (?, ?, ?, ?, ?, ?)",
                (*key, b.first_event_id, b.last_event_id, b.data),
            )
        if m.current is not None:
            self._apply_current(m)
        self._apply_queues(m)

    def _apply_queues(self, m: Mutation) -> None:
        db = self._db
        key = (m.namespace_id, m.workflow_id, m.run_id)
        if m.set_timer:
            if m.timer is None:
                db.execute(
                    "DELETE FROM timer_tasks"
                    " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?",
                    key,
                )
            else:
                db.execute(
                    "INSERT INTO timer_tasks (namespace_id, workflow_id, run_id, shard_id,"
                    " fire_time) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                    " fire_time = excluded.fire_time, shard_id = excluded.shard_id",
                    (*key, m.shard_id, m.timer),
                )
        if m.keep_tasks is not None:
            rows = db.execute(
                "SELECT task_id, kind, scheduled_event_id FROM tasks"
                " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?",
                key,
            ).fetchall()
            keep = set(m.keep_tasks)
            gone = [(r[0],) for r in rows if (r[1], r[2]) not in keep]
            if gone:
                db.executemany("DELETE FROM tasks WHERE task_id = ?", gone)
        for t in m.new_tasks:
            db.execute(
                "INSERT OR REPLACE INTO tasks (namespace_id, task_queue, kind, workflow_id,"
                " run_id, scheduled_event_id, attempt, normal_queue)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t.namespace_id,
                    t.task_queue,
                    t.kind,
                    t.workflow_id,
                    t.run_id,
                    t.scheduled_event_id,
                    t.attempt,
                    t.normal_queue,
                ),
            )

    def _apply_current(self, m: Mutation) -> None:
        c = m.current
        assert c is not None
        db = self._db
        if c.mode is CurrentMode.CREATE:
            db.execute(
                "INSERT INTO current_executions (namespace_id, workflow_id, run_id,"
                " create_request_id, status, first_execution_run_id) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    m.namespace_id,
                    m.workflow_id,
                    m.run_id,
                    c.create_request_id,
                    c.status,
                    c.first_execution_run_id,
                ),
            )
            return
        expected = c.expected_run_id if c.mode is CurrentMode.REPLACE else m.run_id
        cur = db.execute(
            "UPDATE current_executions SET run_id = ?, create_request_id = ?, status = ?,"
            " first_execution_run_id = ?"
            " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?",
            (
                m.run_id,
                c.create_request_id,
                c.status,
                c.first_execution_run_id,
                m.namespace_id,
                m.workflow_id,
                expected,
            ),
        )
        # A run that is no longer current keeps its own status only.
        if cur.rowcount != 1 and c.mode is CurrentMode.REPLACE:
            raise ConditionFailed(f"current run of {m.workflow_id} is not {expected}")
