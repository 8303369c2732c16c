"""Who may call the internode listener.

The listener serves the typed internal calls and the public calls other processes
forward. Callers prove they belong to the cluster by mutual TLS (the handshake checks
their certificate against the cluster CA: `common/tls.py`), by the shared secret in
the `pytemporal-cluster-secret` header (checked here, in constant time), or both.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

SECRET_HEADER = "pytemporal-cluster-secret"


def secret_metadata(secret: str | None) -> tuple[tuple[str, str], ...]:
    """The headers a caller adds to every call to a peer."""
    return ((SECRET_HEADER, secret),) if secret else ()


async def _refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong cluster credentials")


_REFUSE = grpc.unary_unary_rpc_method_handler(_refuse)  # raw bytes in: nothing is parsed


class SecretInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses, before the request is parsed, a call without the cluster's secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        given = b""
        for key, value in details.invocation_metadata or ():  # type: ignore[attr-defined]
            if key == SECRET_HEADER:
                given = value.encode() if isinstance(value, str) else value
        if not hmac.compare_digest(given, self._secret):
            return _REFUSE
        return await continuation(details)
