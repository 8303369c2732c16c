"""Testing helpers: run a pytemporal server inside the test process.

    async with pytemporal.testing.server() as target:
        client = await Client.connect(target)

    async with await pytemporal.testing.start_time_skipping() as env:
        ...  # env.client, env.sleep(), env.get_current_time()

The pytest fixtures are in :mod:`pytemporal.testing.pytest_plugin` (loaded
automatically by pytest once pytemporal is installed). See docs/testing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytemporal.testing.inprocess import (
    InProcessServer,
    ServerStartError,
    make_config,
    server,
    server_sync,
)

if TYPE_CHECKING:
    from pytemporal.testing.environment import start_local, start_time_skipping

__all__ = [
    "InProcessServer",
    "ServerStartError",
    "make_config",
    "server",
    "server_sync",
    "start_local",
    "start_time_skipping",
]


def __getattr__(name: str) -> Any:
    # Imported on use: these need the SDK, and the pytest plugin (imported by every
    # pytest run once installed) imports this package.
    if name in ("start_local", "start_time_skipping"):
        from pytemporal.testing import environment

        return getattr(environment, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
