"""The one place where domain errors become gRPC status codes and error details."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import Message
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import (
    ActivityExecutionAlreadyStartedFailure,
    MultiOperationExecutionFailure,
    NamespaceAlreadyExistsFailure,
    NamespaceInvalidStateFailure,
    NamespaceNotFoundFailure,
    NotFoundFailure,
    QueryFailedFailure,
    ResourceExhaustedFailure,
    WorkflowExecutionAlreadyStartedFailure,
    WorkflowNotReadyFailure,
)

from pytemporal.common import errors as e
from pytemporal.common import logcontext

log = logging.getLogger(__name__)

_CODES: list[tuple[type[e.ServiceError], grpc.StatusCode]] = [
    (e.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (e.NotFound, grpc.StatusCode.NOT_FOUND),
    (e.WorkflowAlreadyStarted, grpc.StatusCode.ALREADY_EXISTS),
    (e.NamespaceAlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (e.QueryFailed, grpc.StatusCode.INVALID_ARGUMENT),
    (e.WorkflowNotReady, grpc.StatusCode.FAILED_PRECONDITION),
    (e.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (e.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (e.MultiOperationFailed, grpc.StatusCode.INTERNAL),
    (e.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (e.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (e.Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
    (e.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
]


def _detail(err: e.ServiceError) -> Message | None:
    if isinstance(err, e.MultiOperationFailed):
        return _multi_operation(err)
    if isinstance(err, e.NamespaceNotFound):
        return NamespaceNotFoundFailure(namespace=err.namespace)
    if isinstance(err, e.NamespaceInvalidState):
        return NamespaceInvalidStateFailure(
            namespace=err.namespace,
            state=err.state,  # type: ignore[arg-type]
            allowed_states=err.allowed,  # type: ignore[arg-type]
        )
    if isinstance(err, e.NotFound):
        return NotFoundFailure()
    if isinstance(err, e.ActivityAlreadyStarted):
        return ActivityExecutionAlreadyStartedFailure(
            start_request_id=err.start_request_id, run_id=err.run_id
        )
    if isinstance(err, e.WorkflowAlreadyStarted):
        return WorkflowExecutionAlreadyStartedFailure(
            start_request_id=err.start_request_id,
            run_id=err.run_id,
            first_execution_run_id=err.first_execution_run_id,
        )
    if isinstance(err, e.NamespaceAlreadyExists):
        return NamespaceAlreadyExistsFailure()
    if isinstance(err, e.QueryFailed):
        d = QueryFailedFailure()
        if err.failure is not None:
            d.failure.CopyFrom(err.failure)
        return d
    if isinstance(err, e.WorkflowNotReady):
        return WorkflowNotReadyFailure()
    if isinstance(err, e.ResourceExhausted):
        return ResourceExhaustedFailure(cause=err.cause, scope=err.scope)  # type: ignore[arg-type]
    return None


def _multi_operation(err: e.MultiOperationFailed) -> Message:
    failure = MultiOperationExecutionFailure()
    for code, message, details in err.statuses:
        status = failure.statuses.add(code=code, message=message)
        if isinstance(details, bytes):
            status.details.extend(GrpcStatus.FromString(details).details)
        else:
            status.details.append(details)
    return failure


def status_of(err: e.ServiceError) -> tuple[grpc.StatusCode, str, bytes]:
    if isinstance(err, e.MultiOperationFailed):
        code = err.code
    else:
        code = next(c for cls, c in _CODES if isinstance(err, cls))
    st = GrpcStatus(code=code.value[0], message=err.message)
    detail = _detail(err)
    if detail is not None:
        a = AnyProto()
        a.Pack(detail, type_url_prefix="type.googleapis.com/")
        st.details.append(a)
    return code, err.message, st.SerializeToString()


async def abort(context: grpc.aio.ServicerContext, err: e.ServiceError) -> None:
    code, message, details = status_of(err)
    await context.abort(code, message, trailing_metadata=(("grpc-status-details-bin", details),))


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def handled(fn: F) -> F:
    """Wrap an RPC: domain errors → status + details, logged in one line at DEBUG (they
    are the caller's business); anything else → INTERNAL, logged with its traceback.
    Every line logged while the call runs carries the workflow it names."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        tagged = logcontext.push(request)
        try:
            return await fn(self, request, context)
        except e.ServiceError as err:
            if log.isEnabledFor(logging.DEBUG):
                code = status_of(err)[0]
                log.debug("%s: %s %s", fn.__name__, code.name, err.message)
            await abort(context, err)
        except (grpc.aio.AbortError, GeneratorExit):
            raise
        except Exception:
            log.exception("internal error in %s", fn.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__}")
        finally:
            logcontext.pop(tagged)

    return wrapper  # type: ignore[return-value]
