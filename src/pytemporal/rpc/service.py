"""The server side of the internal calls: decode, run the in-process role, encode.

Registered on the internode listener only (never on the public port) as generic
handlers, one per rpc of `internal.proto`; building them checks that every rpc
declared there has a handler here and the other way round. A domain error goes back
in the `pytemporal-error-bin` trailer (`codec.error`). A request that does not parse
(the message itself, or a Temporal object inside it) gets INVALID_ARGUMENT; any other
failure INTERNAL with a fixed message: exception text never leaves the process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from temporalio.api.history.v1 import (
    HistoryEvent,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.errors import ServiceError
from pytemporal.history.api.start import ParentRef
from pytemporal.history.client import HistoryClient
from pytemporal.matching.queues import TaskRef
from pytemporal.proto.internal.v1 import internal_pb2 as pb
from pytemporal.rpc import codec

log = logging.getLogger(__name__)

# Takes a task another process handed over: into matching here, or on to the queue's
# owner if it moved again (`HistoryEngine.accept_task`).
AcceptTask = Callable[[TaskRef, str, bool, int], None]
Ctx = Any  # grpc.aio.ServicerContext


class InternalService:
    def __init__(self, history: HistoryClient, accept_task: AcceptTask) -> None:
        self.history = history
        self.accept_task = accept_task

    # -- MatchingService ----------------------------------------------------------------

    async def AddTask(self, req: pb.AddTaskRequest) -> pb.AddTaskResponse:
        self.accept_task(codec.from_task_ref(req.task), req.queue, req.sticky, req.hops)
        return pb.AddTaskResponse()

    # -- HistoryService -----------------------------------------------------------------

    async def RecordWorkflowTaskStarted(
        self, req: pb.RecordWorkflowTaskStartedRequest
    ) -> pb.RecordWorkflowTaskStartedResponse:
        resp = await self.history.record_workflow_task_started(
            codec.from_task_ref(req.task),
            codec.parse(PollWorkflowTaskQueueRequest, req.poll_request),
        )
        if resp is None:
            return pb.RecordWorkflowTaskStartedResponse()
        return pb.RecordWorkflowTaskStartedResponse(poll_response=resp.SerializeToString())

    async def RecordActivityTaskStarted(
        self, req: pb.RecordActivityTaskStartedRequest
    ) -> pb.RecordActivityTaskStartedResponse:
        resp = await self.history.record_activity_task_started(
            codec.from_task_ref(req.task),
            codec.parse(PollActivityTaskQueueRequest, req.poll_request),
        )
        if resp is None:
            return pb.RecordActivityTaskStartedResponse()
        return pb.RecordActivityTaskStartedResponse(poll_response=resp.SerializeToString())

    async def StartChild(self, req: pb.StartChildRequest) -> pb.StartChildResponse:
        p = req.parent
        parent = ParentRef(
            namespace=p.namespace,
            namespace_id=p.namespace_id,
            execution=codec.from_execution(p.execution),
            initiated_event_id=p.initiated_event_id,
            root=codec.from_execution(p.root),
        )
        start = codec.parse(StartWorkflowExecutionRequest, req.start_request)
        run_id = await self.history.start_child(req.namespace, start, parent)
        return pb.StartChildResponse(run_id=run_id)

    async def NotifyParent(self, req: pb.NotifyParentRequest) -> pb.NotifyParentResponse:
        await self.history.notify_parent(
            codec.from_workflow_key(req.parent),
            req.initiated_event_id,
            req.first_execution_run_id,
            codec.parse(HistoryEvent, req.close_event),
        )
        return pb.NotifyParentResponse()

    async def CloseChild(self, req: pb.CloseChildRequest) -> pb.CloseChildResponse:
        await self.history.close_child(
            codec.from_workflow_key(req.child), req.policy, codec.from_execution(req.parent)
        )
        return pb.CloseChildResponse()

    async def SignalExternal(self, req: pb.SignalExternalRequest) -> pb.SignalExternalResponse:
        attrs = codec.parse(SignalExternalWorkflowExecutionInitiatedEventAttributes, req.attributes)
        delivered = await self.history.signal_external(
            codec.from_workflow_key(req.target),
            codec.from_execution(req.source),
            req.request_id,
            attrs,
        )
        return pb.SignalExternalResponse(delivered=delivered)

    async def CancelExternal(self, req: pb.CancelExternalRequest) -> pb.CancelExternalResponse:
        delivered = await self.history.cancel_external(
            codec.from_workflow_key(req.target),
            codec.from_execution(req.source),
            req.initiated_event_id,
            req.reason,
        )
        return pb.CancelExternalResponse(delivered=delivered)

    # -- registration -------------------------------------------------------------------

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """One generic handler per service of internal.proto."""
        out = []
        for svc in pb.DESCRIPTOR.services_by_name.values():
            methods = {
                m.name: _unary(getattr(self, m.name), getattr(pb, m.input_type.name))
                for m in svc.methods
            }
            out.append(grpc.method_handlers_generic_handler(svc.full_name, methods))
        return out


def _unary(
    fn: Callable[[Any], Awaitable[Message]],
    request_type: type[Message],
) -> grpc.RpcMethodHandler:
    name = request_type.DESCRIPTOR.full_name

    async def handle(raw: bytes, context: Ctx) -> bytes:
        try:
            request = codec.parse(request_type, raw)
            return (await fn(request)).SerializeToString()
        except codec.Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed {name}")
            raise
        except ServiceError as e:
            detail = codec.error(e).SerializeToString()
            await context.abort(
                grpc.StatusCode.UNKNOWN,
                f"{type(e).__name__}: {e.message}",
                trailing_metadata=((codec.ERROR_TRAILER, detail),),
            )
            raise  # abort always raises
        except Exception:
            log.exception("internal call %s failed", name)
            await context.abort(grpc.StatusCode.INTERNAL, f"{name} failed on the peer")
            raise

    # Raw bytes in and out: parsing happens in `handle`, where a failure is answered
    # as the caller's fault, not with gRPC's own deserializer error.
    return grpc.unary_unary_rpc_method_handler(handle)
