"""Workflow tags on log lines (common/logcontext.py) and the one-line UNIMPLEMENTED
answers (frontend/unimplemented.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.operatorservice.v1 import service_pb2_grpc as operator_grpc
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    ListNamespacesRequest,
    RecordActivityTaskHeartbeatByIdRequest,
    service_pb2_grpc,
)

from pytemporal.common import logcontext
from pytemporal.common.logging import configure_logging
from pytemporal.frontend import unimplemented
from pytemporal.frontend.operator_service import OperatorService
from pytemporal.frontend.workflow_service import WorkflowService


def test_request_tags_read_the_execution_or_the_ids() -> None:
    described = DescribeWorkflowExecutionRequest(
        namespace="orders", execution=WorkflowExecution(workflow_id="w", run_id="r")
    )
    assert logcontext.request_tags(described) == {
        "wf-namespace": "orders",
        "wf-id": "w",
        "wf-run-id": "r",
    }
    history = GetWorkflowExecutionHistoryRequest(
        namespace="n", execution=WorkflowExecution(workflow_id="w")
    )
    assert logcontext.request_tags(history) == {"wf-namespace": "n", "wf-id": "w"}
    by_id = RecordActivityTaskHeartbeatByIdRequest(namespace="n", workflow_id="w", run_id="r")
    assert logcontext.request_tags(by_id)["wf-run-id"] == "r"
    assert logcontext.request_tags(ListNamespacesRequest()) == {}


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    yield stream
    configure_logging()


def test_json_lines_carry_the_tags_set_for_the_block(json_log: io.StringIO) -> None:
    log = logging.getLogger("pytemporal.test")
    with logcontext.request_tagged(DescribeWorkflowExecutionRequest(namespace="n")):
        with logcontext.run_tags(("ns-id", "wf", "run")):
            log.info("inside")
        log.info("outer")
    log.info("outside")
    inside, outer, outside = (json.loads(line) for line in json_log.getvalue().splitlines())
    assert (inside["wf-namespace"], inside["wf-namespace-id"]) == ("n", "ns-id")
    assert (inside["wf-id"], inside["wf-run-id"]) == ("wf", "run")
    assert outer["wf-namespace"] == "n" and "wf-id" not in outer
    assert not any(k.startswith("wf-") for k in outside)


def test_tags_stay_in_their_task(json_log: io.StringIO) -> None:
    log = logging.getLogger("pytemporal.test")

    async def one(workflow_id: str, other_started: asyncio.Event, me: asyncio.Event) -> None:
        with logcontext.tagged(wf_id=workflow_id):
            me.set()
            await other_started.wait()
            log.info("x")

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(one("a", b, a), one("b", a, b))

    asyncio.run(main())
    ids = sorted(json.loads(line)["wf-id"] for line in json_log.getvalue().splitlines())
    assert ids == ["a", "b"]


def test_fill_leaves_the_class_as_written() -> None:
    service = object.__new__(WorkflowService)
    filled = unimplemented.fill(
        service, service_pb2_grpc.WorkflowServiceServicer, "WorkflowService"
    )
    assert "PollNexusTaskQueue" in filled
    assert "StartWorkflowExecution" not in filled and "GetClusterInfo" not in filled
    # The class still shows what it overrides (test_fuzz's implemented_rpcs reads it).
    base = service_pb2_grpc.WorkflowServiceServicer
    assert WorkflowService.PollNexusTaskQueue is base.PollNexusTaskQueue
    operator = object.__new__(OperatorService)
    filled = unimplemented.fill(operator, operator_grpc.OperatorServiceServicer, "OperatorService")
    assert "ListClusters" not in filled and "AddOrUpdateRemoteCluster" in filled


def test_unimplemented_message_names_service_and_method() -> None:
    assert (
        unimplemented.message("WorkflowService", "PauseActivity")
        == "Method WorkflowService/PauseActivity is not implemented"
    )
