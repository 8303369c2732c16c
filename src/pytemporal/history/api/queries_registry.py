"""In-memory registry of queries waiting for a worker's answer.

Queries are never persisted: a query outstanding when the server stops simply fails
for its caller, who may retry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio.api.query.v1 import WorkflowQuery

Key = tuple[str, str, str]


@dataclass
class QueryAnswer:
    answered: bool
    result: object = None  # Payloads when answered
    error_message: str = ""
    failure: object = None


@dataclass
class PendingQuery:
    id: str
    query: WorkflowQuery
    future: asyncio.Future[QueryAnswer]
    sent: bool = False


@dataclass
class QueryRegistry:
    # Consistent queries waiting for the run's next workflow task (path B).
    buffered: dict[Key, dict[str, PendingQuery]] = field(default_factory=dict)
    # Direct query tasks handed to matching (path A).
    direct: dict[str, PendingQuery] = field(default_factory=dict)

    def unsent(self, key: Key) -> list[PendingQuery]:
        return [
            q for q in self.buffered.get(key, {}).values() if not q.sent and not q.future.done()
        ]

    def sent(self, key: Key) -> list[PendingQuery]:
        return [q for q in self.buffered.get(key, {}).values() if q.sent]

    def remove(self, key: Key, query_id: str) -> None:
        qs = self.buffered.get(key)
        if qs is not None:
            qs.pop(query_id, None)
            if not qs:
                del self.buffered[key]
        self.direct.pop(query_id, None)
