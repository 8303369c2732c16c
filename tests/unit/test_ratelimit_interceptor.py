"""RateLimitInterceptor on an in-process grpc.aio server: which calls it counts.

A stub WorkflowService (DescribeNamespace, StartWorkflowExecution) answers behind the
interceptor; the limiter has a namespace burst of 2, so the third counted call is
refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeNamespaceResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
)

from pytemporal.frontend.ratelimit import FrontendLimiter, RateLimitInterceptor, RateLimitSettings

SERVICE = "temporal.api.workflowservice.v1.WorkflowService"


def _handlers() -> grpc.GenericRpcHandler:
    async def start(request: Any, context: Any) -> StartWorkflowExecutionResponse:
        return StartWorkflowExecutionResponse(run_id="r")

    async def describe(request: Any, context: Any) -> DescribeNamespaceResponse:
        return DescribeNamespaceResponse()

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "StartWorkflowExecution": grpc.unary_unary_rpc_method_handler(
                start,
                request_deserializer=StartWorkflowExecutionRequest.FromString,
                response_serializer=StartWorkflowExecutionResponse.SerializeToString,
            ),
            "DescribeNamespace": grpc.unary_unary_rpc_method_handler(
                describe,
                request_deserializer=DescribeNamespaceRequest.FromString,
                response_serializer=DescribeNamespaceResponse.SerializeToString,
            ),
        },
    )


async def _serve() -> tuple[grpc.aio.Server, str]:
    limiter = FrontendLimiter(RateLimitSettings(namespace_rps=1, namespace_burst_ratio=2.0))
    interceptor = RateLimitInterceptor(limiter, lambda name: name == "default")
    server = grpc.aio.server(interceptors=[interceptor])
    server.add_generic_rpc_handlers([_handlers()])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def target() -> AsyncIterator[str]:
    server, address = await _serve()
    try:
        yield address
    finally:
        await server.stop(None)


async def _starts(address: str, n: int, metadata: tuple[tuple[str, str], ...] = ()) -> list[str]:
    codes = []
    async with grpc.aio.insecure_channel(address) as ch:
        call = ch.unary_unary(
            f"/{SERVICE}/StartWorkflowExecution",
            request_serializer=StartWorkflowExecutionRequest.SerializeToString,
            response_deserializer=StartWorkflowExecutionResponse.FromString,
        )
        for _ in range(n):
            try:
                await call(StartWorkflowExecutionRequest(namespace="default"), metadata=metadata)
                codes.append("OK")
            except grpc.aio.AioRpcError as err:
                codes.append(err.code().name)
    return codes


async def test_the_third_call_is_refused(target: str) -> None:
    assert await _starts(target, 3) == ["OK", "OK", "RESOURCE_EXHAUSTED"]


async def test_a_forwarded_marker_from_a_client_changes_nothing(target: str) -> None:
    # Forwarded calls arrive on the internode listener, never on the public port.
    codes = await _starts(target, 3, (("pytemporal-forwarded", "1"),))
    assert codes == ["OK", "OK", "RESOURCE_EXHAUSTED"]


async def test_unknown_namespaces_meet_only_the_instance_limit(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as ch:
        call = ch.unary_unary(
            f"/{SERVICE}/StartWorkflowExecution",
            request_serializer=StartWorkflowExecutionRequest.SerializeToString,
            response_deserializer=StartWorkflowExecutionResponse.FromString,
        )
        for _ in range(5):
            await call(StartWorkflowExecutionRequest(namespace="nope"))


async def test_a_namespace_name_past_the_limit_is_invalid_argument(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as ch:
        call = ch.unary_unary(
            f"/{SERVICE}/DescribeNamespace",
            request_serializer=DescribeNamespaceRequest.SerializeToString,
            response_deserializer=DescribeNamespaceResponse.FromString,
        )
        await call(DescribeNamespaceRequest(namespace="n" * 1_000))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(DescribeNamespaceRequest(namespace="n" * 1_001))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "Namespace length exceeds limit."
