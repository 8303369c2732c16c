"""Task dispatch: hand committed tasks to matching, here or on their queue's owner.

The task's backlog row was committed with the change that scheduled it, so an offer
is only the fast path: one that is lost (no owner yet, the owner unreachable) is found
by the owner's matching when it reads the queue's durable backlog.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pytemporal.common.errors import Unavailable
from pytemporal.history.cache import Entry
from pytemporal.history.workflow import versioning
from pytemporal.matching.client import LocalMatchingClient
from pytemporal.matching.queues import TaskRef

if TYPE_CHECKING:
    from pytemporal.history.engine import HistoryEngine

# A task handed between processes that disagree on its queue's owner stops moving
# after this many hops; the owner reads the durable backlog in any case.
MAX_TASK_HOPS = 3


class TaskDispatcher:
    def __init__(self, engine: HistoryEngine) -> None:
        self._engine = engine

    def dispatch(
        self, entry: Entry, kind: str, sched_id: int, attempt: int, queue: str, sticky: bool
    ) -> None:
        ns_id, wf_id, run_id = entry.key
        ref = TaskRef(
            kind,
            ns_id,
            wf_id,
            run_id,
            sched_id,
            attempt,
            entry.ms.task_queue,
            request_id=str(uuid.uuid4()),
            pinned=versioning.pinned_version(entry.ms),
            ramping=versioning.use_ramping(entry.ms),
        )
        self.offer(ref, queue, sticky)

    def routed_by(self, ref: TaskRef, queue: str) -> str:
        # Activity tasks may go to another task queue than the workflow's; workflow
        # tasks (and their sticky queues) are routed by the workflow's normal queue.
        return queue if ref.kind == "activity" else ref.normal_queue

    def queue_is_local(self, ref: TaskRef, queue: str) -> bool:
        cluster = self._engine.cluster
        return cluster.is_local(cluster.queue_shard(ref.namespace_id, self.routed_by(ref, queue)))

    def offer(self, ref: TaskRef, queue: str, sticky: bool, hops: int = 0) -> None:
        """Hand a task to matching: here, or on the process that owns its task queue."""
        redirector = self._engine.redirector
        if hops >= MAX_TASK_HOPS or redirector is None:
            self.add_local(ref, queue, sticky)
            return
        try:
            target = redirector.matching(ref.namespace_id, self.routed_by(ref, queue))
        except Unavailable:
            return  # no owner yet: it reads the durable backlog when it takes the queue
        target.add_task(ref, queue, sticky, hops + 1)

    def add_local(self, ref: TaskRef, queue: str, sticky: bool) -> None:
        LocalMatchingClient(self._engine.matching).add_task(ref, queue, sticky, 0)

    def reoffer(self, entry: Entry) -> None:
        """Offer a run's pending tasks again (after a commit whose outcome was unknown)."""
        ms = entry.ms
        if not ms.is_open:
            return
        wft = ms.wft
        if wft is not None and not wft.started_event_id and not wft.speculative:
            self.dispatch(
                entry, "workflow", wft.scheduled_event_id, wft.attempt, wft.task_queue, wft.sticky
            )
        for ai in ms.activities.values():
            # Only attempts whose task was committed: the others are the timer's.
            if (
                not ai.started
                and not ai.paused
                and (ai.scheduled_event_id, ai.attempt) in ms.dispatched
            ):
                self.dispatch(
                    entry, "activity", ai.scheduled_event_id, ai.attempt, ai.task_queue, False
                )

    def ring_changed(self) -> None:
        """Task queues may have moved: hand the in-memory backlog of the queues that
        left to their new owners (their rows are in the table in any case)."""
        matching = self._engine.matching
        for ref, queue, kind in matching.drain(lambda r, q, k: self.queue_is_local(r, q)):
            # A worker's sticky queue does not follow it elsewhere: use the normal one.
            self.offer(ref, ref.normal_queue if kind == "workflow" else queue, False)


def pending_task_rows(entry: Entry) -> set[tuple[str, int]]:
    """The backlog rows a run may have: its unstarted workflow task and activities."""
    ms = entry.ms
    rows: set[tuple[str, int]] = set()
    if not ms.is_open:
        return rows
    wft = ms.wft
    if wft is not None and not wft.started_event_id and not wft.speculative:
        rows.add(("workflow", wft.scheduled_event_id))
    for ai in ms.activities.values():
        if not ai.started and not ai.paused:
            rows.add(("activity", ai.scheduled_event_id))
    return rows
