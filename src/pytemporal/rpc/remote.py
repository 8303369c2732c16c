"""Clients that reach history and matching on another process, by typed internal calls.

Each call is one unary RPC of `proto/internal/v1/internal.proto` on the owner's
internode listener, with this cluster's credentials (`rpc/auth.py`). A domain error comes back as the same class (`codec.raise_error`); a transport
failure (the owner died, the connection broke) as `Unavailable`, which every caller
retries in its own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from temporalio.api.common.v1 import WorkflowExecution
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

from pytemporal.common.errors import ServiceError
from pytemporal.history.api.start import ParentRef
from pytemporal.matching.queues import TaskRef
from pytemporal.proto.internal.v1 import internal_pb2 as pb
from pytemporal.rpc import codec
from pytemporal.rpc.codec import Key

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
R = TypeVar("R", bound=Message)


def method_path(service: str, method: str) -> str:
    """The gRPC path of an rpc declared in internal.proto (KeyError if it is not)."""
    svc = pb.DESCRIPTOR.services_by_name[service]
    return f"/{svc.full_name}/{svc.methods_by_name[method].name}"


class Channels:
    """One gRPC channel per peer address, and the hand-offs still on their way.

    `credentials` (mutual TLS) and `metadata` (the shared secret) are what every call
    to a peer's internode listener carries."""

    def __init__(
        self,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: tuple[tuple[str, str], ...] = (),
        options: list[tuple[str, str]] | None = None,
    ) -> None:
        self.credentials = credentials
        self.metadata = metadata
        self.options = options or []
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._background: set[asyncio.Task[None]] = set()

    def channel(self, address: str) -> grpc.aio.Channel:
        ch = self._channels.get(address)
        if ch is None:
            if self.credentials is None:
                ch = grpc.aio.insecure_channel(address, options=self.options)
            else:
                ch = grpc.aio.secure_channel(address, self.credentials, options=self.options)
            self._channels[address] = ch
        return ch

    async def call(self, address: str, path: str, request: Message, response_type: type[R]) -> R:
        rpc = self.channel(address).unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        try:
            response: R = await rpc(request, timeout=CALL_TIMEOUT, metadata=self.metadata)
        except grpc.aio.AioRpcError as e:
            codec.raise_error(e, address)
            raise  # raise_error always raises
        return response

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()


class RemoteMatchingClient:
    """Matching on the process at `address`."""

    _ADD = method_path("MatchingService", "AddTask")

    def __init__(self, channels: Channels, address: str) -> None:
        self.channels = channels
        self.address = address

    def add_task(self, ref: TaskRef, queue: str, sticky: bool, hops: int) -> None:
        request = pb.AddTaskRequest(task=codec.task_ref(ref), queue=queue, sticky=sticky, hops=hops)
        self.channels.spawn(self._send(request))

    async def _send(self, request: pb.AddTaskRequest) -> None:
        try:
            await self.channels.call(self.address, self._ADD, request, pb.AddTaskResponse)
        except ServiceError:
            log.warning(
                "could not hand task to %s; its owner reads it from the durable backlog",
                self.address,
            )


class RemoteHistoryClient:
    """History on the process at `address`."""

    def __init__(self, channels: Channels, address: str) -> None:
        self.channels = channels
        self.address = address

    async def _call(self, method: str, request: Message, response_type: type[R]) -> R:
        path = method_path("HistoryService", method)
        return await self.channels.call(self.address, path, request, response_type)

    async def record_workflow_task_started(
        self, ref: TaskRef, request: PollWorkflowTaskQueueRequest
    ) -> PollWorkflowTaskQueueResponse | None:
        resp = await self._call(
            "RecordWorkflowTaskStarted",
            pb.RecordWorkflowTaskStartedRequest(
                task=codec.task_ref(ref), poll_request=request.SerializeToString()
            ),
            pb.RecordWorkflowTaskStartedResponse,
        )
        if not resp.HasField("poll_response"):
            return None
        return PollWorkflowTaskQueueResponse.FromString(resp.poll_response)

    async def record_activity_task_started(
        self, ref: TaskRef, request: PollActivityTaskQueueRequest
    ) -> PollActivityTaskQueueResponse | None:
        resp = await self._call(
            "RecordActivityTaskStarted",
            pb.RecordActivityTaskStartedRequest(
                task=codec.task_ref(ref), poll_request=request.SerializeToString()
            ),
            pb.RecordActivityTaskStartedResponse,
        )
        if not resp.HasField("poll_response"):
            return None
        return PollActivityTaskQueueResponse.FromString(resp.poll_response)

    async def start_child(
        self, namespace: str, request: StartWorkflowExecutionRequest, parent: ParentRef
    ) -> str:
        parent_msg = pb.ParentRef(
            namespace=parent.namespace,
            namespace_id=parent.namespace_id,
            execution=codec.execution(parent.execution),
            initiated_event_id=parent.initiated_event_id,
            root=codec.execution(parent.root),
        )
        resp = await self._call(
            "StartChild",
            pb.StartChildRequest(
                namespace=namespace,
                start_request=request.SerializeToString(),
                parent=parent_msg,
            ),
            pb.StartChildResponse,
        )
        return resp.run_id

    async def notify_parent(
        self,
        parent: Key,
        initiated_event_id: int,
        first_execution_run_id: str,
        close: HistoryEvent,
    ) -> None:
        await self._call(
            "NotifyParent",
            pb.NotifyParentRequest(
                parent=codec.workflow_key(parent),
                initiated_event_id=initiated_event_id,
                first_execution_run_id=first_execution_run_id,
                close_event=close.SerializeToString(),
            ),
            pb.NotifyParentResponse,
        )

    async def close_child(self, child: Key, policy: int, parent: WorkflowExecution) -> None:
        await self._call(
            "CloseChild",
            pb.CloseChildRequest(
                child=codec.workflow_key(child), policy=policy, parent=codec.execution(parent)
            ),
            pb.CloseChildResponse,
        )

    async def signal_external(
        self,
        target: Key,
        source: WorkflowExecution,
        request_id: str,
        attributes: SignalExternalWorkflowExecutionInitiatedEventAttributes,
    ) -> bool:
        resp = await self._call(
            "SignalExternal",
            pb.SignalExternalRequest(
                target=codec.workflow_key(target),
                source=codec.execution(source),
                request_id=request_id,
                attributes=attributes.SerializeToString(),
            ),
            pb.SignalExternalResponse,
        )
        return resp.delivered

    async def cancel_external(
        self, target: Key, source: WorkflowExecution, initiated_event_id: int, reason: str
    ) -> bool:
        resp = await self._call(
            "CancelExternal",
            pb.CancelExternalRequest(
                target=codec.workflow_key(target),
                source=codec.execution(source),
                initiated_event_id=initiated_event_id,
                reason=reason,
            ),
            pb.CancelExternalResponse,
        )
        return resp.delivered
