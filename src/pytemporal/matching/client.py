"""How other roles reach matching: a small Protocol, and its in-process implementation.

The process that owns a task queue's shard serves the queue. Whoever hands it a task
asks a `MatchingRoutes` (the redirector, `rpc/redirector.py`) for the queue's
`MatchingClient`: `LocalMatchingClient` here, or a remote one (`rpc/remote.py`) that
sends the task to the owner.

Polls need no remote side: `frontend/routing.py` forwards a poll whole to the queue's
owner, so `TaskQueuePolls` is always served by the `LocalMatchingClient` there.
"""

from __future__ import annotations

from typing import Protocol

from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.matching.stats import Poller, QueueStats


class MatchingClient(Protocol):
    def add_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        """Hand over a task without waiting for it to arrive.

        `queue` is where the task goes (a sticky queue for a sticky workflow task or
        a query), `hops` how many processes have passed it on so far. A hand-off lost
        on the way is repaired by the next re-offer, so there is nothing to wait for.
        """
        ...


class TaskQueuePolls(Protocol):
    """What a worker's poll needs of the queue it is served by."""

    async def poll(
        self,
        namespace_id: str,
        queue: str,
        kind: str,
        timeout: float,
        poller: Poller | None = None,
        *,
        version: str = "",
        sticky: bool = False,
    ) -> TaskRef | None:
        """The next task for a `kind` ("workflow" or "activity") poller of worker
        deployment `version` ("" unversioned), or None at the timeout. `poller` is
        remembered for `describe`."""
        ...

    async def describe(self, namespace_id: str, queue: str, kind: str) -> QueueStats:
        """The queue's recent pollers, backlog and rates."""
        ...

    def requeue(self, ref: TaskRef, queue: str, kind: str, version: str = "") -> None:
        """Give back a polled task whose start failed, first in line."""
        ...

    def unload_sticky(self, namespace_id: str, queue: str) -> None:
        """A worker shut down: its sticky queue's tasks go back to their normal queues."""
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

    async def poll(
        self,
        namespace_id: str,
        queue: str,
        kind: str,
        timeout: float,
        poller: Poller | None = None,
        *,
        version: str = "",
        sticky: bool = False,
    ) -> TaskRef | None:
        return await self.matching.poll(
            namespace_id, queue, kind, timeout, poller, version=version, sticky=sticky
        )

    async def describe(self, namespace_id: str, queue: str, kind: str) -> QueueStats:
        return await self.matching.describe(namespace_id, queue, kind)

    def requeue(self, ref: TaskRef, queue: str, kind: str, version: str = "") -> None:
        self.matching.requeue(ref, queue, kind, version)

    def unload_sticky(self, namespace_id: str, queue: str) -> None:
        self.matching.unload_sticky(namespace_id, queue)
