"""``temporalio.testing.WorkflowEnvironment`` objects backed by an in-process server.

``start_time_skipping()`` is ``WorkflowEnvironment.start_time_skipping()`` without the
Java test server: the environment the SDK builds for a test server (its client unlocks
time skipping while awaiting a workflow result; ``env.sleep``, ``get_current_time``
use TestService), around a pytemporal server with ``time_skipping`` on this process's
own thread. ``start_local()`` is ``WorkflowEnvironment.start_local()`` likewise.
``env.shutdown()`` (or leaving ``async with env``) stops the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pytemporal.testing.inprocess import InProcessServer, make_config
from pytemporal.timeskipping.environment import time_skipping_environment


class _LocalEnvironment(WorkflowEnvironment):
    def __init__(self, client: Client, server: InProcessServer) -> None:
        super().__init__(client)
        self._server = server

    async def shutdown(self) -> None:
        await self._server.astop()


async def _start(
    time_skipping: bool, client_options: Mapping[str, Any] | None, options: dict[str, Any]
) -> WorkflowEnvironment:
    server = InProcessServer(make_config(**{**options, "time_skipping": time_skipping}))
    target = await server.astart()
    try:
        client = await Client.connect(target, **dict(client_options or {}))
        if time_skipping:
            return time_skipping_environment(client, shutdown=server.astop)
        return _LocalEnvironment(client, server)
    except BaseException:
        await server.astop()
        raise


async def start_time_skipping(
    *, client_options: Mapping[str, Any] | None = None, **options: Any
) -> WorkflowEnvironment:
    """A time-skipping ``WorkflowEnvironment`` on an in-process server.

    ``options`` are :func:`pytemporal.testing.make_config`'s (``namespaces``,
    ``search_attributes``, ...); ``client_options`` go to ``Client.connect``
    (``namespace``, ``data_converter``, ``interceptors``, ...)."""
    return await _start(True, client_options, options)


async def start_local(
    *, client_options: Mapping[str, Any] | None = None, **options: Any
) -> WorkflowEnvironment:
    """A ``WorkflowEnvironment`` (real time) on an in-process server."""
    return await _start(False, client_options, options)
