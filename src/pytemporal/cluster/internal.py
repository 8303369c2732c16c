"""Calls between server processes: one generic gRPC method carrying JSON.

Used for what has no public RPC: handing a task to the process that owns its task
queue, starting a polled task on the process that owns its workflow, and delivering
cross-workflow work (child starts, external signals...) to the target's owner.
Protobuf values travel as base64 of their serialized bytes. Domain errors come back
by name and are raised again on the caller's side.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from pytemporal.common import errors

METHOD = "/pytemporal.internal.v1.Internal/Call"
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_ERRORS: dict[str, type[errors.ServiceError]] = {
    cls.__name__: cls
    for cls in (
        errors.InvalidArgument,
        errors.NotFound,
        errors.Unavailable,
        errors.ResourceExhausted,
        errors.FailedPrecondition,
        errors.WorkflowNotReady,
    )
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class InternalService:
    """Server side: dispatches a call by name to a registered handler."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        self.handlers[name] = handler

    async def _call(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        msg = json.loads(request)
        try:
            result = await self.handlers[msg["method"]](msg["args"])
            return json.dumps({"ok": result}).encode()
        except errors.WorkflowAlreadyStarted as e:
            return json.dumps(
                {
                    "error": "WorkflowAlreadyStarted",
                    "message": e.message,
                    "start_request_id": e.start_request_id,
                    "run_id": e.run_id,
                    "first_execution_run_id": e.first_execution_run_id,
                }
            ).encode()
        except errors.ServiceError as e:
            name = type(e).__name__
            for cls_name, cls in _ERRORS.items():
                if isinstance(e, cls):
                    name = cls_name
            return json.dumps({"error": name, "message": e.message}).encode()

    def handler(self) -> grpc.GenericRpcHandler:
        method = grpc.unary_unary_rpc_method_handler(self._call)
        return grpc.method_handlers_generic_handler(
            "pytemporal.internal.v1.Internal", {"Call": method}
        )


class InternalClient:
    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        ch = self._channels.get(address)
        if ch is None:
            ch = self._channels[address] = grpc.aio.insecure_channel(address)
        return ch

    async def call(
        self, address: str, method: str, args: dict[str, Any], *, timeout: float = 30.0
    ) -> Any:
        stub = self.channel(address).unary_unary(METHOD)
        try:
            raw = await stub(json.dumps({"method": method, "args": args}).encode(), timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise errors.Unavailable(f"call to {address} failed: {e.code().name}") from e
        reply = json.loads(raw)
        if "error" in reply:
            if reply["error"] == "WorkflowAlreadyStarted":
                raise errors.WorkflowAlreadyStarted(
                    reply["message"],
                    start_request_id=reply["start_request_id"],
                    run_id=reply["run_id"],
                    first_execution_run_id=reply["first_execution_run_id"],
                )
            raise _ERRORS.get(reply["error"], errors.Unavailable)(reply["message"])
        return reply["ok"]

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()
