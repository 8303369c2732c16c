"""Where a batch job lives: a system row of `executions`, as a schedule does
(`scheduler/keys.py`): namespace id plus `NAMESPACE_SUFFIX`, the job id, `RUN_ID`.
Its shard is that of the job id in the namespace, where Temporal runs the batch's
system workflow (whose workflow id is the job id), and where the frontend routes
the job's RPCs."""

from __future__ import annotations

NAMESPACE_SUFFIX = "/batches"
RUN_ID = "00000000-0000-0000-0000-ba7c00000000"

Key = tuple[str, str, str]


def row_key(namespace_id: str, job_id: str) -> Key:
    return namespace_id + NAMESPACE_SUFFIX, job_id, RUN_ID


def is_batch(key: Key) -> bool:
    return key[2] == RUN_ID and key[0].endswith(NAMESPACE_SUFFIX)


def batch_of(key: Key) -> tuple[str, str]:
    """(namespace id, job id) of a batch row's key."""
    return key[0][: -len(NAMESPACE_SUFFIX)], key[1]
