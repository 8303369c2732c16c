"""Serving state of this process, shared by the gRPC health service and the HTTP
``/health`` endpoints (Kubernetes probes).

The server is STARTING until its listeners and loops are up, SERVING while it takes
calls, and DRAINING once a stop has begun; only SERVING answers healthy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


class State(enum.Enum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "draining"


class Health:
    def __init__(self) -> None:
        self._state = State.STARTING
        self._listeners: list[Callable[[State], None]] = []

    @property
    def state(self) -> State:
        return self._state

    @property
    def serving(self) -> bool:
        return self._state is State.SERVING

    def set(self, state: State) -> None:
        self._state = state
        for listener in list(self._listeners):
            listener(state)

    def on_change(self, listener: Callable[[State], None]) -> None:
        """Call `listener` with every later state (the gRPC health service follows it)."""
        self._listeners.append(listener)


def http_routes(health: Health) -> list[web.RouteDef]:
    """``GET /health``: 200 ``{"status": "SERVING"}`` while serving, else 503 with the
    state; mounted on every HTTP listener (HTTP API, UI, metrics) for Kubernetes probes."""
    # Imported on use: aiohttp weighs on every start, and most dev servers serve no HTTP.
    from aiohttp import web

    async def handle(_request: web.Request) -> web.Response:
        status = "SERVING" if health.serving else "NOT_SERVING"
        return web.json_response(
            {"status": status, "state": health.state.value},
            status=200 if health.serving else 503,
        )

    return [web.get("/health", handle)]
