"""Which history shard a workflow id or a task queue belongs to (pure)."""

from __future__ import annotations

import zlib


def shard_of(key: str, num_shards: int) -> int:
    """Shards are numbered 1..num_shards, as in Temporal."""
    return zlib.crc32(key.encode()) % num_shards + 1


def workflow_shard(namespace_id: str, workflow_id: str, num_shards: int) -> int:
    return shard_of(f"{namespace_id}_{workflow_id}", num_shards)


def queue_shard(namespace_id: str, queue: str, num_shards: int) -> int:
    # Matching for a task queue (and its workers' sticky queues, which are routed by
    # the normal queue's name) lives with the owner of this shard.
    return shard_of(f"tq:{namespace_id}_{queue}", num_shards)
