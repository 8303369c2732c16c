"""Testing helpers: run a pytemporal server inside the test process.

    async with pytemporal.testing.server() as target:
        client = await Client.connect(target)

The pytest fixtures are in :mod:`pytemporal.testing.pytest_plugin` (loaded
automatically by pytest once pytemporal is installed). See docs/testing.md.
"""

from pytemporal.testing.inprocess import (
    InProcessServer,
    ServerStartError,
    make_config,
    server,
    server_sync,
)

__all__ = ["InProcessServer", "ServerStartError", "make_config", "server", "server_sync"]
