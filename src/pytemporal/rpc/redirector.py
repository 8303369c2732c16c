"""The one place that decides whether a call is served here or on another process.

Every workflow and every task queue belongs to a history shard, and every shard to
one process (`cluster/membership.py`). For a workflow the redirector hands out the
`HistoryClient` of its shard's owner, for a task queue the `MatchingClient`: the
in-process one when this process owns the shard (a plain call, nothing serialized:
always so in the dev server's `LocalCluster`), else a remote one for the owner's
address. While a shard has no owner it raises `Moving`; each caller knows whether to
wait, retry later or leave the work to the next re-offer.
"""

from __future__ import annotations

from pytemporal.cluster.membership import LocalCluster
from pytemporal.common.errors import Unavailable
from pytemporal.history.client import HistoryClient
from pytemporal.matching.client import MatchingClient
from pytemporal.rpc.remote import Channels, RemoteHistoryClient, RemoteMatchingClient


class Moving(Unavailable):
    """No process can serve this call right now; ownership is being settled."""


class Redirector:
    def __init__(
        self,
        cluster: LocalCluster,
        history: HistoryClient,
        matching: MatchingClient,
        channels: Channels | None = None,
    ) -> None:
        self.cluster = cluster
        self.local_history = history
        self.local_matching = matching
        self.channels = channels or Channels()
        self._histories: dict[str, RemoteHistoryClient] = {}
        self._matchings: dict[str, RemoteMatchingClient] = {}

    def workflow_owner(self, namespace_id: str, workflow_id: str) -> str | None:
        """The address of the process owning the workflow, None if it is this one."""
        return self._owner(self.cluster.workflow_shard(namespace_id, workflow_id))

    def queue_owner(self, namespace_id: str, queue: str) -> str | None:
        """The address of the process serving the task queue, None if it is this one.
        A sticky queue goes by its worker's normal queue, so pass that one."""
        return self._owner(self.cluster.queue_shard(namespace_id, queue))

    def _owner(self, shard: int) -> str | None:
        if self.cluster.is_local(shard):
            return None
        owner = self.cluster.owner(shard)
        if owner is None:
            raise Moving(f"shard {shard} has no owner right now; retry")
        return owner

    def history(self, namespace_id: str, workflow_id: str) -> HistoryClient:
        address = self.workflow_owner(namespace_id, workflow_id)
        if address is None:
            return self.local_history
        client = self._histories.get(address)
        if client is None:
            client = self._histories[address] = RemoteHistoryClient(self.channels, address)
        return client

    def matching(self, namespace_id: str, queue: str) -> MatchingClient:
        address = self.queue_owner(namespace_id, queue)
        if address is None:
            return self.local_matching
        client = self._matchings.get(address)
        if client is None:
            client = self._matchings[address] = RemoteMatchingClient(self.channels, address)
        return client

    async def close(self) -> None:
        await self.channels.close()
