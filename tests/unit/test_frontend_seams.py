"""The frontend sees history, matching and the store only through Protocols: it runs on
fakes, and its modules import no engine and no `history.api`."""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    ResetStickyTaskQueueRequest,
    RespondActivityTaskCompletedByIdRequest,
    RespondActivityTaskCompletedRequest,
    SignalWorkflowExecutionRequest,
)

import pytemporal.frontend
from pytemporal.common.errors import NotFound
from pytemporal.frontend.workflow_service import FrontendLimits, WorkflowService
from pytemporal.history.public import ActivityById
from pytemporal.history.tokens import TaskToken
from pytemporal.namespaces import Namespace, NamespaceRegistry

RUN = "0c6f6a3e-4d9b-4c1e-9a57-3f2b1d0e8a11"
TOKEN = TaskToken("ns-id", "wf", RUN, scheduled_event_id=5, attempt=1).encode()
FRONTEND = pathlib.Path(pytemporal.frontend.__file__).parent
FORBIDDEN = ("pytemporal.history.engine", "pytemporal.history.api")


def test_frontend_imports_no_engine_and_no_history_api() -> None:
    for path in sorted(FRONTEND.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


@dataclass
class CurrentRun:
    run_id: str


class Recorder:
    """Every Protocol at once: records each call, answers what `answers` holds."""

    def __init__(self, **answers: Any) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answers = answers

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args + tuple(kwargs.values())))
            answer = self.answers.get(name)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


class Aborted(Exception):
    pass


class Context:
    def time_remaining(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[()]:
        return ()

    async def abort(self, code: grpc.StatusCode, message: str, **details: Any) -> None:
        raise Aborted(code, message)


def service(history: Recorder) -> WorkflowService:
    namespaces = NamespaceRegistry(None)  # type: ignore[arg-type]
    namespaces._remember(Namespace(id="ns-id", name="default"))
    return WorkflowService(
        namespaces,
        lifecycle=history,
        reads=history,
        tasks=history,
        routes=history,
        matching=history,
        runs=history,
        visibility=history,
        limits=FrontendLimits(blob_size=1024, history_long_poll=20.0),
    )


async def test_a_call_without_run_id_goes_to_the_current_run() -> None:
    history = Recorder(get_current_run=CurrentRun("run-2"))
    req = SignalWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id="wf"),
        signal_name="go",
    )
    await service(history).SignalWorkflowExecution(req, Context())
    assert history.calls == [
        ("get_current_run", ("ns-id", "wf")),
        ("signal", (("ns-id", "wf", "run-2"), req)),
    ]


async def test_reset_sticky_and_activity_refs() -> None:
    history = Recorder()
    svc = service(history)
    execution = WorkflowExecution(workflow_id="wf", run_id=RUN)
    await svc.ResetStickyTaskQueue(
        ResetStickyTaskQueueRequest(namespace="default", execution=execution), Context()
    )
    result = Payloads()
    await svc.RespondActivityTaskCompleted(
        RespondActivityTaskCompletedRequest(
            namespace="default", task_token=TOKEN, result=result, identity="w"
        ),
        Context(),
    )
    await svc.RespondActivityTaskCompletedById(
        RespondActivityTaskCompletedByIdRequest(
            namespace="default", workflow_id="wf", run_id=RUN, activity_id="a1"
        ),
        Context(),
    )
    key = ("ns-id", "wf", RUN)
    assert history.calls == [
        ("reset_sticky", (key,)),
        ("complete_activity", (TOKEN, result, "w")),
        ("complete_activity", (ActivityById(key, "a1"), None, "")),
    ]


async def test_a_domain_error_from_history_becomes_its_status() -> None:
    history = Recorder(reset_sticky=NotFound("workflow execution already completed"))
    req = ResetStickyTaskQueueRequest(
        namespace="default", execution=WorkflowExecution(workflow_id="wf", run_id=RUN)
    )
    with pytest.raises(Aborted) as raised:
        await service(history).ResetStickyTaskQueue(req, Context())
    assert raised.value.args == (
        grpc.StatusCode.NOT_FOUND,
        "workflow execution already completed",
    )


async def test_a_token_from_another_namespace_is_refused_before_history() -> None:
    history = Recorder()
    svc = service(history)
    svc.namespaces._remember(Namespace(id="other-id", name="other"))
    req = RespondActivityTaskCompletedRequest(namespace="other", task_token=TOKEN)
    with pytest.raises(Aborted) as raised:
        await svc.RespondActivityTaskCompleted(req, Context())
    assert raised.value.args == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Operation requested with a token from a different namespace.",
    )
    assert history.calls == []


async def test_a_run_id_that_is_no_uuid_is_invalid() -> None:
    history = Recorder()
    req = ResetStickyTaskQueueRequest(
        namespace="default", execution=WorkflowExecution(workflow_id="wf", run_id="run-1")
    )
    with pytest.raises(Aborted) as raised:
        await service(history).ResetStickyTaskQueue(req, Context())
    assert raised.value.args == (grpc.StatusCode.INVALID_ARGUMENT, "Invalid RunId.")
    assert history.calls == []
