"""ResetStickyTaskQueue: the run's next workflow task goes to its normal queue."""

from __future__ import annotations

from pytemporal.common.errors import NotFound
from pytemporal.history.engine import HistoryEngine, Key


async def reset(engine: HistoryEngine, key: Key) -> None:
    async with engine.locked(key) as entry:
        if not entry.ms.is_open:
            raise NotFound("workflow execution already completed")
        entry.ms.sticky_queue = ""
        entry.ms.dirty = True
        await engine.commit_one(entry)
