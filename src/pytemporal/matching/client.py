"""How other roles reach matching: a small Protocol, and its in-process implementation.

The process that owns a task queue's shard serves the queue. Whoever hands it a task
asks a `MatchingRoutes` (the redirector, `rpc/redirector.py`) for the queue's
`MatchingClient`: `LocalMatchingClient` here, or a remote one (`rpc/remote.py`) that
sends the task to the owner.
"""

from __future__ import annotations

from typing import Protocol

from pytemporal.matching.queues import Matching, TaskRef


class MatchingClient(Protocol):
    def add_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        """Hand over a task without waiting for it to arrive.

        `queue` is where the task goes (a sticky queue for a sticky workflow task or
        a query), `hops` how many processes have passed it on so far. A hand-off lost
        on the way is repaired by the next re-offer, so there is nothing to wait for.
        """
        ...


class MatchingRoutes(Protocol):
    def matching(self, namespace_id: str, queue: str) -> MatchingClient:
        """The client of the process serving `queue` (a workflow task's normal queue,
        an activity's own queue); raises `Unavailable` while it has no owner."""
        ...


class LocalMatchingClient:
    """Matching in this process: a plain method call, nothing serialized."""

    def __init__(self, matching: Matching) -> None:
        self.matching = matching

    def add_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        if ref.kind == "workflow":
            self.matching.add_workflow_task(ref, queue, sticky)
        elif ref.kind == "query":
            self.matching.add_query_task(ref, queue)
        else:
            self.matching.add_activity_task(ref, queue)
