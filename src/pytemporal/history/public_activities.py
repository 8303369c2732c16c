"""What the frontend asks of history for standalone activities: a small Protocol and
its in-process implementation (as `public.py` for workflows).

In a cluster a standalone activity lives on the shard of its hidden row
(`workflow/standalone.py`); these RPCs are not forwarded by `frontend/routing.py`
yet, so `server start` with several processes serves them only when the call lands
on the owner (see docs/architecture/history.md).
"""

from __future__ import annotations

from typing import Protocol

from temporalio.api.workflowservice.v1 import (
    DescribeActivityExecutionRequest,
    DescribeActivityExecutionResponse,
    PollActivityExecutionResponse,
    StartActivityExecutionRequest,
)

from pytemporal.history.api import standalone_activities as sa
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.namespaces import Namespace


class ActivityExecutions(Protocol):
    async def start(
        self, ns: Namespace, req: StartActivityExecutionRequest
    ) -> tuple[str, bool]: ...

    async def key(self, ns: Namespace, activity_id: str, run_id: str) -> Key: ...

    async def describe(
        self, key: Key, req: DescribeActivityExecutionRequest, timeout: float
    ) -> DescribeActivityExecutionResponse: ...

    async def poll(self, key: Key, timeout: float) -> PollActivityExecutionResponse: ...

    async def request_cancel(self, key: Key, identity: str) -> None: ...

    async def terminate(self, key: Key, identity: str, reason: str) -> None: ...


class LocalActivityExecutions:
    def __init__(self, engine: HistoryEngine) -> None:
        self.engine = engine

    async def start(self, ns: Namespace, req: StartActivityExecutionRequest) -> tuple[str, bool]:
        return await sa.start_activity(self.engine, ns, req)

    async def key(self, ns: Namespace, activity_id: str, run_id: str) -> Key:
        return await sa.key_of(self.engine, ns, activity_id, run_id)

    async def describe(
        self, key: Key, req: DescribeActivityExecutionRequest, timeout: float
    ) -> DescribeActivityExecutionResponse:
        return await sa.describe(self.engine, key, req, timeout)

    async def poll(self, key: Key, timeout: float) -> PollActivityExecutionResponse:
        return await sa.poll(self.engine, key, timeout)

    async def request_cancel(self, key: Key, identity: str) -> None:
        await sa.request_cancel(self.engine, key, identity)

    async def terminate(self, key: Key, identity: str, reason: str) -> None:
        await sa.terminate(self.engine, key, identity, reason)
