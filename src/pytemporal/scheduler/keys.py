"""Where a schedule lives: its row in `executions`, its timer row, its shard.

A schedule is stored as a system row of the `executions` table, apart from the
namespace's workflows: its namespace id is the namespace's id plus `NAMESPACE_SUFFIX`
(so workflow visibility never sees it, and schedule visibility is the same SQL over
its own rows), its workflow id is the schedule id and its run id is `RUN_ID`. Its
timer row in `timer_tasks` has the same key. Its shard is the one Temporal's
scheduler workflow would have: that of `temporal-sys-scheduler:<schedule id>` in the
namespace, which is also how the frontend routes schedule RPCs to the owner.
"""

from __future__ import annotations

from pytemporal.namespaces import SCHEDULES_SUFFIX

WORKFLOW_ID_PREFIX = "temporal-sys-scheduler:"
NAMESPACE_SUFFIX = SCHEDULES_SUFFIX
RUN_ID = "00000000-0000-0000-0000-5c4ed01e0000"

Key = tuple[str, str, str]


def row_key(namespace_id: str, schedule_id: str) -> Key:
    return namespace_id + NAMESPACE_SUFFIX, schedule_id, RUN_ID


def is_schedule(key: Key) -> bool:
    return key[2] == RUN_ID and key[0].endswith(NAMESPACE_SUFFIX)


def schedule_of(key: Key) -> tuple[str, str]:
    """(namespace id, schedule id) of a schedule's row key."""
    return key[0][: -len(NAMESPACE_SUFFIX)], key[1]


def shard_workflow(key: Key) -> tuple[str, str]:
    """The (namespace id, workflow id) whose shard the schedule lives on."""
    namespace_id, schedule_id = schedule_of(key)
    return namespace_id, WORKFLOW_ID_PREFIX + schedule_id
