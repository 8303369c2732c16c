"""temporal.api.testservice.v1.TestService, as Temporal's Java test server serves it.

One difference: an unbalanced UnlockTimeSkipping (or UnlockTimeSkippingWithSleep with
no lock held) fails with FAILED_PRECONDITION "Unbalanced lock and unlock calls"; the Java
server throws an IllegalStateException there, which gRPC reports as UNKNOWN.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.testservice.v1 import request_response_pb2 as ts
from temporalio.api.testservice.v1 import service_pb2_grpc as ts_grpc

from pytemporal.frontend.errors import handled
from pytemporal.timeskipping.clock import SkippingClock


def _seconds(value: Duration | Timestamp) -> float:
    return value.seconds + value.nanos / 1e9


# The generated stubs type the methods as synchronous, so mypy sees the base as Any.
_Base: Any = ts_grpc.TestServiceServicer


class TestService(_Base):
    __test__ = False  # not a pytest class

    def __init__(self, clock: SkippingClock) -> None:
        self.clock = clock

    @handled
    async def LockTimeSkipping(
        self, request: ts.LockTimeSkippingRequest, context: grpc.aio.ServicerContext
    ) -> ts.LockTimeSkippingResponse:
        self.clock.lock()
        return ts.LockTimeSkippingResponse()

    @handled
    async def UnlockTimeSkipping(
        self, request: ts.UnlockTimeSkippingRequest, context: grpc.aio.ServicerContext
    ) -> ts.UnlockTimeSkippingResponse:
        self.clock.unlock()
        return ts.UnlockTimeSkippingResponse()

    @handled
    async def Sleep(
        self, request: ts.SleepRequest, context: grpc.aio.ServicerContext
    ) -> ts.SleepResponse:
        await self.clock.sleep_until(self.clock.now() + _seconds(request.duration))
        return ts.SleepResponse()

    @handled
    async def SleepUntil(
        self, request: ts.SleepUntilRequest, context: grpc.aio.ServicerContext
    ) -> ts.SleepResponse:
        await self.clock.sleep_until(_seconds(request.timestamp))
        return ts.SleepResponse()

    @handled
    async def UnlockTimeSkippingWithSleep(
        self, request: ts.SleepRequest, context: grpc.aio.ServicerContext
    ) -> ts.SleepResponse:
        when = self.clock.now() + _seconds(request.duration)
        await self.clock.sleep_until(when, unlock=True)
        return ts.SleepResponse()

    @handled
    async def GetCurrentTime(
        self, request: Empty, context: grpc.aio.ServicerContext
    ) -> ts.GetCurrentTimeResponse:
        now = self.clock.now()
        stamp = Timestamp()
        stamp.FromNanoseconds(int(now * 1e9))
        return ts.GetCurrentTimeResponse(time=stamp)


def add_to_server(service: TestService, server: grpc.aio.Server) -> None:
    ts_grpc.add_TestServiceServicer_to_server(service, server)
