"""Domain errors.

Roles raise these; only the frontend turns them into gRPC status codes and
`temporal.api.errordetails.v1` details (see ``pytemporal.frontend.errors``).

    ServiceError
     ├── InvalidArgument            INVALID_ARGUMENT
     ├── NotFound                   NOT_FOUND + NotFoundFailure
     │    └── NamespaceNotFound     NOT_FOUND + NamespaceNotFoundFailure
     ├── WorkflowAlreadyStarted     ALREADY_EXISTS + WorkflowExecutionAlreadyStartedFailure
     ├── NamespaceAlreadyExists     ALREADY_EXISTS + NamespaceAlreadyExistsFailure
     ├── QueryFailed                INVALID_ARGUMENT + QueryFailedFailure
     ├── WorkflowNotReady           FAILED_PRECONDITION + WorkflowNotReadyFailure
     ├── ResourceExhausted          RESOURCE_EXHAUSTED + ResourceExhaustedFailure
     ├── FailedPrecondition         FAILED_PRECONDITION
     ├── DeadlineExceeded           DEADLINE_EXCEEDED
     ├── Unavailable                UNAVAILABLE
     └── Unimplemented              UNIMPLEMENTED
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class NamespaceNotFound(NotFound):
    def __init__(self, namespace: str) -> None:
        super().__init__(f"Namespace {namespace} is not found.")
        self.namespace = namespace


class WorkflowAlreadyStarted(ServiceError):
    def __init__(
        self, message: str, *, start_request_id: str, run_id: str, first_execution_run_id: str
    ) -> None:
        super().__init__(message)
        self.start_request_id = start_request_id
        self.run_id = run_id
        self.first_execution_run_id = first_execution_run_id


class ActivityAlreadyStarted(WorkflowAlreadyStarted):
    """A standalone activity's id is taken (its details name the activity's run)."""


class NamespaceAlreadyExists(ServiceError):
    pass


class QueryFailed(ServiceError):
    def __init__(self, message: str, failure: Any = None) -> None:
        super().__init__(message)
        self.failure = failure


class WorkflowNotReady(ServiceError):
    pass


class ResourceExhausted(ServiceError):
    def __init__(self, message: str, *, cause: int = 0, scope: int = 0) -> None:
        super().__init__(message)
        self.cause = cause
        self.scope = scope


class MultiOperationFailed(ServiceError):
    """One operation of a multi-operation failed; `statuses` has one entry per operation:
    (grpc code number, message, details) where details is serialized GrpcStatus bytes
    for the failed one or a packed Any for the aborted ones."""

    def __init__(self, message: str, *, code: Any, statuses: list[tuple[int, str, Any]]) -> None:
        super().__init__(message)
        self.code = code
        self.statuses = statuses


class FailedPrecondition(ServiceError):
    pass


class NamespaceInvalidState(FailedPrecondition):
    """The namespace's state (deprecated, deleted) does not allow the call."""

    def __init__(self, namespace: str, state: int, allowed: list[int]) -> None:
        names = {1: "Registered", 2: "Deprecated", 3: "Deleted"}
        allowed_text = " or ".join(names.get(s, str(s)) for s in allowed)
        super().__init__(
            f"Namespace has invalid state: {names.get(state, str(state))}. Must be {allowed_text}."
        )
        self.namespace = namespace
        self.state = state
        self.allowed = allowed


class DeadlineExceeded(ServiceError):
    pass


class Unavailable(ServiceError):
    pass


class PermissionDenied(ServiceError):
    pass


class Unimplemented(ServiceError):
    pass


class PersistenceError(Unavailable):
    """A storage failure; retryable by clients."""


class ShardOwnershipLost(PersistenceError):
    """Another process took the shard: this one must stop writing to it (fencing)."""


class ConditionFailed(PersistenceError):
    """A conditional write lost a race (stale version or a different current run)."""
