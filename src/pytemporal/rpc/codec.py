"""Between pytemporal's values and the internal messages (`proto/internal/v1`).

Domain errors cross processes as an `Error` message in the `pytemporal-error-bin`
trailer of the failed call; `raise_error` raises the same `common.errors` class again.
An error class the message cannot name travels as its nearest named base class
(`ShardNotOwned` as `Unavailable`); `MultiOperationFailed`, which no internal call
raises, as `Unavailable`.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.failure.v1 import Failure

from pytemporal.common import errors
from pytemporal.matching.queues import TaskRef
from pytemporal.proto.internal.v1 import internal_pb2 as pb

ERROR_TRAILER = "pytemporal-error-bin"
Key = tuple[str, str, str]
M = TypeVar("M", bound=Message)


class Malformed(Exception):
    """An internal request that does not parse; the caller's fault."""


def parse(message_type: type[M], data: bytes) -> M:
    try:
        return message_type.FromString(data)
    except (DecodeError, ValueError, TypeError):
        raise Malformed(message_type.DESCRIPTOR.full_name) from None


_KINDS = {
    "workflow": pb.TASK_KIND_WORKFLOW,
    "activity": pb.TASK_KIND_ACTIVITY,
    "query": pb.TASK_KIND_QUERY,
}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}

# Most specific first: an error is sent as the first class it is an instance of.
_ERRORS: list[tuple[type[errors.ServiceError], pb.ErrorKind]] = [
    (errors.ShardOwnershipLost, pb.ERROR_KIND_SHARD_OWNERSHIP_LOST),
    (errors.ConditionFailed, pb.ERROR_KIND_CONDITION_FAILED),
    (errors.PersistenceError, pb.ERROR_KIND_PERSISTENCE),
    (errors.NamespaceNotFound, pb.ERROR_KIND_NAMESPACE_NOT_FOUND),
    (errors.NotFound, pb.ERROR_KIND_NOT_FOUND),
    (errors.InvalidArgument, pb.ERROR_KIND_INVALID_ARGUMENT),
    (errors.WorkflowAlreadyStarted, pb.ERROR_KIND_WORKFLOW_ALREADY_STARTED),
    (errors.NamespaceAlreadyExists, pb.ERROR_KIND_NAMESPACE_ALREADY_EXISTS),
    (errors.QueryFailed, pb.ERROR_KIND_QUERY_FAILED),
    (errors.WorkflowNotReady, pb.ERROR_KIND_WORKFLOW_NOT_READY),
    (errors.ResourceExhausted, pb.ERROR_KIND_RESOURCE_EXHAUSTED),
    (errors.FailedPrecondition, pb.ERROR_KIND_FAILED_PRECONDITION),
    (errors.DeadlineExceeded, pb.ERROR_KIND_DEADLINE_EXCEEDED),
    (errors.Unavailable, pb.ERROR_KIND_UNAVAILABLE),
    (errors.PermissionDenied, pb.ERROR_KIND_PERMISSION_DENIED),
    (errors.Unimplemented, pb.ERROR_KIND_UNIMPLEMENTED),
]
# The classes with fields of their own; every other one is built from the message.
_WITH_FIELDS = (
    errors.NamespaceNotFound,
    errors.WorkflowAlreadyStarted,
    errors.QueryFailed,
    errors.ResourceExhausted,
)
_PLAIN: dict[int, type[errors.ServiceError]] = {
    kind: cls for cls, kind in _ERRORS if cls not in _WITH_FIELDS
}


def task_ref(ref: TaskRef) -> pb.TaskRef:
    return pb.TaskRef(
        kind=_KINDS[ref.kind],
        namespace_id=ref.namespace_id,
        workflow_id=ref.workflow_id,
        run_id=ref.run_id,
        scheduled_event_id=ref.scheduled_event_id,
        attempt=ref.attempt,
        normal_queue=ref.normal_queue,
        query_id=ref.query_id,
        request_id=ref.request_id,
        pinned=ref.pinned,
        ramping=ref.ramping,
    )


def from_task_ref(msg: pb.TaskRef) -> TaskRef:
    kind = _KIND_NAMES.get(msg.kind)
    if kind is None:
        raise Malformed(f"task kind {msg.kind}")
    return TaskRef(
        kind,
        msg.namespace_id,
        msg.workflow_id,
        msg.run_id,
        msg.scheduled_event_id,
        msg.attempt,
        msg.normal_queue,
        msg.query_id,
        msg.request_id,
        msg.pinned,
        msg.ramping,
    )


def workflow_key(key: Key) -> pb.WorkflowKey:
    return pb.WorkflowKey(namespace_id=key[0], workflow_id=key[1], run_id=key[2])


def from_workflow_key(msg: pb.WorkflowKey) -> Key:
    return msg.namespace_id, msg.workflow_id, msg.run_id


def execution(e: WorkflowExecution) -> pb.Execution:
    return pb.Execution(workflow_id=e.workflow_id, run_id=e.run_id)


def from_execution(msg: pb.Execution) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=msg.workflow_id, run_id=msg.run_id)


def error(err: errors.ServiceError) -> pb.Error:
    kind = next((k for cls, k in _ERRORS if isinstance(err, cls)), pb.ERROR_KIND_UNAVAILABLE)
    msg = pb.Error(kind=kind, message=err.message)
    if isinstance(err, errors.WorkflowAlreadyStarted):
        msg.workflow_already_started.start_request_id = err.start_request_id
        msg.workflow_already_started.run_id = err.run_id
        msg.workflow_already_started.first_execution_run_id = err.first_execution_run_id
    elif isinstance(err, errors.ResourceExhausted):
        msg.resource_exhausted.cause = err.cause
        msg.resource_exhausted.scope = err.scope
    elif isinstance(err, errors.NamespaceNotFound):
        msg.namespace = err.namespace
    elif isinstance(err, errors.QueryFailed) and err.failure is not None:
        msg.query_failure = err.failure.SerializeToString()
    return msg


def from_error(msg: pb.Error) -> errors.ServiceError:
    kind = msg.kind
    if kind == pb.ERROR_KIND_WORKFLOW_ALREADY_STARTED:
        d = msg.workflow_already_started
        return errors.WorkflowAlreadyStarted(
            msg.message,
            start_request_id=d.start_request_id,
            run_id=d.run_id,
            first_execution_run_id=d.first_execution_run_id,
        )
    if kind == pb.ERROR_KIND_RESOURCE_EXHAUSTED:
        r = msg.resource_exhausted
        return errors.ResourceExhausted(msg.message, cause=r.cause, scope=r.scope)
    if kind == pb.ERROR_KIND_NAMESPACE_NOT_FOUND:
        return errors.NamespaceNotFound(msg.namespace)
    if kind == pb.ERROR_KIND_QUERY_FAILED:
        failure = Failure.FromString(msg.query_failure) if msg.HasField("query_failure") else None
        return errors.QueryFailed(msg.message, failure)
    return _PLAIN.get(kind, errors.Unavailable)(msg.message)


def raise_error(e: grpc.aio.AioRpcError, address: str) -> None:
    """Raise the domain error a failed internal call carries, or `Unavailable` when it
    failed in transport (the owner died, the connection broke)."""
    for key, value in e.trailing_metadata() or ():
        if key == ERROR_TRAILER and isinstance(value, bytes):
            raise from_error(pb.Error.FromString(value)) from None
    raise errors.Unavailable(f"call to {address} failed: {e.code().name}") from e
