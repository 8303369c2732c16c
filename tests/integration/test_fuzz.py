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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import (
    WorkflowExecution,
)
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import request_response_pb2 as orr
from temporalio.api.operatorservice.v1 import service_pb2 as osvc_pb
from temporalio.api.operatorservice.v1 import service_pb2_grpc as osvc
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr
from temporalio.api.workflowservice.v1 import service_pb2_grpc as wsvc

from pytemporal.frontend.operator_service import OperatorService
from pytemporal.frontend.workflow_service import WorkflowService

from .fuzz import Mutator
from .fuzz_requests import (
    ACTIVITY_SLOTS,
    FUZZ_NS,
    OTHER_NS,
    Handles,
    commands,
    duration,
    start_request,
    templates,
)
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
SHORT = 0.5  # seconds: the deadline of calls that may wait (long polls)
LONG = 30.0  # seconds: any other call that takes longer has hung
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
    "PollActivityExecution",
    "DescribeActivityExecution",
}

# Findings to tolerate while a fix is in flight: (rpc or "*", regex over the finding).
# Empty: every finding fails the test.
PENDING_ELSEWHERE: list[tuple[str, str]] = []


OPERATOR_RPCS = frozenset(osvc_pb.DESCRIPTOR.services_by_name["OperatorService"].methods_by_name)


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


# -- the server, the workflows that must survive, the handles -------------------------


@dataclass
class Target:
    server: ServerProcess
    channel: grpc.aio.Channel
    workflow: wsvc.WorkflowServiceStub
    operator: osvc.OperatorServiceStub

    def method(self, rpc: str) -> Callable[..., Any]:
        stub = self.operator if rpc in OPERATOR_RPCS else None
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
                namespace=ns, workflow_execution_retention_period=duration(86400)
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
            limited(w.StartWorkflowExecution(start_request(h), timeout=LONG))
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
                    commands=commands(h, activities=ACTIVITY_SLOTS),
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
