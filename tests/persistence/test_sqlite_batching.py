"""SQLite only: commits requested in one loop turn share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pytemporal.common.errors import ConditionFailed
from pytemporal.persistence.sqlite.store import SqliteStore

from .helpers import NS, create, new_id


@pytest.fixture
async def sqlite() -> AsyncIterator[SqliteStore]:
    store = SqliteStore(None)
    try:
        yield store
    finally:
        await store.close()


async def test_one_loop_turn_is_one_transaction(sqlite: SqliteStore) -> None:
    taken = new_id("wf")
    await sqlite.commit([create(taken, new_id("run"))])
    commits, transactions = sqlite.commits, sqlite.transactions
    calls = [sqlite.commit([create(new_id("wf"), new_id("run"))]) for _ in range(4)]
    calls.insert(2, sqlite.commit([create(taken, new_id("run"))]))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(r) for r in results].count(ConditionFailed) == 1
    assert sqlite.commits - commits == 1
    assert sqlite.transactions - transactions == 5


async def test_sequential_commits_are_separate_transactions(sqlite: SqliteStore) -> None:
    commits = sqlite.commits
    for _ in range(3):
        await sqlite.commit([create(new_id("wf"), new_id("run"))])
    assert sqlite.commits - commits == 3


async def test_close_flushes_commits_already_requested(tmp_path: Path) -> None:
    path = f"{tmp_path}/flush.db"
    store = SqliteStore(path)
    wf, run = new_id("wf"), new_id("run")
    # The commit registers first, then close() runs in the same loop turn.
    results = await asyncio.gather(store.commit([create(wf, run)]), store.close())
    assert results == [None, None]
    reopened = SqliteStore(path)
    try:
        assert await reopened.get_execution(NS, wf, run) is not None
    finally:
        await reopened.close()


async def test_not_in_a_transaction_between_commits(sqlite: SqliteStore) -> None:
    # A transaction left open would make the next BEGIN IMMEDIATE fail.
    await asyncio.gather(
        sqlite.commit([create("wf", "r1")]),
        sqlite.commit([create("wf", "r2")]),  # fails: second current run
        return_exceptions=True,
    )
    assert not sqlite._db.in_transaction
    await sqlite.commit([create(new_id("wf"), new_id("run"))])
