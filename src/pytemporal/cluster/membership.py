"""Shard ownership through leases in the database.

Each process heartbeats a row in `cluster_members` and holds a fair share of the
history shards through leases in `shards`. Taking a shard increments its `range_id`;
every write to the shard's workflows is fenced on that value, so a process that lost
a shard (paused, partitioned) can never overwrite the new owner's state. A process
that dies stops renewing; its leases expire after `ttl` seconds and the others take
its shards on their next tick: failover takes at most ttl + interval seconds.

The address a process heartbeats is its internode listener's (`server.py`), never its
public port: the others send it their internal calls and forwarded public calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from pytemporal.cluster import ring
from pytemporal.persistence.api import Store

log = logging.getLogger(__name__)

LEASE_TTL = 4.0
TICK_INTERVAL = 1.0
# Every this many ticks, pending tasks are offered again even if nothing seemed to
# change: an offer made while processes disagreed on a queue's owner may have landed on
# a process that no longer serves it. Duplicates are dropped when a task starts.
REOFFER_EVERY = 5

ShardsCallback = Callable[[list[int]], object]
_COUNT_MARKER = "shard-count:"


class ClusterConfigError(Exception):
    pass


class LocalCluster:
    """One process owns everything (the dev server): no leases, no fencing."""

    num_shards = 1
    address = ""

    def workflow_shard(self, namespace_id: str, workflow_id: str) -> int:
        return 1

    def queue_shard(self, namespace_id: str, queue: str) -> int:
        return 1

    def is_local(self, shard: int) -> bool:
        return True

    def owner(self, shard: int) -> str | None:
        return self.address

    def range_of(self, shard: int) -> int:
        return 0

    def local_shards(self) -> list[int] | None:
        """The shards this process owns; None: all of them."""
        return None


class ClusterMetrics(Protocol):
    """What membership reports (pytemporal.metrics.Metrics implements it)."""

    def shards_changed(self, acquired: int, removed: int) -> None: ...

    def leases_renewed(self, count: int) -> None: ...

    def lease_renewal_failed(self) -> None: ...

    def membership_changed(self) -> None: ...


class ShardCluster(LocalCluster):
    def __init__(self, store: Store, *, address: str, num_shards: int) -> None:
        self.store = store
        self.address = address
        self.num_shards = num_shards
        self.member_id = str(uuid.uuid4())
        self.owned: dict[int, int] = {}  # shard -> range_id
        self.owners: dict[int, str] = {}  # shard -> owner's address
        self.on_acquired: ShardsCallback = lambda shards: None
        self.on_lost: ShardsCallback = lambda shards: None
        self.on_ring_changed: Callable[[], object] = lambda: None
        self.ttl = LEASE_TTL
        self.interval = TICK_INTERVAL
        self._ticks = 0
        self._members: set[str] = set()
        # Set by the server when metrics are on.
        self.metrics: ClusterMetrics | None = None

    def workflow_shard(self, namespace_id: str, workflow_id: str) -> int:
        return ring.workflow_shard(namespace_id, workflow_id, self.num_shards)

    def queue_shard(self, namespace_id: str, queue: str) -> int:
        return ring.queue_shard(namespace_id, queue, self.num_shards)

    def is_local(self, shard: int) -> bool:
        return shard in self.owned

    def owner(self, shard: int) -> str | None:
        if shard in self.owned:
            return self.address
        return self.owners.get(shard)

    def range_of(self, shard: int) -> int:
        return self.owned.get(shard, -1)

    def local_shards(self) -> list[int] | None:
        return list(self.owned)

    async def release_all(self) -> None:
        """A clean shutdown hands its shards over at once instead of after the ttl."""
        try:
            # Heartbeat 0: the others stop counting this process at their next tick.
            await self.store.heartbeat_member(self.member_id, self.address, 0.0)
        except Exception:
            log.warning("could not leave the member list; this process ages out of it")
        owned, self.owned = self.owned, {}
        if owned:
            self.on_lost(list(owned))
            if self.metrics is not None:
                self.metrics.shards_changed(0, len(owned))
        for shard, range_id in owned.items():
            try:
                await self.store.release_shard(shard, self.member_id, range_id)
            except Exception:
                log.warning("could not release shard %s; it expires by itself", shard)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("cluster membership tick failed")
            await asyncio.sleep(self.interval)

    async def check_shard_count(self) -> None:
        """The shard count is fixed for a database's life: a process configured with
        another count would disagree with the others on who owns a workflow."""
        # The count is recorded as a never-expiring lease on shard 0, held by a marker
        # owner: the first process records it, every later one must name the same.
        marker = f"{_COUNT_MARKER}{self.num_shards}"
        if await self.store.acquire_shard(0, marker, 0.0, math.inf) is not None:
            return
        recorded = next(
            (s.owner for s in await self.store.list_shards() if s.shard_id == 0), "?"
        ).removeprefix(_COUNT_MARKER)
        raise ClusterConfigError(
            f"this database is shared with {recorded} history shards, but this server "
            f"is configured with {self.num_shards}; use num_history_shards: {recorded}"
        )

    async def tick(self) -> None:
        now = time.time()
        await self.store.heartbeat_member(self.member_id, self.address, now)
        try:
            kept = await self.store.renew_shards(self.member_id, dict(self.owned), now, self.ttl)
        except Exception:
            if self.metrics is not None:
                self.metrics.lease_renewal_failed()
            raise
        lost = [s for s in self.owned if s not in kept]
        if self.metrics is not None:
            self.metrics.leases_renewed(len(self.owned) - len(lost))
            self.metrics.shards_changed(0, len(lost))
        for s in lost:
            del self.owned[s]
        if lost:
            log.warning("lost shards %s", lost)
            self.on_lost(lost)
        members = {
            m.member_id: m.address
            for m in await self.store.list_members()
            if m.heartbeat > now - self.ttl
        }
        if self.metrics is not None and set(members) != self._members:
            self.metrics.membership_changed()
        self._members = set(members)
        target = math.ceil(self.num_shards / max(1, len(members)))
        await self._release_extra(target)
        acquired = await self._acquire_up_to(target, now)
        if acquired:
            log.info("acquired shards %s", acquired)
            self.on_acquired(acquired)
            if self.metrics is not None:
                self.metrics.shards_changed(len(acquired), 0)
        self._ticks += 1
        periodic = self._ticks % REOFFER_EVERY == 0
        await self._refresh_routes(members, now, changed=bool(lost or acquired) or periodic)

    async def _release_extra(self, target: int) -> None:
        extra = sorted(self.owned)[target:]
        if not extra:
            return
        for s in extra:
            range_id = self.owned.pop(s)
            self.on_lost([s])
            if self.metrics is not None:
                self.metrics.shards_changed(0, 1)
            await self.store.release_shard(s, self.member_id, range_id)
        log.info("released shards %s to rebalance", extra)

    async def _acquire_up_to(self, target: int, now: float) -> list[int]:
        leases = {lease.shard_id: lease for lease in await self.store.list_shards()}
        acquired = []
        for s in range(1, self.num_shards + 1):
            if len(self.owned) >= target:
                break
            lease = leases.get(s)
            if s in self.owned or (lease is not None and lease.lease_until >= now):
                continue
            range_id = await self.store.acquire_shard(s, self.member_id, now, self.ttl)
            if range_id is not None:
                self.owned[s] = range_id
                acquired.append(s)
        return acquired

    async def _refresh_routes(self, members: dict[str, str], now: float, changed: bool) -> None:
        routes = {}
        for lease in await self.store.list_shards():
            if lease.lease_until >= now and lease.owner in members:
                routes[lease.shard_id] = members[lease.owner]
        if routes != self.owners or changed:
            self.owners = routes
            self.on_ring_changed()
