"""DeleteWorkflowExecution: a closed run is deleted at once; an open one is terminated
first, then deleted, as Temporal does (`service/history/api/deleteworkflow`).

Both go through the run's timer row: the commit here sets the run's deletion time to
now, and the timer queue deletes the run (`HistoryEngine._fire`) once it has nothing
left to deliver (a parent to notify, children to close).
"""

from __future__ import annotations

from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.history.workflow import lifecycle

REASON = "Delete workflow execution"
# consts.IdentityHistoryService in Temporal.
IDENTITY = "history-service"


async def delete(engine: HistoryEngine, key: Key) -> None:
    async with engine.locked(key) as entry:
        ms = entry.ms
        if ms.is_open:
            lifecycle.terminate(ms, REASON, None, IDENTITY)
        if not ms.delete_after or ms.delete_after > ms.now:
            ms.delete_after = ms.now
            ms.dirty = True
        await engine.commit_one(entry)
