"""Updates in flight, in memory: admitted until a worker accepts or rejects them.

Only accepted updates are durable (their Accepted event); an admitted update lost in
a restart is retried by the client, whose UpdateWorkflowExecution is idempotent by
update id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio.api.update.v1 import Outcome, Request

from pytemporal.common.errors import ServiceError
from pytemporal.history.workflow.updates import ADMITTED, COMPLETED, Effect

Key = tuple[str, str, str]


@dataclass
class InFlightUpdate:
    update_id: str
    request: Request
    stage: int = ADMITTED
    sent: bool = False
    outcome: Outcome | None = None
    error: ServiceError | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def advance(self, stage: int, outcome: Outcome | None = None) -> None:
        self.stage = max(self.stage, stage)
        if outcome is not None:
            self.outcome = outcome
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    def abort(self, error: ServiceError) -> None:
        self.error = error
        self.advance(self.stage)


@dataclass
class UpdateRegistry:
    by_run: dict[Key, dict[str, InFlightUpdate]] = field(default_factory=dict)

    def get(self, key: Key, update_id: str) -> InFlightUpdate | None:
        return self.by_run.get(key, {}).get(update_id)

    def add(self, key: Key, update: InFlightUpdate) -> None:
        self.by_run.setdefault(key, {})[update.update_id] = update

    def pending(self, key: Key) -> list[InFlightUpdate]:
        return [u for u in self.by_run.get(key, {}).values() if u.stage == ADMITTED and not u.error]

    def unsent(self, key: Key) -> list[InFlightUpdate]:
        return [u for u in self.pending(key) if not u.sent]

    def apply(self, key: Key, effects: list[Effect]) -> None:
        updates = self.by_run.get(key, {})
        for e in effects:
            u = updates.get(e.update_id)
            if u is None:
                continue
            u.advance(e.stage, e.outcome)
            if e.stage == COMPLETED:
                # Completed updates are answered from history from now on (or, if
                # rejected, forgotten as Temporal does).
                del updates[e.update_id]
        if not updates:
            self.by_run.pop(key, None)

    def drop(self, key: Key, error_for: dict[int, ServiceError]) -> None:
        for u in self.by_run.pop(key, {}).values():
            if u.stage != COMPLETED:
                u.abort(error_for.get(u.stage, error_for[ADMITTED]))
