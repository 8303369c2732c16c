"""ExecuteMultiOperation: update-with-start (a start and an update, as one request)."""

from __future__ import annotations

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.failure.v1 import MultiOperationExecutionAborted
from temporalio.api.workflowservice.v1 import (
    ExecuteMultiOperationRequest,
    ExecuteMultiOperationResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    UpdateWorkflowExecutionRequest,
)

from pytemporal.common.errors import InvalidArgument, MultiOperationFailed, ServiceError
from pytemporal.history.api import start, updates
from pytemporal.history.engine import Entry, HistoryEngine
from pytemporal.history.workflow import updates as upd
from pytemporal.namespaces import Namespace

Response = ExecuteMultiOperationResponse.Response


def _validate(req: ExecuteMultiOperationRequest) -> None:
    ops = req.operations
    if (
        len(ops) != 2
        or not ops[0].HasField("start_workflow")
        or not ops[1].HasField("update_workflow")
    ):
        raise InvalidArgument("Operations have to be exactly [Start, Update].")
    s, u = ops[0].start_workflow, ops[1].update_workflow
    problems = []
    if u.workflow_execution.workflow_id and u.workflow_execution.workflow_id != s.workflow_id:
        problems.append("WorkflowId is not consistent with previous operation(s)")
    if u.workflow_execution.run_id:
        problems.append("RunId is not allowed")
    if u.first_execution_run_id:
        problems.append("FirstExecutionRunId is not allowed")
    if s.cron_schedule:
        problems.append("CronSchedule is not allowed")
    if s.HasField("workflow_start_delay"):
        problems.append("WorkflowStartDelay is not allowed")
    if s.request_eager_execution:
        problems.append("RequestEagerExecution is not allowed")
    if problems:
        raise InvalidArgument("; ".join(problems))


def _failed(err: ServiceError, index: int) -> MultiOperationFailed:
    from pytemporal.frontend.errors import status_of  # the one place errors get codes

    code, message, raw = status_of(err)
    aborted = AnyProto()
    aborted.Pack(MultiOperationExecutionAborted(), type_url_prefix="type.googleapis.com/")
    statuses: list[tuple[int, str, object]] = []
    for i in range(2):
        if i == index:
            statuses.append((code.value[0], message, raw))
        else:
            statuses.append((grpc.StatusCode.ABORTED.value[0], "Operation was aborted.", aborted))
    return MultiOperationFailed(
        "Update-with-Start could not be executed.", code=code, statuses=statuses
    )


async def _attach(
    engine: HistoryEngine,
    ns: Namespace,
    s: StartWorkflowExecutionRequest,
    u: UpdateWorkflowExecutionRequest,
    timeout: float,
) -> ExecuteMultiOperationResponse | None:
    """The update-with-start as an update of the current run, when Temporal makes it one
    whatever the id policies say (`service/history/api/multioperation/api.go`): the run
    already has this update completed (open or closed run), or it is open and has the
    update in flight, or was started by this same request; None: start as usual."""
    current = await engine.store.get_current_run(ns.id, s.workflow_id)
    if current is None:
        return None
    key = (ns.id, s.workflow_id, current.run_id)
    uid = u.request.meta.update_id
    async with engine.reading(key) as entry:
        known = await updates.known_stage(engine, entry, uid)
        in_flight = engine.updates.get(key, uid) is not None
        is_open = entry.ms.is_open
        status = entry.ms.status
    completed = known == upd.COMPLETED
    if not completed and not (
        is_open and (in_flight or known is not None or s.request_id == current.create_request_id)
    ):
        return None
    try:
        update_resp = await updates.update(
            engine, key, u.request, u.wait_policy.lifecycle_stage, "", timeout
        )
    except ServiceError as e:
        raise _failed(e, 1) from e
    start_resp = StartWorkflowExecutionResponse(
        run_id=current.run_id,
        started=False,
        status=status,  # type: ignore[arg-type]
    )
    return ExecuteMultiOperationResponse(
        responses=[Response(start_workflow=start_resp), Response(update_workflow=update_resp)]
    )


async def execute(
    engine: HistoryEngine, ns: Namespace, req: ExecuteMultiOperationRequest, timeout: float
) -> ExecuteMultiOperationResponse:
    _validate(req)
    s = req.operations[0].start_workflow
    u = req.operations[1].update_workflow
    if u.request.meta.update_id:
        attached = await _attach(engine, ns, s, u, timeout)
        if attached is not None:
            return attached
    admitted: list[bool] = []

    def admit(entry: Entry) -> None:
        # Registered before the run is committed, so the first task carries it.
        updates.admit(engine, entry, u.request)
        admitted.append(True)

    try:
        res = await start.start(engine, ns, s, on_new_run=admit)
    except ServiceError as e:
        raise _failed(e, 0) from e
    key = (ns.id, s.workflow_id, res.run_id)
    try:
        update_resp = await updates.update(
            engine, key, u.request, u.wait_policy.lifecycle_stage, "", timeout
        )
    except ServiceError as e:
        raise _failed(e, 1) from e
    start_resp = StartWorkflowExecutionResponse(
        run_id=res.run_id,
        first_execution_run_id=res.first_execution_run_id,
        started=res.started,
        status=WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
    )
    return ExecuteMultiOperationResponse(
        responses=[Response(start_workflow=start_resp), Response(update_workflow=update_resp)]
    )
