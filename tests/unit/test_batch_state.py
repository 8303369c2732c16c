"""A batch job's stored state and its request's validation (pure)."""

from __future__ import annotations

import pytest
from temporalio.api.batch.v1 import BatchOperationDeletion, BatchOperationTermination
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType
from temporalio.api.workflowservice.v1 import StartBatchOperationRequest

from pytemporal.batch import keys
from pytemporal.batch.state import COMPLETED, BatchState, validate
from pytemporal.common.errors import InvalidArgument


def request(**kw: object) -> StartBatchOperationRequest:
    base: dict[str, object] = {
        "namespace": "default",
        "job_id": "job-1",
        "reason": "why",
        "executions": [WorkflowExecution(workflow_id="w1")],
        "termination_operation": BatchOperationTermination(identity="me"),
    }
    return StartBatchOperationRequest(**(base | kw))  # type: ignore[arg-type]


def test_state_round_trips_and_reports_temporal_types() -> None:
    st = BatchState("ns-id", "job-1", request(), start_time=10.5)
    st.done, st.cursor, st.reset_runs = (
        1,
        {"close_time": None, "start_time": 1.0, "run_id": "r"},
        ["x"],
    )
    again = BatchState.decode(st.encode(), db_version=4)
    assert again == st and again.db_version == 4
    assert again.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW
    assert again.identity == "me"
    again.status = COMPLETED
    assert again.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED


def test_validate_in_temporals_order() -> None:
    assert validate(request()) == "termination_operation"
    assert validate(request(deletion_operation=BatchOperationDeletion())) == "deletion_operation"
    with pytest.raises(InvalidArgument, match="must provide required parameters"):
        validate(request(reason=""))
    with pytest.raises(InvalidArgument, match="JobId is not set"):
        validate(request(job_id=""))
    with pytest.raises(InvalidArgument, match="mutually exclusive"):
        validate(request(visibility_query="WorkflowType = 'x'"))


def test_row_keys() -> None:
    key = keys.row_key("ns-id", "job-1")
    assert keys.is_batch(key) and keys.batch_of(key) == ("ns-id", "job-1")
    assert not keys.is_batch(("ns-id", "job-1", keys.RUN_ID))
