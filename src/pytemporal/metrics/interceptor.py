"""`service_*` metrics of the public gRPC API: one interceptor on the public port.

Temporal's telemetry interceptor counts every request (`service_requests`), times it
(`service_latency`) and classifies a failure (`common/rpc/interceptor/
request_error_handler.go`): every error counts in `service_error_with_type`, only the
unexpected ones in `service_errors`, RESOURCE_EXHAUSTED also by cause and scope.
The error type is read from the status details the frontend attached
(``NotFoundFailure`` -> ``serviceerror_NotFound``), else from the status code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.enums.v1 import ResourceExhaustedCause, ResourceExhaustedScope
from temporalio.api.errordetails.v1 import ResourceExhaustedFailure

from pytemporal.common.interceptors import UnaryBehavior, UnaryInterceptor
from pytemporal.metrics.families import UNKNOWN_NAMESPACE, Metrics

PUBLIC_APIS = "/temporal.api."
_DETAILS_KEY = "grpc-status-details-bin"
# Codes Temporal counts as the caller's doing, not the server's (isExpectedErrorByStatusCode).
_EXPECTED = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
# Go's serviceerror type names by status code, when no details name the type.
_TYPE_BY_CODE = {
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}


def _status_details(context: grpc.aio.ServicerContext[Any, Any]) -> GrpcStatus | None:
    for key, value in context.trailing_metadata() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = GrpcStatus()
            try:
                status.ParseFromString(value)
            except Exception:  # a malformed trailer is not ours to judge here
                return None
            return status
    return None


class ServiceMetricsInterceptor(UnaryInterceptor):
    prefixes = (PUBLIC_APIS,)

    def __init__(self, metrics: Metrics, namespace_exists: Callable[[str], bool]) -> None:
        self.metrics = metrics
        self.namespace_exists = namespace_exists

    def wrap(self, path: str, inner: UnaryBehavior) -> UnaryBehavior:
        operation = path.rsplit("/", 1)[-1]
        metrics, exists = self.metrics, self.namespace_exists
        requests, latency = metrics.service_requests, metrics.service_latency
        clock = time.perf_counter

        async def measured(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            name = getattr(request, "namespace", "")
            # Only registered names: a label per made-up name would grow without bound.
            namespace = (
                name if isinstance(name, str) and name and exists(name) else UNKNOWN_NAMESPACE
            )
            requests.labels(operation, namespace).inc()
            start = clock()
            try:
                return await inner(request, context)
            except asyncio.CancelledError:
                self._error(operation, namespace, grpc.StatusCode.CANCELLED, None)
                raise
            except grpc.aio.AbortError:
                code = context.code()
                if isinstance(code, grpc.StatusCode):
                    self._error(operation, namespace, code, _status_details(context))
                raise
            except Exception:
                self._error(operation, namespace, grpc.StatusCode.UNKNOWN, None)
                raise
            finally:
                latency.labels(operation, namespace).observe(clock() - start)

        return measured

    def _error(
        self,
        operation: str,
        namespace: str,
        code: grpc.StatusCode,
        status: GrpcStatus | None,
    ) -> None:
        m = self.metrics
        error_type = _TYPE_BY_CODE.get(code, code.name)
        detail = status.details[0] if status is not None and status.details else None
        if detail is not None:
            error_type = detail.TypeName().rsplit(".", 1)[-1].removesuffix("Failure")
        m.service_error_with_type.labels(operation, namespace, f"serviceerror_{error_type}").inc()
        expected = code in _EXPECTED
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
            failure = ResourceExhaustedFailure()
            if detail is not None and detail.Is(failure.DESCRIPTOR):
                detail.Unpack(failure)
            cause = ResourceExhaustedCause.Name(failure.cause)
            scope = ResourceExhaustedScope.Name(failure.scope)
            m.service_errors_resource_exhausted.labels(operation, namespace, cause, scope).inc()
            # A namespace's own limit is the caller's doing; the instance's is not.
            expected = failure.scope == ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE
        if not expected:
            m.service_errors.labels(operation, namespace).inc()
