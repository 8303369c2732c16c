"""PostgreSQL only: group commit, and races between separate connections.

The contract suite races callers inside one store; these race the store against
another PostgreSQL session, as a second server process on the same database would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

import pgtest
from pytemporal.common.errors import ConditionFailed, InvalidArgument, PersistenceError
from pytemporal.persistence.factory import open_store
from pytemporal.persistence.postgres import PostgresStore

from .helpers import NS, create, new_id, update


async def wait_until_blocked(conn: asyncpg.Connection, within: float = 10.0) -> None:
    """Until another session waits for a lock `conn` holds (pg_locks is live)."""
    blocked = (
        "SELECT count(*) FROM pg_locks"
        " WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
    )
    async with asyncio.timeout(within):
        while True:  # polling another process's state: there is no event to wait on
            if await conn.fetchval(blocked):
                return
            await asyncio.sleep(0.01)


@pytest.fixture
async def url() -> str:
    pgtest.skip_unless_reachable()
    return await pgtest.SESSION.new_schema()


@pytest.fixture
async def pg(url: str) -> AsyncIterator[PostgresStore]:
    store = await open_store(url, pool_size=4, create_schema=True)
    assert isinstance(store, PostgresStore)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def other_session(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def test_one_loop_turn_is_one_transaction(pg: PostgresStore) -> None:
    taken = new_id("wf")
    await pg.commit([create(taken, new_id("run"))])
    commits, transactions = pg.commits, pg.transactions
    calls = [pg.commit([create(new_id("wf"), new_id("run"))]) for _ in range(4)]
    calls.insert(2, pg.commit([create(taken, new_id("run"))]))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(r) for r in results].count(ConditionFailed) == 1
    assert pg.commits - commits == 1
    assert pg.transactions - transactions == 5


async def test_close_writes_commits_already_requested(url: str) -> None:
    store = await open_store(url, pool_size=2, create_schema=True)
    wf, run = new_id("wf"), new_id("run")
    assert await asyncio.gather(store.commit([create(wf, run)]), store.close()) == [None, None]
    reopened = await open_store(url, pool_size=2, create_schema=False)
    try:
        assert await reopened.get_execution(NS, wf, run) is not None
    finally:
        await reopened.close()


async def test_terminate_refuses_further_calls(url: str) -> None:
    store = await open_store(url, pool_size=2, create_schema=True)
    assert isinstance(store, PostgresStore)
    store.terminate()
    with pytest.raises(PersistenceError):
        await store.commit([create(new_id("wf"), new_id("run"))])
    with pytest.raises(PersistenceError):
        await store.list_namespaces()


async def test_version_race_with_another_session_has_one_winner(
    pg: PostgresStore, other_session: asyncpg.Connection
) -> None:
    wf, run = new_id("wf"), new_id("run")
    await pg.commit([create(wf, run)])
    tx = other_session.transaction()
    await tx.start()
    # The other session wins version 2 first and holds the row lock...
    await other_session.execute(
        "UPDATE executions SET db_version = 2 WHERE workflow_id = $1 AND db_version = 1", wf
    )
    ours = asyncio.ensure_future(pg.commit([update(wf, run, 2, first_event_id=3, last_event_id=3)]))
    await wait_until_blocked(other_session)  # our UPDATE waits for that lock
    assert not ours.done()
    await tx.commit()
    # ...so ours re-checks `db_version = 1` against the committed row and loses.
    with pytest.raises(ConditionFailed):
        await ours
    row = await pg.get_execution(NS, wf, run)
    assert row is not None and row.db_version == 2 and row.state != b"state v2"


async def test_second_current_run_from_another_session_is_a_condition_failure(
    pg: PostgresStore, other_session: asyncpg.Connection
) -> None:
    wf = new_id("wf")
    tx = other_session.transaction()
    await tx.start()
    await other_session.execute(
        "INSERT INTO current_executions VALUES ($1, $2, 'theirs', 'req', 1, 'theirs')", NS, wf
    )
    ours = asyncio.ensure_future(pg.commit([create(wf, new_id("run"))]))
    await wait_until_blocked(other_session)  # our INSERT waits to see if theirs commits
    assert not ours.done()
    await tx.commit()
    with pytest.raises(ConditionFailed):
        await ours
    current = await pg.get_current_run(NS, wf)
    assert current is not None and current.run_id == "theirs"


async def test_nul_characters_are_the_clients_error(pg: PostgresStore) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can): found by the fuzz as UNAVAILABLE,
    which SDKs retry for ever. Reads and writes alike answer INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgument, match="NUL character"):
        await pg.get_current_run(NS, "wf\x00id")
    with pytest.raises(InvalidArgument, match="NUL character"):
        await pg.commit([create("wf\x00id", new_id("nul"))])
    m = create(new_id("nul"), new_id("nul"))
    m.search_attributes = '{"CKw": "a\\u0000b"}'  # an escaped NUL, refused by jsonb
    with pytest.raises(InvalidArgument, match="NUL character"):
        await pg.commit([m])
    # The store is fine afterwards.
    ok = create(new_id("nul"), new_id("nul"))
    await pg.commit([ok])
    assert await pg.get_current_run(NS, ok.workflow_id) is not None
