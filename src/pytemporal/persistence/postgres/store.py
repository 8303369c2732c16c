"""PostgreSQL store (asyncpg): the `Store` contract over a connection pool.

Commits go through `GroupCommit` (several callers per transaction, one savepoint per
caller, several transactions in flight). Reads and namespace writes take a pooled
connection each. Failure semantics, in short (docs/architecture/persistence.md has
the long version):

* A driver error never escapes: it becomes ``PersistenceError`` (gRPC UNAVAILABLE).
* A connection that failed mid-call is terminated, never returned to the pool, and
  the pool's idle connections are expired, so the store recovers by itself once
  PostgreSQL is back.
* A call that failed on a dead connection before anything could have been committed
  (a read, or a commit before its COMMIT was sent) is retried once on a fresh one.
  A commit whose COMMIT was sent and then lost its connection is not retried: it
  may have committed, and only the caller's next conditional write can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from pytemporal.common.errors import (
    ConditionFailed,
    InvalidArgument,
    NamespaceAlreadyExists,
    PersistenceError,
    ShardOwnershipLost,
)
from pytemporal.persistence import deletion, urls
from pytemporal.persistence.api import (
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
from pytemporal.persistence.postgres import mutations
from pytemporal.persistence.postgres.errors import (
    CLIENT_TEXT_ERRORS,
    CLIENT_TEXT_MESSAGE,
    check_json_text,
    is_connection_error,
    is_retryable,
    translate,
)
from pytemporal.persistence.postgres.group_commit import Batch, GroupCommit
from pytemporal.persistence.postgres.schema import SCHEMA_VERSION, read_version
from pytemporal.visibility import sql as visibility_sql
from pytemporal.visibility.query import Expr, OrderItem

T = TypeVar("T")

_EXECUTION_COLUMNS = "namespace_id, workflow_id, run_id, db_version, next_event_id, status, state"


class _NothingCommitted(Exception):
    """Every caller of a batch failed its conditions: roll back instead of committing."""


class PostgresStore:
    def __init__(self, pool: Any, *, pool_size: int) -> None:
        """Use `connect`."""
        self._pool = pool
        # Leave connections for reads: a burst of commits must not starve them.
        self._group = GroupCommit(self._write_batch, max_in_flight=max(1, pool_size // 2))

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
    ) -> PostgresStore:
        """Open a pool on `url`; raises SchemaMismatch unless its schema is current."""
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
            )
        except Exception as e:
            raise translate(e, f"connect to {urls.redact(url)}") from e
        store = cls(pool, pool_size=pool_size)
        try:
            version = await store._read(read_version, "schema check")
            if version != SCHEMA_VERSION:
                raise SchemaMismatch.for_versions(version, SCHEMA_VERSION, urls.redact(url))
        except BaseException:
            pool.terminate()
            raise
        return store

    async def close(self, timeout: float = 10.0) -> None:
        """Write the commits already requested, then close every connection.

        After `timeout` seconds (a call stuck on an unresponsive server, say) the
        remaining connections are terminated instead.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._group.close()
                await self._pool.close()
        except TimeoutError:
            self._pool.terminate()

    def terminate(self) -> None:
        """Close every connection now; commits in flight fail with PersistenceError."""
        self._group.refuse_new()
        self._pool.terminate()

    @property
    def commits(self) -> int:
        return self._group.commits

    @property
    def transactions(self) -> int:
        return self._group.transactions

    # -- connections --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        conn = await self._pool.acquire()
        try:
            yield conn
        except BaseException as e:
            if is_connection_error(e):
                # Never reuse it; its idle siblings probably died with it too.
                conn.terminate()
                await self._pool.expire_connections()
            raise
        finally:
            # A failed release has already terminated the connection (asyncpg does); it
            # must not turn a finished call into a failed one.
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    async def _run(
        self,
        work: Callable[[Any], Awaitable[T]],
        doing: str,
        *,
        may_retry: Callable[[], bool],
    ) -> T:
        """`work(conn)` on a pooled connection, once more on a fresh one if allowed."""
        retried = False
        while True:
            try:
                async with self._connection() as conn:
                    return await work(conn)
            except Exception as e:
                if not retried and is_retryable(e) and may_retry():
                    retried = True
                    continue
                raise translate(e, doing) from e

    async def _read(self, work: Callable[[Any], Awaitable[T]], doing: str) -> T:
        return await self._run(work, doing, may_retry=lambda: True)

    # -- namespaces ---------------------------------------------------------------

    async def create_namespace(self, ns: NamespaceRecord) -> None:
        async def insert(conn: Any) -> None:
            await conn.execute(
                "INSERT INTO namespaces (id, name, data) VALUES ($1, $2, $3)",
                ns.id,
                ns.name,
                ns.data,
            )

        await self._write_namespace(insert, ns)

    async def update_namespace(self, ns: NamespaceRecord) -> None:
        async def update(conn: Any) -> None:
            await conn.execute(
                "UPDATE namespaces SET name = $2, data = $3 WHERE id = $1",
                ns.id,
                ns.name,
                ns.data,
            )

        await self._write_namespace(update, ns)

    async def delete_namespace(self, namespace_id: str) -> None:
        await self._delete(["DELETE FROM namespaces WHERE id = $1"], (namespace_id,))

    async def delete_execution(self, namespace_id: str, workflow_id: str, run_id: str) -> None:
        params = (namespace_id, workflow_id, run_id)
        await self._delete(deletion.run_statements("postgres"), params)

    async def delete_namespace_data(self, namespace_ids: Sequence[str]) -> None:
        ids = tuple(namespace_ids)
        await self._delete(deletion.namespace_statements("postgres", len(ids)), ids)

    async def _delete(self, statements: list[str], params: tuple[str, ...]) -> None:
        async def work(conn: Any) -> None:
            async with conn.transaction():
                for sql in statements:
                    await conn.execute(sql, *params)

        # Deletes are idempotent: retried like reads.
        await self._read(work, "delete")

    async def _write_namespace(
        self, work: Callable[[Any], Awaitable[None]], ns: NamespaceRecord
    ) -> None:
        try:
            # Not retried: a lost reply may hide a committed write, and the retry would
            # then report the namespace as taken by itself.
            await self._run(work, "namespace write", may_retry=lambda: False)
        except PersistenceError as e:
            if isinstance(e.__cause__, asyncpg.UniqueViolationError):
                raise NamespaceAlreadyExists(f"Namespace already exists: {ns.name}") from e
            raise

    async def get_namespace(self, *, name: str = "", id: str = "") -> NamespaceRecord | None:
        col, val = ("name", name) if name else ("id", id)
        row = await self._read(
            lambda c: c.fetchrow(f"SELECT id, name, data FROM namespaces WHERE {col} = $1", val),
            "namespace read",
        )
        return NamespaceRecord(*row) if row else None

    async def list_namespaces(self) -> list[NamespaceRecord]:
        rows = await self._read(
            # COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
            lambda c: c.fetch('SELECT id, name, data FROM namespaces ORDER BY name COLLATE "C"'),
            "namespace list",
        )
        return [NamespaceRecord(*r) for r in rows]

    # -- executions ---------------------------------------------------------------

    async def get_current_run(self, namespace_id: str, workflow_id: str) -> CurrentRun | None:
        row = await self._read(
            lambda c: c.fetchrow(
                "SELECT run_id, create_request_id, status, first_execution_run_id"
                " FROM current_executions WHERE namespace_id = $1 AND workflow_id = $2",
                namespace_id,
                workflow_id,
            ),
            "current run read",
        )
        return CurrentRun(*row) if row else None

    async def get_execution(
        self, namespace_id: str, workflow_id: str, run_id: str
    ) -> ExecutionRow | None:
        row = await self._read(
            lambda c: c.fetchrow(
                "SELECT e.namespace_id, e.workflow_id, e.run_id, e.db_version,"
                " e.next_event_id, e.status, e.state, t.fire_time"
                " FROM executions e LEFT JOIN timer_tasks t"
                " USING (namespace_id, workflow_id, run_id)"
                " WHERE e.namespace_id = $1 AND e.workflow_id = $2 AND e.run_id = $3",
                namespace_id,
                workflow_id,
                run_id,
            ),
            "execution read",
        )
        return ExecutionRow(*row) if row else None

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
            " WHERE fire_time <= $1"
        )
        args: list[Any] = [until, limit]
        if shard_ids is not None:
            args.append(list(shard_ids))
            sql += f" AND shard_id = ANY(${len(args)}::bigint[])"
        if after is not None:
            n = len(args)
            args.extend([after.fire_time, after.namespace_id, after.workflow_id, after.run_id])
            # COLLATE "C": byte order, as SQLite compares text.
            sql += (
                f' AND (fire_time, namespace_id COLLATE "C", workflow_id COLLATE "C",'
                f' run_id COLLATE "C") > (${n + 1}, ${n + 2}, ${n + 3}, ${n + 4})'
            )
        sql += (
            ' ORDER BY fire_time, namespace_id COLLATE "C", workflow_id COLLATE "C",'
            ' run_id COLLATE "C" LIMIT $2'
        )
        rows = await self._read(lambda c: c.fetch(sql, *args), "timer read")
        return [TimerRow(*r) for r in rows]

    async def read_tasks(
        self, namespace_id: str, task_queue: str, kind: str, after_task_id: int, limit: int
    ) -> list[TaskRow]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT namespace_id, task_queue, kind, workflow_id, run_id,"
                " scheduled_event_id, attempt, normal_queue, task_id FROM tasks"
                " WHERE namespace_id = $1 AND task_queue = $2 AND kind = $3 AND task_id > $4"
                " ORDER BY task_id LIMIT $5",
                namespace_id,
                task_queue,
                kind,
                after_task_id,
                limit,
            ),
            "task backlog read",
        )
        return [TaskRow(*r) for r in rows]

    # -- cluster ------------------------------------------------------------------

    async def heartbeat_member(self, member_id: str, address: str, now: float) -> None:
        await self._read(
            lambda c: c.execute(
                "INSERT INTO cluster_members (member_id, address, heartbeat) VALUES ($1, $2, $3)"
                " ON CONFLICT (member_id) DO UPDATE SET address = EXCLUDED.address,"
                " heartbeat = EXCLUDED.heartbeat",
                member_id,
                address,
                now,
            ),
            "member heartbeat",
        )

    async def list_members(self) -> list[Member]:
        rows = await self._read(
            lambda c: c.fetch("SELECT member_id, address, heartbeat FROM cluster_members"),
            "members list",
        )
        return [Member(*r) for r in rows]

    async def list_shards(self) -> list[ShardLease]:
        rows = await self._read(
            lambda c: c.fetch("SELECT shard_id, owner, range_id, lease_until FROM shards"),
            "shards list",
        )
        return [ShardLease(*r) for r in rows]

    async def acquire_shard(
        self, shard_id: int, member_id: str, now: float, ttl: float
    ) -> int | None:
        value = await self._read(
            lambda c: c.fetchval(
                "INSERT INTO shards (shard_id, owner, range_id, lease_until) VALUES ($1, $2, 1, $3)"
                " ON CONFLICT (shard_id) DO UPDATE SET owner = EXCLUDED.owner,"
                " range_id = shards.range_id + 1, lease_until = EXCLUDED.lease_until"
                " WHERE shards.lease_until < $4 OR shards.owner = EXCLUDED.owner"
                " RETURNING range_id",
                shard_id,
                member_id,
                now + ttl,
                now,
            ),
            "shard acquire",
        )
        return int(value) if value is not None else None

    async def renew_shards(
        self, member_id: str, ranges: dict[int, int], now: float, ttl: float
    ) -> set[int]:
        # One row per statement, outside any transaction: commits hold FOR SHARE locks
        # on several shard rows in whatever order their batch has, and a multi-row
        # UPDATE waiting on them in another order would deadlock.
        kept: set[int] = set()

        def renew(shard_id: int) -> Callable[[Any], Awaitable[Any]]:
            return lambda c: c.fetchval(
                "UPDATE shards SET lease_until = $1"
                " WHERE shard_id = $2 AND range_id = $3 AND owner = $4 RETURNING shard_id",
                now + ttl,
                shard_id,
                ranges[shard_id],
                member_id,
            )

        for shard_id in sorted(ranges):
            if await self._read(renew(shard_id), "shard renew") is not None:
                kept.add(shard_id)
        return kept

    async def release_shard(self, shard_id: int, member_id: str, range_id: int) -> None:
        await self._read(
            lambda c: c.execute(
                "UPDATE shards SET lease_until = 0"
                " WHERE shard_id = $1 AND owner = $2 AND range_id = $3",
                shard_id,
                member_id,
                range_id,
            ),
            "shard release",
        )

    async def read_history(
        self,
        namespace_id: str,
        workflow_id: str,
        run_id: str,
        min_event_id: int = 1,
        max_event_id: int | None = None,
    ) -> list[HistoryBatch]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT first_event_id, last_event_id, data FROM history"
                " WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3"
                " AND last_event_id >= $4 AND first_event_id <= $5 ORDER BY first_event_id",
                namespace_id,
                workflow_id,
                run_id,
                min_event_id,
                max_event_id or 2**62,
            ),
            "history read",
        )
        return [HistoryBatch(*r) for r in rows]

    # -- commits ------------------------------------------------------------------

    async def commit(self, mutations: Sequence[Mutation]) -> None:
        await self._group.submit(mutations)

    async def _write_batch(self, batch: Batch) -> list[Exception | None]:
        commit_sent = False

        async def transact(conn: Any) -> list[Exception | None]:
            nonlocal commit_sent
            results: list[Exception | None] = []
            try:
                async with conn.transaction():
                    for ms in batch:
                        results.append(await _apply_caller(conn, ms, savepoint=len(batch) > 1))
                    if all(r is not None for r in results):
                        raise _NothingCommitted
                    # Leaving the block sends COMMIT: from here the outcome can be lost.
                    commit_sent = True
            except _NothingCommitted:
                pass
            return results

        return await self._run(transact, "commit", may_retry=lambda: not commit_sent)

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
            "postgres",
            namespace_id,
            where,
            limit=page_size,
            after=key,
            order_by=order_by,
            offset=after.offset if after is not None else 0,
        )
        rows = await self._read(lambda c: c.fetch(sql, *params), "visibility list")
        return [VisibilityRow(*r) for r in rows]

    async def count_executions(
        self, namespace_id: str, where: Expr | None, *, group_by_status: bool = False
    ) -> VisibilityCounts:
        sql, params = visibility_sql.select_count(
            "postgres", namespace_id, where, group_by_status=group_by_status
        )
        rows = await self._read(lambda c: c.fetch(sql, *params), "visibility count")
        if not group_by_status:
            return VisibilityCounts(total=int(rows[0][0]))
        by_status = {int(r[0]): int(r[1]) for r in rows}
        return VisibilityCounts(total=sum(by_status.values()), by_status=by_status)


async def _apply_caller(conn: Any, ms: Sequence[Mutation], *, savepoint: bool) -> Exception | None:
    """One caller's mutations; its failure (returned) undoes only its own writes.

    With a savepoint the transaction stays usable for the other callers; a lone
    caller needs none, since its failure rolls back the whole transaction anyway.
    """
    scope = conn.transaction() if savepoint else contextlib.nullcontext()
    try:
        async with scope:
            for m in ms:
                check_json_text(m.search_attributes)
                await mutations.apply(conn, m)
    except (ConditionFailed, ShardOwnershipLost) as e:
        return e
    except asyncpg.UniqueViolationError as e:
        return ConditionFailed(f"{e.table_name}: {e.detail or e}")
    except CLIENT_TEXT_ERRORS:
        return InvalidArgument(CLIENT_TEXT_MESSAGE)
    except InvalidArgument as e:
        return e
    except (asyncpg.PostgresError, asyncpg.DataError) as e:
        if is_connection_error(e):
            raise
        # Values the driver cannot bind, a deadlock victim...: this caller alone fails.
        return PersistenceError(f"postgres commit failed: {type(e).__name__}: {e}")
    return None
