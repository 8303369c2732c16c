"""The SDK's time-skipping `WorkflowEnvironment` over any client of a pytemporal
time-skipping server, in this process or not.

`WorkflowEnvironment.start_time_skipping()` builds the same environment, but only
around a server process it launches itself. This reuses the SDK's own class (private,
of the temporalio version pinned in pyproject.toml; tests/integration/
test_time_skipping.py checks it) so that behaviour stays the SDK's: the time lock is
released while a workflow result is awaited, `sleep` is UnlockTimeSkippingWithSleep,
`get_current_time` is GetCurrentTime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.testing._workflow import _V1WorkflowEnvironment


class _Owner:
    """Stands in for the SDK's EphemeralServer: what `shutdown` stops."""

    def __init__(self, shutdown: Callable[[], Awaitable[None]] | None) -> None:
        self._shutdown = shutdown

    async def shutdown(self) -> None:
        if self._shutdown is not None:
            await self._shutdown()


def time_skipping_environment(
    client: Client, *, shutdown: Callable[[], Awaitable[None]] | None = None
) -> WorkflowEnvironment:
    """A time-skipping environment on `client` (connected to a server run with
    `ServerConfig(time_skipping=True)`, which starts with its time locked once, as
    this environment expects). `shutdown` is called by the environment's shutdown."""
    return _V1WorkflowEnvironment(client, cast(Any, _Owner(shutdown)))
