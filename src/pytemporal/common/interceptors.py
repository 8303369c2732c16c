"""The shape every unary server interceptor of ours shares: wrap a method's behaviour
and keep its (de)serializers, leaving streams, unknown methods and other services alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]
UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def with_behavior(handler: grpc.RpcMethodHandler, behavior: UnaryBehavior) -> grpc.RpcMethodHandler:
    """`handler` answering through `behavior`, with the same request and response codecs."""
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class UnaryInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps the unary methods whose path starts with one of `prefixes` in `wrap`."""

    prefixes: tuple[str, ...] = ("/",)

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        path: str = details.method  # type: ignore[attr-defined]
        if handler is None or handler.unary_unary is None or not path.startswith(self.prefixes):
            return handler
        return with_behavior(handler, self.wrap(path, handler.unary_unary))

    def wrap(self, path: str, inner: UnaryBehavior) -> UnaryBehavior:
        raise NotImplementedError
