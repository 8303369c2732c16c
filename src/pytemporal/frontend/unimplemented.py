"""UNIMPLEMENTED, with a message naming the method, for the RPCs we do not serve.

The generated servicer base answers such a call by raising NotImplementedError, which
grpc.aio logs as an unexpected error and reports as "Unexpected <class
'NotImplementedError'>: Method not implemented!". Temporal answers the methods it does
not support with UNIMPLEMENTED "method <Name> not supported"; so do we. Only the
methods the service classes leave to the base are wrapped (found once, at start), so
a served call passes through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


def unserved(services: Iterable[tuple[type, type, str]]) -> frozenset[str]:
    """Full method paths (`/pkg.Service/Method`) that `cls` leaves to the generated
    `base` of the service named `service`."""
    out = set()
    for cls, base, service in services:
        for name in dir(base):
            if name[:1].isupper() and getattr(cls, name) is getattr(base, name):
                out.add(f"/{service}/{name}")
    return frozenset(out)


class UnimplementedInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, methods: frozenset[str]) -> None:
        self.methods = methods

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method not in self.methods or handler.unary_unary is None:
            return handler
        message = f"method {method.rsplit('/', 1)[-1]} not supported"

        async def unsupported(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

        return grpc.unary_unary_rpc_method_handler(
            unsupported,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
