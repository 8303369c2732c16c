"""A batch job's stored state, and what its request asks (pure: no I/O).

Stored as JSON in its row's `state` column (the request as base64 protobuf). The
counts are Temporal's: `total` is the estimate taken at the start (the length of the
list, or the count of the query's matches), `done` and `failed` grow as it goes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType
from temporalio.api.workflowservice.v1 import StartBatchOperationRequest

from pytemporal.common.errors import InvalidArgument

T = BatchOperationType
# The operations this server runs, by the request's `operation` oneof, with the type
# Temporal reports for them (its newer *_WORKFLOW values).
OPERATIONS: dict[str, int] = {
    "termination_operation": T.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW,
    "cancellation_operation": T.BATCH_OPERATION_TYPE_CANCEL_WORKFLOW,
    "signal_operation": T.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW,
    "deletion_operation": T.BATCH_OPERATION_TYPE_DELETE_WORKFLOW,
    "reset_operation": T.BATCH_OPERATION_TYPE_RESET_WORKFLOW,
    "unpause_activities_operation": T.BATCH_OPERATION_TYPE_UNPAUSE_ACTIVITY,
    "reset_activities_operation": T.BATCH_OPERATION_TYPE_RESET_ACTIVITY,
    "update_activity_options_operation": T.BATCH_OPERATION_TYPE_UPDATE_ACTIVITY_OPTIONS,
}
# Operations on running workflows only: their query gets Temporal's running filter.
ON_RUNNING = frozenset(
    {
        "termination_operation",
        "cancellation_operation",
        "signal_operation",
        "unpause_activities_operation",
        "reset_activities_operation",
        "update_activity_options_operation",
    }
)
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"  # stopped (Temporal: its workflow was terminated)
STATES = {
    RUNNING: BatchOperationState.BATCH_OPERATION_STATE_RUNNING,
    COMPLETED: BatchOperationState.BATCH_OPERATION_STATE_COMPLETED,
    FAILED: BatchOperationState.BATCH_OPERATION_STATE_FAILED,
}


def validate(req: StartBatchOperationRequest) -> str:
    """Temporal's checks (`batcher.ValidateBatchOperation`, then the frontend's);
    the operation's oneof name."""
    selectors = sum(
        1 for present in (req.visibility_query, req.executions, req.target_executions) if present
    )
    op = req.WhichOneof("operation")
    if op is None or not req.reason or not req.namespace or selectors == 0:
        raise InvalidArgument(
            "must provide required parameters: BatchType,Reason,Namespace, AND one of "
            "(Query OR Executions OR TargetExecutions)"
        )
    if not req.job_id:
        raise InvalidArgument("JobId is not set on request.")
    if selectors > 1:
        raise InvalidArgument(
            "visibility query, executions, and target executions are mutually exclusive"
        )
    if req.target_executions:
        raise InvalidArgument("target_executions are not supported by this server")
    if op not in OPERATIONS:
        raise InvalidArgument(f"The operation type {_go_type(op)} is not supported")
    return op


def _go_type(op: str) -> str:
    camel = "".join(w.capitalize() for w in op.split("_"))
    return f"*workflowservice.StartBatchOperationRequest_{camel}"


@dataclass
class BatchState:
    namespace_id: str
    job_id: str
    request: StartBatchOperationRequest
    start_time: float
    status: str = RUNNING
    close_time: float = 0.0
    total: int = 0
    done: int = 0
    failed: int = 0
    # Progress: the next index of `request.executions`, or where the query's pages
    # stopped (a visibility cursor) and whether they are exhausted.
    position: int = 0
    cursor: dict[str, Any] | None = None
    reset_runs: list[str] = field(default_factory=list)
    db_version: int = field(default=0, compare=False)

    @property
    def operation(self) -> str:
        return self.request.WhichOneof("operation") or ""

    @property
    def operation_type(self) -> int:
        return OPERATIONS.get(self.operation, T.BATCH_OPERATION_TYPE_UNSPECIFIED)

    @property
    def identity(self) -> str:
        op = getattr(self.request, self.operation) if self.operation else None
        return str(getattr(op, "identity", ""))

    @property
    def state(self) -> int:
        return STATES[self.status]

    def executions(self) -> list[WorkflowExecution]:
        return list(self.request.executions)

    def encode(self) -> bytes:
        doc = asdict(self) | {
            "request": base64.b64encode(self.request.SerializeToString()).decode()
        }
        doc.pop("db_version")
        return json.dumps(doc).encode()

    @classmethod
    def decode(cls, data: bytes, db_version: int = 0) -> BatchState:
        doc = json.loads(data)
        doc["request"] = StartBatchOperationRequest.FromString(base64.b64decode(doc["request"]))
        return cls(**doc, db_version=db_version)
