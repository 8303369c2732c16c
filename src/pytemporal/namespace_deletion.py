"""Deleting a namespace, as Temporal does: DeleteNamespace renames it to
`<name>-deleted-<first 5 characters of its id>` in the DELETED state at once, and its
data (workflows, histories, visibility, schedules, task-queue backlogs) is removed in
the background, after the requested delay; then its record goes too.

The record is the durable trigger: a namespace in the DELETED state is purged by
`run()` whenever its time has come, so a restart resumes an interrupted deletion.
Purging is idempotent; in a cluster every process may do it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from pytemporal.common.clock import Clock
from pytemporal.namespaces import DELETED, Namespace, NamespaceRegistry, hidden_namespace_ids
from pytemporal.persistence.api import Store

log = logging.getLogger(__name__)

RETRY = 1.0


def deleted_name(ns: Namespace) -> str:
    return f"{ns.name}-deleted-{ns.id[:5]}"


class NamespaceDeleter:
    def __init__(
        self,
        namespaces: NamespaceRegistry,
        store: Store,
        clock: Clock,
        forget_runs: Callable[[str], None],
    ) -> None:
        """`forget_runs(namespace_id)` drops what memory holds of the namespace's runs."""
        self._namespaces = namespaces
        self._store = store
        self._clock = clock
        self._forget_runs = forget_runs
        self._wakeup = asyncio.Event()
        self.purged = 0
        # Passes over the namespaces so far (tests wait for one to see it did nothing).
        self.passes = 0

    async def delete(self, ns: Namespace, delay: float) -> str:
        """Mark the namespace deleted (renamed); its data goes after `delay` seconds."""
        renamed = dataclasses.replace(
            ns,
            name=deleted_name(ns),
            state=DELETED,
            delete_at=self._clock.now() + max(0.0, delay),
        )
        await self._namespaces.update(renamed)
        self._wakeup.set()
        return renamed.name

    async def run(self) -> None:
        while True:
            self._wakeup.clear()
            wake = await self._purge_due()
            self.passes += 1
            await self._clock.wait(self._wakeup, wake)

    async def _purge_due(self) -> float:
        """Purge the namespaces whose time has come; when the next one is due."""
        now = self._clock.now()
        wake = now + 3600.0
        for ns in self._namespaces.all():
            if ns.state != DELETED:
                continue
            if ns.delete_at > now:
                wake = min(wake, ns.delete_at)
                continue
            try:
                await self._purge(ns)
            except Exception:
                log.exception("deleting namespace %s failed; retrying", ns.name)
                wake = min(wake, now + RETRY)
        return wake

    async def _purge(self, ns: Namespace) -> None:
        self._forget_runs(ns.id)
        await self._store.delete_namespace_data(hidden_namespace_ids(ns.id))
        # Runs cached again while the rows went (a late timer) are dropped once more.
        self._forget_runs(ns.id)
        await self._namespaces.remove(ns)
        self.purged += 1
        log.info("namespace %s deleted", ns.name)
