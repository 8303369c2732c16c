"""Authorization of the public API: Temporal's default authorizer behind its default
JWT claim mapper (``jwt_claims.py``), as a gRPC server interceptor.

Every refusal is ``PERMISSION_DENIED`` "Request unauthorized." whatever the cause (no
token, a bad one, too few roles), as Temporal's interceptor answers; why a token was
refused is only logged, so a caller learns nothing about keys or claims.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.enums.v1 import CommandType
from temporalio.api.errordetails.v1 import PermissionDeniedFailure

from pytemporal.common.interceptors import with_behavior
from pytemporal.config import AuthorizationConfig
from pytemporal.frontend import api_metadata as api
from pytemporal.frontend.jwt_claims import (
    ROLE_ADMIN,
    ROLE_READER,
    ROLE_WORKER,
    ROLE_WRITER,
    ClaimMapper,
    Claims,
    KeyProvider,
    TokenError,
)

log = logging.getLogger(__name__)

REQUEST_UNAUTHORIZED = "Request unauthorized."
# Process-to-process calls: authenticated by the cluster transport, not by JWTs.
INTERNAL_PREFIX = "/pytemporal.internal."

_REQUIRED_ROLE = {
    api.Access.READ_ONLY: ROLE_READER,
    api.Access.WRITE: ROLE_WRITER,
    api.Access.ADMIN: ROLE_ADMIN,
}


def authorize(
    claims: Claims | None, full_method: str, namespace: str, *, worker_role_tasks: bool = False
) -> bool:
    """Temporal's default authorizer: may a caller with `claims` call `full_method` on
    `namespace`? System roles apply to every namespace and to cluster-scoped APIs;
    namespace roles to their namespace's APIs. A role is enough when its bit value is
    at least the required one (admin > write > read > worker). With
    `worker_role_tasks` (a pytemporal option), the worker role also grants the APIs
    a worker process calls (api_metadata.WORKER_APIS)."""
    if api.is_health_check(full_method):
        return True
    if claims is None:
        return False
    metadata = api.method_metadata(full_method)
    if metadata.scope is api.Scope.CLUSTER:
        role = claims.system
    elif metadata.scope is api.Scope.NAMESPACE:
        role = claims.system | claims.namespaces.get(namespace, 0)
    else:
        return False
    if worker_role_tasks and role & ROLE_WORKER and full_method in api.WORKER_APIS:
        return True
    return role >= _REQUIRED_ROLE.get(metadata.access, ROLE_ADMIN)


def _denied_details() -> tuple[tuple[str, bytes], ...]:
    status = GrpcStatus(
        code=grpc.StatusCode.PERMISSION_DENIED.value[0], message=REQUEST_UNAUTHORIZED
    )
    detail = AnyProto()
    detail.Pack(PermissionDeniedFailure(), type_url_prefix="type.googleapis.com/")
    status.details.append(detail)
    return (("grpc-status-details-bin", status.SerializeToString()),)


_DENIED = _denied_details()


def _ignore(namespace: str) -> None:
    pass


async def _deny(context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(
        grpc.StatusCode.PERMISSION_DENIED, REQUEST_UNAUTHORIZED, trailing_metadata=_DENIED
    )


_CROSS_NAMESPACE_COMMANDS = {
    CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: (
        "signal_external_workflow_execution_command_attributes",
        "SignalWorkflowExecution",
    ),
    CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: (
        "start_child_workflow_execution_command_attributes",
        "StartWorkflowExecution",
    ),
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: (
        "request_cancel_external_workflow_execution_command_attributes",
        "RequestCancelWorkflowExecution",
    ),
}


def cross_namespace_calls(path: str, request: Any, namespace: str) -> set[tuple[str, str]]:
    """(API, namespace) pairs a workflow task completion's commands call in other
    namespaces: the caller needs those rights too, or a writer of one namespace could
    act in another through its workflows (Temporal's authorizeTargetNamespaces)."""
    if path != api.WORKFLOW_SERVICE + "RespondWorkflowTaskCompleted":
        return set()
    calls = set()
    for command in request.commands:
        found = _CROSS_NAMESPACE_COMMANDS.get(command.command_type)
        if found is None:
            continue
        field, method = found
        target = getattr(command, field).namespace
        if target and target != namespace:
            calls.add((method, target))
    return calls


def _namespace_of(request: Any) -> str:
    """The `namespace` field of a request (Temporal's hasNamespace), else ""."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "namespace" not in descriptor.fields_by_name:
        return ""
    value = request.namespace
    return value if isinstance(value, str) else ""


class AuthorizationInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Goes before the rate limits and routing (after the metrics interceptor and the
    serving gate): calls are authorized where they enter the cluster, before one is
    forwarded to another process (which authorizes it again from the same, forwarded,
    metadata)."""

    def __init__(
        self,
        mapper: ClaimMapper,
        header_name: str = "authorization",
        *,
        worker_role_tasks: bool = False,
    ) -> None:
        self.mapper = mapper
        self.header_name = header_name.lower()
        self.worker_role_tasks = worker_role_tasks
        # Told the namespace of each call the authorizer refuses (a token that is valid
        # but lacks the permission), as Temporal counts `service_errors_unauthorized`;
        # a missing or bad token is not counted, as in Temporal.
        self.on_denied: Callable[[str], None] = _ignore

    def allowed(self, claims: Claims | None, full_method: str, namespace: str) -> bool:
        if authorize(claims, full_method, namespace, worker_role_tasks=self.worker_role_tasks):
            return True
        self.on_denied(namespace)
        return False

    async def _claims(self, details: grpc.HandlerCallDetails) -> Claims | None:
        """None without a token; TokenError for a bad one."""
        metadata = details.invocation_metadata or ()  # type: ignore[attr-defined]
        header = next((v for k, v in metadata if k == self.header_name), "")
        if isinstance(header, bytes):
            header = header.decode("utf-8", "replace")
        if not header:
            return None
        return await self.mapper.claims(header)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        path: str = details.method  # type: ignore[attr-defined]
        handler = await continuation(details)
        if handler is None or path.startswith(INTERNAL_PREFIX) or api.is_health_check(path):
            return handler  # an unknown method stays UNIMPLEMENTED, as in Temporal
        try:
            claims = await self._claims(details)
        except TokenError as e:
            log.info("Authorization error: %s (%s)", e, path)
            return _refusal()
        except Exception:  # noqa: BLE001 - a token must never turn into UNKNOWN
            log.exception("Authorization error (%s)", path)
            return _refusal()
        if api.method_metadata(path).scope is not api.Scope.NAMESPACE:
            # No namespace to read: decided before the request is even parsed.
            return handler if self.allowed(claims, path, "") else _refusal()
        if handler.unary_unary is None:  # every namespace API is unary; refuse others
            return _refusal()
        inner = handler.unary_unary

        async def checked(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            namespace = _namespace_of(request)
            if not self.allowed(claims, path, namespace) or not all(
                self.allowed(claims, api.WORKFLOW_SERVICE + method, target)
                for method, target in cross_namespace_calls(path, request, namespace)
            ):
                await _deny(context)
            return await inner(request, context)

        return with_behavior(handler, checked)


def _refusal() -> grpc.RpcMethodHandler:
    # No deserializer: the refused request is never parsed.
    async def refuse(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await _deny(context)

    return grpc.unary_unary_rpc_method_handler(refuse)


class Authorization:
    """What the composition root builds from the config: start/close the key reloads,
    and the interceptor to put on the public server (before rate limits and routing)."""

    def __init__(self, config: AuthorizationConfig) -> None:
        self.keys = KeyProvider(config.key_source_uris, config.refresh_interval)
        self.interceptor = AuthorizationInterceptor(
            ClaimMapper(config, self.keys),
            config.auth_header_name or "authorization",
            worker_role_tasks=config.worker_role_task_apis,
        )

    async def start(self) -> None:
        await self.keys.start()

    async def close(self) -> None:
        await self.keys.close()
