"""Serving state of this process, shared by the gRPC health service and the HTTP
``/health`` endpoints (Kubernetes probes).

The server is STARTING until its listeners and loops are up, SERVING while it takes
calls, and DRAINING once a stop has begun; only SERVING answers healthy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable


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
