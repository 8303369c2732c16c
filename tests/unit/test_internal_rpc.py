"""The seams between roles: typed internal calls and the redirector.

A real gRPC server on a loopback port runs `InternalService` over a fake history
role; the remote clients call it. Values and domain errors must arrive as they left,
and local calls must not go through gRPC at all.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    HistoryEvent,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    StartWorkflowExecutionRequest,
)

from pytemporal.cluster.membership import LocalCluster
from pytemporal.common import errors
from pytemporal.history.api.start import ParentRef
from pytemporal.matching.client import LocalMatchingClient
from pytemporal.matching.queues import Matching, TaskRef
from pytemporal.proto.internal.v1 import internal_pb2 as pb
from pytemporal.rpc import codec
from pytemporal.rpc.auth import SECRET_HEADER, SecretInterceptor
from pytemporal.rpc.redirector import Moving, Redirector
from pytemporal.rpc.remote import Channels, RemoteHistoryClient, RemoteMatchingClient
from pytemporal.rpc.service import InternalService

KEY = ("ns-id", "wf", "run")
SOURCE = WorkflowExecution(workflow_id="src", run_id="src-run")
REF = TaskRef("workflow", "ns-id", "wf", "run", 5, 2, "tq", "", "req-1")


class FakeHistory:
    """Records what arrives; raises what the test asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.error: errors.ServiceError | None = None

    async def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.error is not None:
            raise self.error

    async def record_workflow_task_started(
        self, ref: TaskRef, request: PollWorkflowTaskQueueRequest
    ) -> PollWorkflowTaskQueueResponse | None:
        await self._record("wft", ref, request)
        if ref.scheduled_event_id == 0:
            return None
        return PollWorkflowTaskQueueResponse(task_token=b"token", attempt=ref.attempt)

    async def record_activity_task_started(
        self, ref: TaskRef, request: PollActivityTaskQueueRequest
    ) -> PollActivityTaskQueueResponse | None:
        await self._record("activity", ref, request)
        return PollActivityTaskQueueResponse(activity_id="a1")

    async def start_child(
        self, namespace: str, request: StartWorkflowExecutionRequest, parent: ParentRef
    ) -> str:
        await self._record("start_child", namespace, request, parent)
        return "child-run"

    async def notify_parent(
        self, parent: Any, initiated_event_id: int, first_run_id: str, close: HistoryEvent
    ) -> None:
        await self._record("notify_parent", parent, initiated_event_id, first_run_id, close)

    async def close_child(self, child: Any, policy: int, parent: WorkflowExecution) -> None:
        await self._record("close_child", child, policy, parent)

    async def signal_external(
        self,
        target: Any,
        source: WorkflowExecution,
        request_id: str,
        attributes: SignalExternalWorkflowExecutionInitiatedEventAttributes,
    ) -> bool:
        await self._record("signal", target, source, request_id, attributes)
        return True

    async def cancel_external(
        self, target: Any, source: WorkflowExecution, initiated_event_id: int, reason: str
    ) -> bool:
        await self._record("cancel", target, source, initiated_event_id, reason)
        return False


