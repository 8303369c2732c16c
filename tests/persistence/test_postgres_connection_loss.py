"""PostgreSQL only: cut connections, mid-transaction and idle, and recover by itself.

A proxy sits between the store and PostgreSQL. Cutting it mid-commit must fail that
commit with PersistenceError (gRPC UNAVAILABLE) and leave nothing of it visible; once
the network is back, the same store, never restarted, takes the same commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pytemporal.common.errors import PersistenceError
from pytemporal.persistence import schema_tool
from pytemporal.persistence.api import Mutation, NamespaceRecord
from pytemporal.persistence.postgres import PostgresStore, mutations

from .helpers import NS, create, new_id, update
from .tcp_proxy import TcpProxy


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(postgres_url)
    p = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def store(postgres_url: str, proxy: TcpProxy) -> AsyncIterator[PostgresStore]:
    await schema_tool.setup(postgres_url)
    s = await PostgresStore.connect(_via(postgres_url, proxy.port), pool_size=3)
    try:
        yield s
    finally:
        s.terminate()


async def _rows(url: str, workflow_id: str) -> list[Any]:
    """What PostgreSQL holds for a workflow, read around the proxy."""
    conn = await asyncpg.connect(url)
    try:
        found: list[Any] = []
        for table in ("executions", "history", "current_executions"):
            found += await conn.fetch(f"SELECT * FROM {table} WHERE workflow_id = $1", workflow_id)
        return found
    finally:
        await conn.close()


async def test_cut_mid_transaction_fails_the_commit_and_writes_nothing(
    store: PostgresStore, proxy: TcpProxy, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked_wf, acked_run = new_id("wf"), new_id("run")
    await store.commit([create(acked_wf, acked_run)])
    wf1, wf2 = new_id("wf"), new_id("wf")
    two = [create(wf1, new_id("run")), create(wf2, new_id("run"))]

    real_apply = mutations.apply

    async def cut_after_first(conn: Any, m: Mutation) -> None:
        await real_apply(conn, m)
        if m is two[0]:
            proxy.cut()  # the first INSERTs reached PostgreSQL; COMMIT never will

    monkeypatch.setattr(mutations, "apply", cut_after_first)
    with pytest.raises(PersistenceError):
        await store.commit(two)
    monkeypatch.undo()
    assert await _rows(postgres_url, wf1) == []
    assert await _rows(postgres_url, wf2) == []
    # While the network is down, calls fail fast with the retryable error.
    with pytest.raises(PersistenceError):
        await store.get_execution(NS, acked_wf, acked_run)

    proxy.restore()
    # Same store, not restarted. The retried INSERTs would block on the dead
    # transaction's locks if PostgreSQL had not rolled it back.
    await store.commit(two)
    assert await store.get_execution(NS, wf1, two[0].run_id) is not None
    assert await store.get_execution(NS, wf2, two[1].run_id) is not None
    # The write acknowledged before the cut is still there and still versioned.
    await store.commit([update(acked_wf, acked_run, 2, first_event_id=3, last_event_id=3)])


async def test_idle_connections_cut_are_replaced_without_an_error(
    store: PostgresStore, proxy: TcpProxy
) -> None:
    await store.create_namespace(NamespaceRecord("ns-1", "orders", "{}"))
    proxy.cut()
    proxy.restore()
    # The pooled connection is dead; the read notices, drops it and retries on a new one.
    assert [n.name for n in await store.list_namespaces()] == ["orders"]
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    assert await store.get_execution(NS, wf, run) is not None


async def test_server_side_termination_is_survived(store: PostgresStore, postgres_url: str) -> None:
    """What a PostgreSQL restart does to a pool: every session killed by the server."""
    await store.create_namespace(NamespaceRecord("ns-1", "orders", "{}"))
    name = urlsplit(postgres_url).path.lstrip("/")
    conn = await asyncpg.connect(postgres_url)
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    assert killed >= 1
    wf, run = new_id("wf"), new_id("run")
    await store.commit([create(wf, run)])
    assert await store.get_execution(NS, wf, run) is not None


async def test_unreachable_database_is_a_persistence_error(proxy: TcpProxy) -> None:
    proxy.cut()
    with pytest.raises(PersistenceError, match="connect"):
        await PostgresStore.connect(f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres")
