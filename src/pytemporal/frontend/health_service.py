"""The public port's introspection: ``grpc.health.v1.Health``, server reflection, and
the gate that keeps Temporal's services closed while the process is not SERVING.

The gRPC health service follows :class:`pytemporal.common.health.Health`: SERVING for
the server ("") and each public service while the process serves, NOT_SERVING while it
starts and once a stop has begun. A stop drains (``ServingGate.drain``) before the
listener closes, so that during the grace period load balancers and ``temporal
operator cluster health`` still get an answer -- NOT_SERVING -- instead of a refused
connection, as Temporal's frontend does (``service/frontend/service.go`` Stop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from pytemporal.common.health import Health, State
from pytemporal.common.interceptors import UnaryBehavior, UnaryInterceptor

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Temporal's HealthInterceptor gates these two; everything else (health, reflection,
# the time-skipping TestService) answers whatever the state.
GATED_PREFIXES = (
    "/temporal.api.workflowservice.v1.WorkflowService/",
    "/temporal.api.operatorservice.v1.OperatorService/",
)


class HealthService:
    """The aio health servicer, kept in step with a :class:`Health`."""

    def __init__(self, health: Health, services: Iterable[str]) -> None:
        self.servicer = HealthServicer()
        self.services = ["", *services]
        self._health = health
        self._updates: set[asyncio.Task[None]] = set()
        # Set synchronously, so that a Check made right after the server starts (before
        # any task has run) already sees the state.
        for service in self.services:
            self.servicer._server_status[service] = self._status(health.state)
        health.on_change(self._changed)

    @staticmethod
    def _status(state: State) -> Any:
        return _SERVING if state is State.SERVING else _NOT_SERVING

    def _changed(self, state: State) -> None:
        # Health.set is synchronous; the servicer wakes its watchers under an asyncio
        # condition, so the update runs as a task (kept here until it is done).
        task = asyncio.get_running_loop().create_task(self._apply(self._status(state)))
        self._updates.add(task)
        task.add_done_callback(self._updates.discard)

    async def _apply(self, status: Any) -> None:
        for service in self.services:
            await self.servicer.set(service, status)

    def add_to_server(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)


def enable_reflection(server: grpc.aio.Server, services: Iterable[str]) -> None:
    """Server reflection (grpcurl, Postman) over `services`, health and itself."""
    names = [*services, HEALTH_SERVICE, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)


class ServingGate(UnaryInterceptor):
    """Refuses WorkflowService and OperatorService calls unless the process is SERVING
    (UNAVAILABLE, which clients retry), and counts the calls in flight so a stop can
    wait for them while the health service keeps answering."""

    prefixes = GATED_PREFIXES

    def __init__(self, health: Health) -> None:
        self.health = health
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def wrap(self, path: str, inner: UnaryBehavior) -> UnaryBehavior:
        async def gated(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            state = self.health.state
            if state is not State.SERVING:
                await context.abort(grpc.StatusCode.UNAVAILABLE, _refusal(state))
            self.in_flight += 1
            self._idle.clear()
            try:
                return await inner(request, context)
            finally:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self._idle.set()

        return gated

    async def drain(self, timeout: float) -> float:
        """Wait up to `timeout` seconds for the calls in flight; the time left."""
        deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return 0.0
        return max(0.0, deadline - time.monotonic())


def _refusal(state: State) -> str:
    if state is State.STARTING:
        return "Frontend is not healthy yet"  # Temporal's HealthInterceptor
    return "Frontend is shutting down"
