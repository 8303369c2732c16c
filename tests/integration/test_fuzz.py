"""Bounded fuzz of every implemented WorkflowService and OperatorService RPC.

A dev server on a SQLite file gets, per RPC, valid requests mutated at random by
`fuzz.Mutator` from a fixed seed (PYTEMPORAL_FUZZ_SEED, PYTEMPORAL_FUZZ_ROUNDS to
change). Every answer must be OK or a status a client is told about:

* INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION: the request is
  wrong, or names something missing / in the wrong state (Temporal's own codes);
* RESOURCE_EXHAUSTED: over a size or rate limit;
* PERMISSION_DENIED: e.g. an operation on a namespace the call may not touch;
* UNIMPLEMENTED: an RPC variant or feature turned off (as Temporal does);
* DEADLINE_EXCEEDED: only for long polls and calls that wait on a worker (polls,
  queries, updates, history long-polls), which the fuzz gives a short deadline.

Never INTERNAL or UNKNOWN (a server bug on client input), never UNAVAILABLE or
CANCELLED (the server went away). Afterwards the process is alive and answers, the
histories of the workflows run before the fuzz (in a namespace the fuzz never names)
are byte-identical, and every workflow the fuzz created can still be described and
read.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from temporalio.api.command.v1 import (
    Command,
    RecordMarkerCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
    UpsertWorkflowSearchAttributesCommandAttributes,
)
from temporalio.api.common.v1 import (
    ActivityType,
    Header,
    Memo,
    Payload,
    Payloads,
    RetryPolicy,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.enums.v1 import CommandType, EventType, IndexedValueType, QueryResultType
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.filter.v1 import StartTimeFilter, WorkflowExecutionFilter
from temporalio.api.operatorservice.v1 import request_response_pb2 as orr
from temporalio.api.operatorservice.v1 import service_pb2_grpc as osvc
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import Input, Meta, UpdateRef, WaitPolicy
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr
from temporalio.api.workflowservice.v1 import service_pb2_grpc as wsvc

from pytemporal.frontend.operator_service import OperatorService
from pytemporal.frontend.workflow_service import WorkflowService

from .fuzz import Mutator
from .harness import (
    PYTEMPORAL,
    ServerProcess,
    is_pytemporal,
    running_worker,
    selected_server_kinds,
    wait_for,
)
from .workflows import (
    ApprovalWorkflow,
    Decision,
    HelloWorkflow,
    MultiStepWorkflow,
    StepActivities,
)

SEED = int(os.environ.get("PYTEMPORAL_FUZZ_SEED", "20261206"))
ROUNDS = int(os.environ.get("PYTEMPORAL_FUZZ_ROUNDS", "40"))  # mutated requests per RPC
CONCURRENCY = 8
ACTIVITY_SLOTS = 7  # activity RPCs that consume a task: 3 by token, 3 by id, 1 spare
SHORT = 0.5  # seconds: the deadline of calls that may wait (long polls)
LONG = 30.0  # seconds: any other call that takes longer has hung
FUZZ_NS, OTHER_NS = "fuzz", "fuzz-other"
T = TypeVar("T")

ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNIMPLEMENTED,
}
READ_BACK_ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
}
WAITING_RPCS = {
    "PollWorkflowTaskQueue",
    "PollActivityTaskQueue",
    "PollWorkflowExecutionUpdate",
    "UpdateWorkflowExecution",
    "ExecuteMultiOperation",
    "QueryWorkflow",
    "GetWorkflowExecutionHistory",
}

# Findings owned by the concurrent `validation` branch (duration validation, command
# attribute validation, task-token namespace isolation, Describe's timeout overflow):
# tolerated here, listed in the test output, to be deleted once that branch is merged.
PENDING_ELSEWHERE: list[tuple[str, str]] = [
    # Timeouts, retry intervals and start delays of 10^15 s (past Duration's maximum),
    # negative, or of the largest Duration (past year 9999 once added to now; Go's
    # time.Duration saturates at 292 years) are stored, then Start, Describe and every
    # List of the namespace fail converting them to a Timestamp.
    ("*", r"Duration\((-?315576000000|1000000000000000|-\d+)s"),
    # A command of an unknown type, or without the attributes of its type.
    ("RespondWorkflowTaskCompleted", r"commands(\[\d+\]\.(command_type|\w+_attributes)|: )"),
]


def implemented_rpcs() -> dict[str, list[str]]:
    """The RPCs our services override (the generated base answers UNIMPLEMENTED)."""
    out: dict[str, list[str]] = {}
    for cls, base in (
        (WorkflowService, wsvc.WorkflowServiceServicer),
        (OperatorService, osvc.OperatorServiceServicer),
    ):
        out[cls.__name__] = sorted(
            n for n in dir(base) if n[:1].isupper() and getattr(cls, n) is not getattr(base, n)
        )
    return out


# -- the valid requests the mutations start from --------------------------------------


@dataclass
class Handles:
    """Real handles in the fuzz namespace, so mutations start from requests that work."""

    workflow_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    workflow_tokens: list[bytes] = field(default_factory=list)
    activity_tokens: list[bytes] = field(default_factory=list)
    activity_ids: list[tuple[str, str, str]] = field(default_factory=list)  # wf, run, act
    task_queue: str = "fuzz-tq"
    activity_queue: str = "fuzz-atq"


def _payloads(*values: bytes) -> Payloads:
    return Payloads(
        payloads=[Payload(metadata={"encoding": b"json/plain"}, data=v) for v in values]
    )


def _duration(seconds: int) -> Duration:
    return Duration(seconds=seconds)


def _failure() -> Failure:
    return Failure(
        message="boom",
        application_failure_info=ApplicationFailureInfo(type="Fuzz", non_retryable=True),
    )


def _commands(h: Handles, activities: int = 1) -> list[Command]:
    return [
        Command(
            command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
            schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
                activity_id=f"act-{uuid.uuid4()}",
                activity_type=ActivityType(name="fuzz_activity"),
                task_queue=TaskQueue(name=h.activity_queue),
                input=_payloads(b'"in"'),
                start_to_close_timeout=_duration(60),
                retry_policy=RetryPolicy(initial_interval=_duration(1), maximum_attempts=3),
            ),
        )
        for _ in range(activities)
    ] + [
        Command(
            command_type=CommandType.COMMAND_TYPE_START_TIMER,
            start_timer_command_attributes=StartTimerCommandAttributes(
                timer_id=f"t-{uuid.uuid4()}", start_to_fire_timeout=_duration(3600)
            ),
        ),
        Command(
            command_type=CommandType.COMMAND_TYPE_RECORD_MARKER,
            record_marker_command_attributes=RecordMarkerCommandAttributes(
                marker_name="fuzz", details={"d": _payloads(b"1")}
            ),
        ),
        Command(
            command_type=CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
            upsert_workflow_search_attributes_command_attributes=(
                UpsertWorkflowSearchAttributesCommandAttributes(
                    search_attributes=SearchAttributes(
                        indexed_fields={"FuzzKeyword": Payload(
                            metadata={"encoding": b"json/plain"}, data=b'"k"'
                        )}
                    )
                )
            ),
        ),
    ]  # fmt: skip


def _start(h: Handles, ns: str = FUZZ_NS) -> rr.StartWorkflowExecutionRequest:
    return rr.StartWorkflowExecutionRequest(
        namespace=ns,
        workflow_id=f"fuzz-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="FuzzWorkflow"),
        task_queue=TaskQueue(name=h.task_queue),
        input=_payloads(b'"x"'),
        workflow_execution_timeout=_duration(7200),
        workflow_run_timeout=_duration(3600),
        workflow_task_timeout=_duration(10),
        identity="fuzzer",
        request_id=str(uuid.uuid4()),
        retry_policy=RetryPolicy(initial_interval=_duration(1), backoff_coefficient=2.0),
        memo=Memo(fields={"m": Payload(metadata={"encoding": b"json/plain"}, data=b"1")}),
        header=Header(fields={"h": Payload(metadata={"encoding": b"json/plain"}, data=b"1")}),
        search_attributes=SearchAttributes(
            indexed_fields={"FuzzKeyword": Payload(
                metadata={"encoding": b"json/plain"}, data=b'"v"'
            )}
        ),
    )  # fmt: skip


def _update(h: Handles, i: int) -> rr.UpdateWorkflowExecutionRequest:
    return rr.UpdateWorkflowExecutionRequest(
        namespace=FUZZ_NS,
        workflow_execution=WorkflowExecution(workflow_id=h.workflow_ids[i % 2]),
        wait_policy=WaitPolicy(lifecycle_stage=2),
        request=UpdateRequest(
            meta=Meta(update_id=f"u-{i}", identity="fuzzer"),
            input=Input(name="fuzz_update", args=_payloads(b"1")),
        ),
    )


def templates(h: Handles) -> dict[str, Callable[[int], Message]]:
    """A valid request per RPC (`i` varies ids so that not all collide)."""
    wf = lambda i: h.workflow_ids[i % len(h.workflow_ids)]  # noqa: E731
    execution = lambda i: WorkflowExecution(workflow_id=wf(i))  # noqa: E731
    # Slots: which of a round's tasks an RPC consumes (see _handles).
    wtok = lambda i, slot: h.workflow_tokens[(2 * i + slot) % len(h.workflow_tokens)]  # noqa: E731
    atok = lambda i, slot: h.activity_tokens[(ACTIVITY_SLOTS * i + slot) % len(h.activity_tokens)]  # noqa: E731
    act = lambda i, slot: h.activity_ids[(ACTIVITY_SLOTS * i + slot) % len(h.activity_ids)]  # noqa: E731
    tq = TaskQueue(name=h.task_queue)
    return {
        "GetSystemInfo": lambda i: rr.GetSystemInfoRequest(),
        "DescribeNamespace": lambda i: rr.DescribeNamespaceRequest(namespace=FUZZ_NS),
        "ListNamespaces": lambda i: rr.ListNamespacesRequest(page_size=10),
        "RegisterNamespace": lambda i: rr.RegisterNamespaceRequest(
            namespace=f"fuzz-new-{i}",
            description="d",
            owner_email="a@b.c",
            workflow_execution_retention_period=_duration(86400),
        ),
        "StartWorkflowExecution": lambda i: _start(h),
        "SignalWithStartWorkflowExecution": lambda i: rr.SignalWithStartWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_id=f"fuzz-sws-{i}",
            workflow_type=WorkflowType(name="FuzzWorkflow"),
            task_queue=tq,
            input=_payloads(b"1"),
            workflow_run_timeout=_duration(3600),
            request_id=str(uuid.uuid4()),
            signal_name="sig",
            signal_input=_payloads(b"1"),
            workflow_start_delay=_duration(1),
        ),
        "SignalWorkflowExecution": lambda i: rr.SignalWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=execution(i),
            signal_name="sig",
            input=_payloads(b"1"),
            request_id=str(uuid.uuid4()),
        ),
        "RequestCancelWorkflowExecution": lambda i: rr.RequestCancelWorkflowExecutionRequest(
            namespace=FUZZ_NS, workflow_execution=execution(i), reason="fuzz"
        ),
        "TerminateWorkflowExecution": lambda i: rr.TerminateWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=WorkflowExecution(workflow_id=f"fuzz-sws-{i}"),
            reason="fuzz",
            details=_payloads(b"1"),
        ),
        "GetWorkflowExecutionHistory": lambda i: rr.GetWorkflowExecutionHistoryRequest(
            namespace=FUZZ_NS, execution=execution(i), maximum_page_size=5
        ),
        "DescribeWorkflowExecution": lambda i: rr.DescribeWorkflowExecutionRequest(
            namespace=FUZZ_NS, execution=execution(i)
        ),
        "QueryWorkflow": lambda i: rr.QueryWorkflowRequest(
            namespace=FUZZ_NS,
            execution=execution(i),
            query=WorkflowQuery(query_type="q", query_args=_payloads(b"1")),
        ),
        "UpdateWorkflowExecution": lambda i: _update(h, i),
        "PollWorkflowExecutionUpdate": lambda i: rr.PollWorkflowExecutionUpdateRequest(
            namespace=FUZZ_NS,
            update_ref=UpdateRef(workflow_execution=execution(i), update_id=f"u-{i}"),
            wait_policy=WaitPolicy(lifecycle_stage=2),
        ),
        "ResetWorkflowExecution": lambda i: rr.ResetWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=WorkflowExecution(workflow_id=wf(i), run_id=h.run_ids[0]),
            workflow_task_finish_event_id=4,
            reason="fuzz",
            request_id=str(uuid.uuid4()),
        ),
        "ExecuteMultiOperation": lambda i: rr.ExecuteMultiOperationRequest(
            namespace=FUZZ_NS,
            operations=[
                rr.ExecuteMultiOperationRequest.Operation(start_workflow=_start(h)),
                rr.ExecuteMultiOperationRequest.Operation(update_workflow=_update(h, i)),
            ],
        ),
        "PollWorkflowTaskQueue": lambda i: rr.PollWorkflowTaskQueueRequest(
            namespace=FUZZ_NS, task_queue=tq, identity="fuzzer"
        ),
        "RespondWorkflowTaskCompleted": lambda i: rr.RespondWorkflowTaskCompletedRequest(
            namespace=FUZZ_NS, task_token=wtok(i, 0), commands=_commands(h), identity="fuzzer"
        ),
        "RespondWorkflowTaskFailed": lambda i: rr.RespondWorkflowTaskFailedRequest(
            namespace=FUZZ_NS, task_token=wtok(i, 1), cause=1, failure=_failure()
        ),
        "RespondQueryTaskCompleted": lambda i: rr.RespondQueryTaskCompletedRequest(
            namespace=FUZZ_NS,
            task_token=wtok(i, 0),
            completed_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
            query_result=_payloads(b"1"),
        ),
        "ResetStickyTaskQueue": lambda i: rr.ResetStickyTaskQueueRequest(
            namespace=FUZZ_NS, execution=execution(i)
        ),
        "ShutdownWorker": lambda i: rr.ShutdownWorkerRequest(
            namespace=FUZZ_NS, sticky_task_queue=f"sticky-{i}", identity="fuzzer"
        ),
        "PollActivityTaskQueue": lambda i: rr.PollActivityTaskQueueRequest(
            namespace=FUZZ_NS, task_queue=TaskQueue(name=h.activity_queue), identity="fuzzer"
        ),
        "RecordActivityTaskHeartbeat": lambda i: rr.RecordActivityTaskHeartbeatRequest(
            namespace=FUZZ_NS, task_token=atok(i, 0), details=_payloads(b"1")
        ),
        "RecordActivityTaskHeartbeatById": lambda i: rr.RecordActivityTaskHeartbeatByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 0)[0],
            run_id=act(i, 0)[1],
            activity_id=act(i, 0)[2],
            details=_payloads(b"1"),
        ),
        "RespondActivityTaskCompleted": lambda i: rr.RespondActivityTaskCompletedRequest(
            namespace=FUZZ_NS, task_token=atok(i, 1), result=_payloads(b"1")
        ),
        "RespondActivityTaskCompletedById": lambda i: rr.RespondActivityTaskCompletedByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 4)[0],
            run_id=act(i, 4)[1],
            activity_id=act(i, 4)[2],
            result=_payloads(b"1"),
        ),
        "RespondActivityTaskFailed": lambda i: rr.RespondActivityTaskFailedRequest(
            namespace=FUZZ_NS, task_token=atok(i, 2), failure=_failure()
        ),
        "RespondActivityTaskFailedById": lambda i: rr.RespondActivityTaskFailedByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 5)[0],
            run_id=act(i, 5)[1],
            activity_id=act(i, 5)[2],
            failure=_failure(),
        ),
        "RespondActivityTaskCanceled": lambda i: rr.RespondActivityTaskCanceledRequest(
            namespace=FUZZ_NS, task_token=atok(i, 3), details=_payloads(b"1")
        ),
        "RespondActivityTaskCanceledById": lambda i: rr.RespondActivityTaskCanceledByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
            details=_payloads(b"1"),
        ),
        "ListWorkflowExecutions": lambda i: rr.ListWorkflowExecutionsRequest(
            namespace=FUZZ_NS, page_size=5, query="WorkflowType = 'FuzzWorkflow'"
        ),
        "ScanWorkflowExecutions": lambda i: rr.ScanWorkflowExecutionsRequest(
            namespace=FUZZ_NS, page_size=5, query="ExecutionStatus = 'Running'"
        ),
        "CountWorkflowExecutions": lambda i: rr.CountWorkflowExecutionsRequest(
            namespace=FUZZ_NS, query="GROUP BY ExecutionStatus"
        ),
        "ListOpenWorkflowExecutions": lambda i: rr.ListOpenWorkflowExecutionsRequest(
            namespace=FUZZ_NS,
            maximum_page_size=5,
            start_time_filter=StartTimeFilter(),
            execution_filter=WorkflowExecutionFilter(workflow_id=wf(i)),
        ),
        "ListClosedWorkflowExecutions": lambda i: rr.ListClosedWorkflowExecutionsRequest(
            namespace=FUZZ_NS, maximum_page_size=5, start_time_filter=StartTimeFilter()
        ),
        "ListSearchAttributes": lambda i: orr.ListSearchAttributesRequest(namespace=FUZZ_NS),
        "AddSearchAttributes": lambda i: orr.AddSearchAttributesRequest(
            namespace=FUZZ_NS,
            search_attributes={f"FuzzAttr{i}": IndexedValueType.INDEXED_VALUE_TYPE_INT},
        ),
    }


# -- the server, the workflows that must survive, the handles -------------------------


@dataclass
class Target:
    server: ServerProcess
    channel: grpc.aio.Channel
    workflow: wsvc.WorkflowServiceStub
    operator: osvc.OperatorServiceStub

    def method(self, rpc: str) -> Callable[..., Any]:
        stub = self.operator if rpc in ("ListSearchAttributes", "AddSearchAttributes") else None
        return getattr(stub or self.workflow, rpc)


def _fuzzed_kinds() -> list[str]:
    """The dev server on SQLite, and `server start` on PostgreSQL (whose text type
    refuses what SQLite stores) when the suite runs it; PYTEMPORAL_FUZZ_SERVER picks one."""
    chosen = os.environ.get("PYTEMPORAL_FUZZ_SERVER")
    if chosen:
        return [chosen]
    return [k for k in selected_server_kinds() if is_pytemporal(k)] or [PYTEMPORAL]


@pytest.fixture(params=_fuzzed_kinds())
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    kind = str(request.param)
    db = str(tmp_path / "fuzz.db") if kind == PYTEMPORAL else None
    server = ServerProcess(kind, db_filename=db)
    await server.start()
    print(f"\nfuzz server log: {server.log_path}")
    # No client-side size cap: the server's limits are what is under test.
    channel = grpc.aio.insecure_channel(
        server.target,
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    try:
        yield Target(
            server, channel, wsvc.WorkflowServiceStub(channel), osvc.OperatorServiceStub(channel)
        )
    finally:
        await channel.close()
        server.terminate(timeout=5)


async def _survivors(server: ServerProcess) -> list[str]:
    """Workflows run with the SDK in `default` before the fuzz: done and still open."""
    client = await server.connect()
    tq = "survivors"
    ids = []
    async with running_worker(
        client,
        tq,
        workflows=[HelloWorkflow, ApprovalWorkflow, MultiStepWorkflow],
        activities=[StepActivities().step],
    ):
        done = await client.start_workflow(HelloWorkflow.run, "x", id="pre-hello", task_queue=tq)
        await done.result()
        steps = await client.start_workflow(
            MultiStepWorkflow.run, 0.0, id="pre-steps", task_queue=tq
        )
        await steps.result()
        approved = await client.start_workflow(
            ApprovalWorkflow.run, 3600.0, id="pre-approved", task_queue=tq
        )
        await approved.signal(ApprovalWorkflow.decide, Decision(True, "ann"))
        await approved.result()
        waiting = await client.start_workflow(
            ApprovalWorkflow.run, 3600.0, id="pre-waiting", task_queue=tq
        )
        in_timer = await client.start_workflow(
            MultiStepWorkflow.run, 3600.0, id="pre-in-timer", task_queue=tq
        )

        async def settled() -> bool:
            descs = [await h.describe() for h in (waiting, in_timer)]
            history = await in_timer.fetch_history()
            timer = any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events)
            return timer and all(
                d.raw_description.pending_workflow_task.ByteSize() == 0 for d in descs
            )

        await wait_for(settled, within=30, message="survivors settled")
        ids = ["pre-hello", "pre-steps", "pre-approved", "pre-waiting", "pre-in-timer"]
    return ids


async def _histories(t: Target, ids: list[str]) -> dict[str, bytes]:
    out = {}
    for wf in ids:
        resp = await t.workflow.GetWorkflowExecutionHistory(
            rr.GetWorkflowExecutionHistoryRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=wf)
            ),
            timeout=LONG,
        )
        assert not resp.next_page_token
        out[wf] = resp.history.SerializeToString(deterministic=True)
    return out


async def _handles(t: Target, rounds: int) -> Handles:
    """Workflows in the fuzz namespace with started workflow and activity tasks."""
    w = t.workflow
    for ns in (FUZZ_NS, OTHER_NS):
        await w.RegisterNamespace(
            rr.RegisterNamespaceRequest(
                namespace=ns, workflow_execution_retention_period=_duration(86400)
            ),
            timeout=LONG,
        )
    await t.operator.AddSearchAttributes(
        orr.AddSearchAttributesRequest(
            namespace=FUZZ_NS,
            search_attributes={"FuzzKeyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        ),
        timeout=LONG,
    )
    h = Handles()
    sem = asyncio.Semaphore(CONCURRENCY)

    async def limited(coro: Awaitable[T]) -> T:
        async with sem:
            return await coro

    # Each round of an RPC that consumes a task gets a fresh one: per round, one host
    # workflow with an activity per activity RPC, and two with a started workflow task.
    hosts, waiting = rounds, 2 * rounds
    await asyncio.gather(
        *(
            limited(w.StartWorkflowExecution(_start(h), timeout=LONG))
            for _ in range(hosts + waiting)
        )
    )
    poll = rr.PollWorkflowTaskQueueRequest(
        namespace=FUZZ_NS, task_queue=TaskQueue(name=h.task_queue), identity="setup"
    )
    tasks = await asyncio.gather(
        *(limited(w.PollWorkflowTaskQueue(poll, timeout=LONG)) for _ in range(hosts + waiting))
    )
    assert all(task.task_token for task in tasks), "a workflow task was not delivered"
    h.workflow_ids = [task.workflow_execution.workflow_id for task in tasks]
    h.run_ids = [task.workflow_execution.run_id for task in tasks]
    h.workflow_tokens = [task.task_token for task in tasks[hosts:]]
    await asyncio.gather(
        *(
            limited(w.RespondWorkflowTaskCompleted(
                rr.RespondWorkflowTaskCompletedRequest(
                    namespace=FUZZ_NS,
                    task_token=task.task_token,
                    commands=_commands(h, activities=ACTIVITY_SLOTS),
                ),
                timeout=LONG,
            ))
            for task in tasks[:hosts]
        )
    )  # fmt: skip
    apoll = rr.PollActivityTaskQueueRequest(
        namespace=FUZZ_NS, task_queue=TaskQueue(name=h.activity_queue)
    )
    activities = await asyncio.gather(
        *(
            limited(w.PollActivityTaskQueue(apoll, timeout=LONG))
            for _ in range(hosts * ACTIVITY_SLOTS)
        )
    )
    for a in activities:
        assert a.task_token, "an activity task was not delivered"
        h.activity_tokens.append(a.task_token)
        h.activity_ids.append(
            (a.workflow_execution.workflow_id, a.workflow_execution.run_id, a.activity_id)
        )
    return h


# -- the fuzz ----------------------------------------------------------------------------


@dataclass
class Finding:
    rpc: str
    round: int
    mutations: list[str]
    code: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.rpc} round {self.round} [{'; '.join(self.mutations)}]:"
            f" {self.code} {self.message[:300]!r}"
        )


async def _call(t: Target, rpc: str, request: Message) -> tuple[grpc.StatusCode, str]:
    timeout = SHORT if rpc in WAITING_RPCS else LONG
    try:
        await t.method(rpc)(request, timeout=timeout)
        return grpc.StatusCode.OK, ""
    except grpc.aio.AioRpcError as e:
        return e.code(), e.details() or ""


_SUSPECT_DURATION = re.compile(r"Duration\(-?(1000000000000000|315576000000)s")


async def _read_back(
    t: Target,
    plan: list[tuple[str, int, Message, list[str]]],
    findings: list[Finding],
    sem: asyncio.Semaphore,
) -> None:
    """List both namespaces, and describe and read the history of every workflow id
    the fuzz sent: each answer OK or NOT_FOUND (the start was refused)."""
    origins: dict[str, list[str]] = {}
    for rpc, round_, request, mutations in plan:
        for wf_id in _workflow_ids(request):
            origins.setdefault(wf_id, []).append(f"{rpc} round {round_}: {'; '.join(mutations)}")
    # Which stored values a failure could come from, for the report.
    huge = [o for os_ in origins.values() for o in os_ if _SUSPECT_DURATION.search(o)]
    for ns in (FUZZ_NS, OTHER_NS):
        for rpc, request in (
            ("ListWorkflowExecutions", rr.ListWorkflowExecutionsRequest(namespace=ns, page_size=1000)),
            ("CountWorkflowExecutions", rr.CountWorkflowExecutionsRequest(namespace=ns)),
        ):  # fmt: skip
            code, message = await _call(t, rpc, request)
            if code != grpc.StatusCode.OK:
                findings.append(
                    Finding(rpc, -1, [f"list {ns} after the fuzz", *huge], code.name, message)
                )

    async def one(ns: str, wf_id: str, rpc: str, request: Message) -> None:
        async with sem:
            code, message = await _call(t, rpc, request)
        # INVALID_ARGUMENT: the fuzz's id itself is invalid (too long, say).
        if code not in READ_BACK_ALLOWED:
            origin = [f"read back {wf_id!r:.60} in {ns}", *origins[wf_id]]
            findings.append(Finding(rpc, -1, origin, code.name, message))

    calls = []
    for wf_id in origins:
        for ns in (FUZZ_NS, OTHER_NS):
            execution = WorkflowExecution(workflow_id=wf_id)
            calls += [
                one(ns, wf_id, "DescribeWorkflowExecution", rr.DescribeWorkflowExecutionRequest(
                    namespace=ns, execution=execution
                )),
                one(ns, wf_id, "GetWorkflowExecutionHistory", rr.GetWorkflowExecutionHistoryRequest(
                    namespace=ns, execution=execution
                )),
            ]  # fmt: skip
    await asyncio.gather(*calls)


def _workflow_ids(msg: Message) -> set[str]:
    out: set[str] = set()
    for f, value in msg.ListFields():
        if f.name == "workflow_id" and isinstance(value, str) and value:
            out.add(value)
        elif f.type == f.TYPE_MESSAGE and not f.message_type.GetOptions().map_entry:
            for item in value if f.is_repeated else [value]:
                out |= _workflow_ids(item)
    return out


def _pending_elsewhere(f: Finding) -> bool:
    return f.code == "INTERNAL" and any(
        rpc in ("*", f.rpc) and re.search(pattern, str(f)) for rpc, pattern in PENDING_ELSEWHERE
    )


async def test_fuzz_every_rpc(target: Target) -> None:
    t0 = time.monotonic()
    survivors = await _survivors(target.server)
    before = await _histories(target, survivors)
    h = await _handles(target, ROUNDS)
    requests = templates(h)
    implemented = implemented_rpcs()
    assert sorted(requests) == sorted(
        implemented["WorkflowService"] + implemented["OperatorService"]
    )

    tokens = h.workflow_tokens + h.activity_tokens
    mutator = Mutator(SEED, namespaces=[FUZZ_NS, OTHER_NS], tokens=tokens)
    plan: list[tuple[str, int, Message, list[str]]] = []
    for rpc in sorted(requests):
        for round_ in range(ROUNDS):
            request = requests[rpc](round_)
            mutations = mutator.mutate(request) if round_ else ["(unmutated)"]
            plan.append((rpc, round_, request, mutations))

    findings: list[Finding] = []
    codes: dict[str, int] = {}
    by_rpc: dict[str, dict[str, int]] = {}
    sem = asyncio.Semaphore(CONCURRENCY)

    async def run(rpc: str, round_: int, request: Message, mutations: list[str]) -> None:
        async with sem:
            code, message = await _call(target, rpc, request)
        codes[code.name] = codes.get(code.name, 0) + 1
        per = by_rpc.setdefault(rpc, {})
        per[code.name] = per.get(code.name, 0) + 1
        ok = code in ALLOWED or (code == grpc.StatusCode.DEADLINE_EXCEEDED and rpc in WAITING_RPCS)
        if not ok:
            findings.append(Finding(rpc, round_, mutations, code.name, message))

    await asyncio.gather(*(run(*p) for p in plan))
    fuzz_seconds = time.monotonic() - t0

    # The server is up and answers.
    assert target.server.is_running(), target.server.log_tail()
    await target.workflow.GetSystemInfo(rr.GetSystemInfoRequest(), timeout=LONG)
    # The workflows run before the fuzz are untouched.
    assert await _histories(target, survivors) == before
    # Whatever the fuzz stored can be read back.
    await _read_back(target, plan, findings, sem)

    pending = [f for f in findings if _pending_elsewhere(f)]
    bugs = [f for f in findings if not _pending_elsewhere(f)]
    print(
        f"\nfuzz {target.server.kind} seed={SEED} rounds={ROUNDS}:"
        f" {len(plan)} requests in {fuzz_seconds:.1f}s,"
        f" codes {dict(sorted(codes.items()))}"
    )
    for rpc, per in sorted(by_rpc.items()):
        print(f"  {rpc}: {dict(sorted(per.items()))}")
    for f in pending:
        print(f"pending elsewhere: {f}")
    assert not bugs, "\n".join(str(f) for f in bugs)
    crashes = _unanswered_tracebacks(target.server)
    assert not crashes, "\n\n".join(crashes)


_LOG_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2}T", re.MULTILINE)


def _unanswered_tracebacks(server: ServerProcess) -> list[str]:
    """Tracebacks the server logged other than for an RPC it answered INTERNAL (those
    are findings above): a background task failing on what the fuzz stored."""
    text = Path(server.log_path).read_text(errors="replace")
    starts = [m.start() for m in _LOG_RECORD.finditer(text)] + [len(text)]
    records = [text[a:b] for a, b in zip(starts, starts[1:], strict=False)]
    return [r[:3000] for r in records if "Traceback" in r and "internal error in " not in r]


def test_mutations_are_reproducible_from_the_seed() -> None:
    def run() -> list[str]:
        h = Handles(
            workflow_ids=["a", "b"],
            run_ids=["r"],
            workflow_tokens=[b"t"],
            activity_tokens=[b"u"],
            activity_ids=[("a", "r", "1")],
        )
        m = Mutator(7, namespaces=[FUZZ_NS])
        out = []
        for rpc, make in sorted(templates(h).items()):
            req = make(0)
            for key in ("request_id", "workflow_id", "activity_id", "timer_id"):
                _blank(req, key)
            out.append(f"{rpc} {m.mutate(req)} {req.SerializeToString(deterministic=True)!r}")
        return out

    assert run() == run()


def _blank(msg: Message, name: str) -> None:
    """Clear the random ids the templates draw (uuid4), recursively."""
    for f, value in msg.ListFields():
        if f.name == name and f.type == f.TYPE_STRING and not f.is_repeated:
            msg.ClearField(f.name)
        elif f.type == f.TYPE_MESSAGE:
            items = value if f.is_repeated else [value]
            if f.message_type.GetOptions().map_entry:
                items = list(value.values())
            for item in items:
                if isinstance(item, Message):
                    _blank(item, name)
