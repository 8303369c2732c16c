"""The started event's attributes computed from a start request."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.history.api.start import started_attributes


def test_execution_expiration_is_never_before_the_full_timeout() -> None:
    req = StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id="wf",
        workflow_type=WorkflowType(name="W"),
        task_queue=TaskQueue(name="tq"),
        workflow_execution_timeout=Duration(seconds=1),
    )
    # Start times just past a millisecond boundary: rounding to the nearest ms would put
    # the expiration up to half a millisecond before start + timeout.
    for now in (1_700_000_000.0004, 1_700_000_000.0001, 1_700_000_000.0, 5.0009999):
        attrs = started_attributes(req, "run", now)
        expiration = attrs.workflow_execution_expiration_time
        seconds = expiration.seconds + expiration.nanos / 1e9
        assert seconds >= now + 1.0 - 1e-6
        assert seconds - (now + 1.0) < 0.001 + 1e-6