class Peer:
    def __init__(self, address: str, history: FakeHistory, accepted: asyncio.Queue[Any]) -> None:
        self.address = address
        self.history = history
        self.accepted = accepted


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    history = FakeHistory()
    accepted: asyncio.Queue[Any] = asyncio.Queue()
    service = InternalService(history, lambda *args: accepted.put_nowait(args))
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(service.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Peer(f"127.0.0.1:{port}", history, accepted)
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def channels() -> AsyncIterator[Channels]:
    ch = Channels()
    try:
        yield ch
    finally:
        await ch.close()


async def test_task_starts_travel_typed(peer: Peer, channels: Channels) -> None:
    remote = RemoteHistoryClient(channels, peer.address)
    poll = PollWorkflowTaskQueueRequest(namespace="ns", identity="worker-1")
    resp = await remote.record_workflow_task_started(REF, poll)
    assert resp == PollWorkflowTaskQueueResponse(task_token=b"token", attempt=2)
    assert peer.history.calls[-1] == ("wft", (REF, poll))
    stale = TaskRef("query", "ns-id", "wf", "run", query_id="q1")
    assert await remote.record_workflow_task_started(stale, poll) is None
    assert peer.history.calls[-1][1][0] == stale
    activity = TaskRef("activity", "ns-id", "wf", "run", 7, 1)
    got = await remote.record_activity_task_started(activity, PollActivityTaskQueueRequest())
    assert got == PollActivityTaskQueueResponse(activity_id="a1")


async def test_transfer_steps_travel_typed(peer: Peer, channels: Channels) -> None:
    remote = RemoteHistoryClient(channels, peer.address)
    req = StartWorkflowExecutionRequest(namespace="ns", workflow_id="child", request_id="r")
    parent = ParentRef("ns", "ns-id", SOURCE, 9, WorkflowExecution(workflow_id="root"))
    assert await remote.start_child("ns", req, parent) == "child-run"
    assert peer.history.calls[-1] == ("start_child", ("ns", req, parent))

    close = HistoryEvent(event_id=11)
    await remote.notify_parent(KEY, 9, "first", close)
    assert peer.history.calls[-1] == ("notify_parent", (KEY, 9, "first", close))

    await remote.close_child(KEY, 2, SOURCE)
    assert peer.history.calls[-1] == ("close_child", (KEY, 2, SOURCE))

    attrs = SignalExternalWorkflowExecutionInitiatedEventAttributes(
        signal_name="go", input=Payloads()
    )
    assert await remote.signal_external(KEY, SOURCE, "req", attrs) is True
    assert peer.history.calls[-1] == ("signal", (KEY, SOURCE, "req", attrs))

    assert await remote.cancel_external(KEY, SOURCE, 4, "why") is False
    assert peer.history.calls[-1] == ("cancel", (KEY, SOURCE, 4, "why"))


async def test_domain_errors_come_back_as_the_same_class(peer: Peer, channels: Channels) -> None:
    remote = RemoteHistoryClient(channels, peer.address)
    parent = ParentRef("ns", "ns-id", SOURCE, 9, SOURCE)
    peer.history.error = errors.WorkflowAlreadyStarted(
        "already started", start_request_id="r1", run_id="run1", first_execution_run_id="f1"
    )
    with pytest.raises(errors.WorkflowAlreadyStarted) as started:
        await remote.start_child("ns", StartWorkflowExecutionRequest(), parent)
    assert (started.value.message, started.value.start_request_id) == ("already started", "r1")
    assert (started.value.run_id, started.value.first_execution_run_id) == ("run1", "f1")

    peer.history.error = errors.ResourceExhausted("busy", cause=5, scope=1)
    with pytest.raises(errors.ResourceExhausted) as busy:
        await remote.close_child(KEY, 1, SOURCE)
    assert (busy.value.cause, busy.value.scope) == (5, 1)

    peer.history.error = errors.ShardOwnershipLost("fenced")
    with pytest.raises(errors.ShardOwnershipLost, match="fenced"):
        await remote.cancel_external(KEY, SOURCE, 1, "")


@pytest.mark.parametrize(
    "err",
    [
        errors.InvalidArgument("bad"),
        errors.NotFound("gone"),
        errors.NamespaceNotFound("nowhere"),
        errors.NamespaceAlreadyExists("twice"),
        errors.QueryFailed("query failed", Failure(message="boom")),
        errors.QueryFailed("no failure"),
        errors.WorkflowNotReady("not ready"),
        errors.FailedPrecondition("precondition"),
        errors.DeadlineExceeded("late"),
        errors.Unavailable("down"),
        errors.PermissionDenied("no"),
        errors.Unimplemented("later"),
        errors.PersistenceError("disk"),
        errors.ConditionFailed("raced"),
    ],
)
def test_every_error_class_round_trips(err: errors.ServiceError) -> None:
    back = codec.from_error(codec.error(err))
    assert type(back) is type(err)
    assert back.message == err.message
    if isinstance(err, errors.QueryFailed):
        assert isinstance(back, errors.QueryFailed)
        assert back.failure == err.failure
    if isinstance(err, errors.NamespaceNotFound):
        assert isinstance(back, errors.NamespaceNotFound)
        assert back.namespace == err.namespace


def test_an_unnamed_subclass_travels_as_its_named_base() -> None:
    class Elsewhere(errors.Unavailable):
        pass

    assert type(codec.from_error(codec.error(Elsewhere("x")))) is errors.Unavailable


async def test_a_hand_off_reaches_the_owner(peer: Peer, channels: Channels) -> None:
    RemoteMatchingClient(channels, peer.address).add_task(REF, "sticky-q", True, 2)
    got = await asyncio.wait_for(peer.accepted.get(), timeout=10)
    assert got == (REF, "sticky-q", True, 2)


async def test_an_unreachable_owner_is_unavailable(channels: Channels) -> None:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteHistoryClient(channels, f"127.0.0.1:{port}")
    with pytest.raises(errors.Unavailable, match="failed: UNAVAILABLE"):
        await remote.close_child(KEY, 1, SOURCE)


class Elsewhere(LocalCluster):
    """Owns nothing; shard 1 has an owner at `address`, shard 2 none."""

    def __init__(self, address: str) -> None:
        self.peer = address

    def workflow_shard(self, namespace_id: str, workflow_id: str) -> int:
        return 1 if workflow_id == "known" else 2

    def queue_shard(self, namespace_id: str, queue: str) -> int:
        return 1 if queue == "known" else 2

    def is_local(self, shard: int) -> bool:
        return False

    def owner(self, shard: int) -> str | None:
        return self.peer if shard == 1 else None


async def test_the_redirector_serves_here_in_process(channels: Channels) -> None:
    history, matching = FakeHistory(), LocalMatchingClient(Matching())
    redirector = Redirector(LocalCluster(), history, matching, channels)
    assert redirector.history("ns-id", "any") is history
    assert redirector.matching("ns-id", "any") is matching
    assert redirector.workflow_owner("ns-id", "any") is None
    assert redirector.queue_owner("ns-id", "any") is None


async def test_the_redirector_sends_elsewhere_or_says_moving(channels: Channels) -> None:
    redirector = Redirector(
        Elsewhere("10.0.0.1:7233"), FakeHistory(), LocalMatchingClient(Matching()), channels
    )
    remote = redirector.history("ns-id", "known")
    assert isinstance(remote, RemoteHistoryClient) and remote.address == "10.0.0.1:7233"
    assert redirector.history("ns-id", "known") is remote  # one client per peer
    queue = redirector.matching("ns-id", "known")
    assert isinstance(queue, RemoteMatchingClient) and queue.address == "10.0.0.1:7233"
    with pytest.raises(Moving):
        redirector.history("ns-id", "orphan")
    with pytest.raises(Moving):
        redirector.queue_owner("ns-id", "orphan")


def test_every_internal_rpc_has_a_handler() -> None:
    service = InternalService(FakeHistory(), lambda *args: None)
    assert len(service.handlers()) == 2


# -- the listener's guards ----------------------------------------------------------


class Crashing(FakeHistory):
    async def signal_external(self, *args: Any) -> bool:
        raise KeyError("secret internals")


async def _raw(address: str, path: str, body: bytes, metadata: Any = ()) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(address) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ch.unary_unary(path)(body, metadata=metadata, timeout=5)
    return caught.value


async def test_unparsable_requests_are_invalid_arguments(peer: Peer) -> None:
    err = await _raw(peer.address, "/pytemporal.internal.v1.HistoryService/StartChild", b"\xff")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "malformed pytemporal.internal.v1.StartChildRequest"
    assert peer.history.calls == []


async def test_unexpected_failures_say_nothing_of_the_exception() -> None:
    service = InternalService(Crashing(), lambda *args: None)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(service.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        body = codec_request_signal()
        err = await _raw(
            f"127.0.0.1:{port}", "/pytemporal.internal.v1.HistoryService/SignalExternal", body
        )
    finally:
        await server.stop(grace=None)
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == "pytemporal.internal.v1.SignalExternalRequest failed on the peer"


def codec_request_signal() -> bytes:
    return pb.SignalExternalRequest(
        target=codec.workflow_key(KEY), source=codec.execution(SOURCE)
    ).SerializeToString()


async def test_the_secret_interceptor_refuses_before_parsing() -> None:
    service = InternalService(FakeHistory(), lambda *args: None)
    server = grpc.aio.server(interceptors=[SecretInterceptor("k" * 16)])
    server.add_generic_rpc_handlers(service.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    path = "/pytemporal.internal.v1.HistoryService/StartChild"
    try:
        for metadata in ((), ((SECRET_HEADER, "k" * 15),), ((SECRET_HEADER, "K" * 16),)):
            err = await _raw(address, path, b"\xff", metadata)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        err = await _raw(address, path, b"\xff", ((SECRET_HEADER, "k" * 16),))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT  # let through, then parsed
    finally:
        await server.stop(grace=None)
