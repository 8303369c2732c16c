"""The skipping clock's lock counting and sleeps (no server)."""

from __future__ import annotations

import asyncio

import pytest

from pytemporal.common.errors import FailedPrecondition
from pytemporal.timeskipping.clock import UNBALANCED, SkippingClock


async def test_starts_locked_once_and_refuses_unbalanced_unlocks() -> None:
    clock = SkippingClock()
    assert clock.lock_count() == 1
    clock.unlock()
    with pytest.raises(FailedPrecondition, match=UNBALANCED):
        clock.unlock()
    clock.lock()
    clock.lock()
    clock.unlock()
    assert clock.lock_count() == 1
    assert SkippingClock(locked=False).lock_count() == 0


async def test_server_locks_count_towards_unlocks() -> None:
    clock = SkippingClock(locked=False)
    held = 1
    clock.internal_locks = lambda: held
    clock.unlock()  # allowed: the server holds one
    assert clock.lock_count() == 0
    held = 0
    with pytest.raises(FailedPrecondition):
        clock.unlock()


async def test_jump_moves_forward_only_and_wakes_waiters() -> None:
    clock = SkippingClock()
    start = clock.now()
    event = asyncio.Event()
    waiter = asyncio.create_task(clock.wait(event, start + 3600))
    await asyncio.sleep(0)
    clock.jump_to(start + 3600)
    await asyncio.wait_for(waiter, 5)
    assert clock.now() >= start + 3600
    clock.jump_to(start)  # the past: nothing happens
    assert clock.now() >= start + 3600


async def test_sleep_with_unlock_relocks_when_its_time_is_reached() -> None:
    clock = SkippingClock()
    target = clock.now() + 86400
    sleeper = asyncio.create_task(clock.sleep_until(target, unlock=True))
    await asyncio.sleep(0)
    assert clock.locks == 0
    assert clock.next_sleeper() == target
    clock.jump_to(target)
    # Relocked by the jump itself, before anything else could skip further.
    assert clock.locks == 1
    await asyncio.wait_for(sleeper, 5)
    assert clock.next_sleeper() is None


async def test_cancelled_sleep_gives_its_lock_back() -> None:
    clock = SkippingClock()
    sleeper = asyncio.create_task(clock.sleep_until(clock.now() + 86400, unlock=True))
    await asyncio.sleep(0)
    assert clock.locks == 0
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert clock.locks == 1
    assert clock.next_sleeper() is None


async def test_sleep_in_real_time_when_nobody_skips() -> None:
    clock = SkippingClock()
    before = clock.now()
    await asyncio.wait_for(clock.sleep_until(before + 0.05), 5)
    assert clock.now() >= before + 0.05
