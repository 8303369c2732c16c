"""The UI's calls to the frontend: the public gRPC port, with the caller's token.

The UI never reads the store: each page is a few WorkflowService/OperatorService
calls on this process's own public port (`web.channel`), carrying the browser's
bearer token as the `authorization` metadata, so authorization, rate limits and
routing apply to the UI exactly as to an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from temporalio.api.operatorservice.v1 import service_pb2_grpc as operator_grpc
from temporalio.api.workflowservice.v1 import service_pb2_grpc as workflow_grpc

# Seconds a page waits for one call; queries wait for a worker, so they get their own.
CALL_TIMEOUT = 10.0
QUERY_TIMEOUT = 5.0
IDENTITY = "pytemporal-ui"


class UIError(Exception):
    """An error page: HTTP status, a title and what the user can do about it."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


# gRPC status -> (HTTP status, page title), as Temporal's HTTP API maps them.
_HTTP = {
    grpc.StatusCode.NOT_FOUND: (404, "Not found"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "Bad request"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Permission denied"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "Not signed in"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "Already exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "Not possible now"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "Too many requests"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "Not implemented"),
    grpc.StatusCode.UNAVAILABLE: (503, "Server unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "Timed out"),
}


def ui_error(error: grpc.aio.AioRpcError) -> UIError:
    status, title = _HTTP.get(error.code(), (502, "The server refused the request"))
    return UIError(status, title, error.details() or error.code().name)


@dataclass
class Calls:
    """The stubs and the metadata of one browser request."""

    workflow: Any
    operator: Any
    metadata: tuple[tuple[str, str], ...]

    async def wf(self, method: str, request: Any, timeout: float = CALL_TIMEOUT) -> Any:
        return await getattr(self.workflow, method)(
            request, metadata=self.metadata, timeout=timeout
        )

    async def op(self, method: str, request: Any) -> Any:
        return await getattr(self.operator, method)(
            request, metadata=self.metadata, timeout=CALL_TIMEOUT
        )


class Frontend:
    """Stubs over one channel, shared by every request."""

    def __init__(self, channel: grpc.aio.Channel, auth_header: str = "authorization") -> None:
        self.channel = channel
        self.auth_header = auth_header.lower()
        self._workflow = workflow_grpc.WorkflowServiceStub(channel)
        self._operator = operator_grpc.OperatorServiceStub(channel)

    def calls(self, token: str | None) -> Calls:
        metadata: tuple[tuple[str, str], ...] = ()
        if token:
            metadata = ((self.auth_header, bearer(token)),)
        return Calls(self._workflow, self._operator, metadata)

    async def close(self) -> None:
        await self.channel.close()


def bearer(token: str) -> str:
    token = token.strip()
    return token if token.lower().startswith("bearer ") else f"Bearer {token}"
