"""What the frontend asks of history for the public RPCs: three small Protocols, and
their in-process implementation.

The frontend validates a request, resolves its namespace and run, and then calls one
method here with the request and what it resolved (the run's key, the wait it may
spend). It knows nothing of the engine behind it.

There is no remote implementation: in a cluster, `frontend/routing.py` forwards a
public call for another process's workflow whole, to that process's public port, so
the call always reaches the owner's `LocalPublicHistory`. What has no public RPC (a
polled task's start, cross-workflow steps) goes through `HistoryClient`
(`history/client.py`) instead, which does have a remote side.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionResponse,
    ExecuteMultiOperationRequest,
    ExecuteMultiOperationResponse,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    PauseActivityRequest,
    PollWorkflowExecutionUpdateRequest,
    PollWorkflowExecutionUpdateResponse,
    QueryWorkflowRequest,
    QueryWorkflowResponse,
    RequestCancelWorkflowExecutionRequest,
    ResetActivityRequest,
    ResetWorkflowExecutionRequest,
    RespondQueryTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
    SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)

from pytemporal.history.api import (
    activity_control,
    activity_tasks,
    control,
    multi_operation,
    queries,
    read,
    reset,
    start,
    sticky,
    updates,
    workflow_tasks,
)
from pytemporal.history.api.activity_tasks import HeartbeatReply
from pytemporal.history.api.start import StartResult
from pytemporal.history.cache import Key
from pytemporal.history.engine import Entry, HistoryEngine
from pytemporal.history.tokens import decode
from pytemporal.history.workflow.state import ActivityInfo
from pytemporal.namespaces import Namespace

__all__ = [
    "ActivityById",
    "ActivityControl",
    "ActivityRef",
    "HeartbeatReply",
    "Key",
    "LocalPublicHistory",
    "StartResult",
    "WorkerTasks",
    "WorkflowLifecycle",
    "WorkflowReads",
]


@dataclass(frozen=True)
class ActivityById:
    key: Key
    activity_id: str


# A worker names an activity by its task token; a client (the `ById` RPCs) by its run
# and activity id, which may complete an activity no worker ever polled.
ActivityRef: TypeAlias = bytes | ActivityById


class WorkflowLifecycle(Protocol):
    """Calls that start a run or change one from outside."""

    async def start(self, ns: Namespace, request: StartWorkflowExecutionRequest) -> StartResult:
        """Start a run, or find the one this request (id, policies) already names."""
        ...

    async def signal_with_start(
        self, ns: Namespace, request: SignalWithStartWorkflowExecutionRequest
    ) -> StartResult: ...

    async def signal(self, key: Key, request: SignalWorkflowExecutionRequest) -> None: ...

    async def request_cancel(
        self, key: Key, request: RequestCancelWorkflowExecutionRequest
    ) -> None: ...

    async def terminate(self, key: Key, request: TerminateWorkflowExecutionRequest) -> None: ...

    async def update(
        self, key: Key, request: UpdateWorkflowExecutionRequest, timeout: float
    ) -> UpdateWorkflowExecutionResponse:
        """Admit an update and wait up to `timeout` for the stage the request asks."""
        ...

    async def reset(self, key: Key, request: ResetWorkflowExecutionRequest) -> str:
        """Reset the run; the new run's id."""
        ...

    async def execute_multi_operation(
        self, ns: Namespace, request: ExecuteMultiOperationRequest, timeout: float
    ) -> ExecuteMultiOperationResponse:
        """Update-with-start, waiting up to `timeout` for the update's stage."""
        ...


class WorkflowReads(Protocol):
    """Calls that only look at a run (and may wait for it to change)."""

    async def get_history(
        self,
        key: Key,
        request: GetWorkflowExecutionHistoryRequest,
        timeout: float,
        follows_next_run: bool,
    ) -> GetWorkflowExecutionHistoryResponse:
        """A page of events; with `wait_new_event`, waits up to `timeout` for one.
        `follows_next_run`: the client understands a close event's next run id."""
        ...

    async def describe(self, key: Key) -> DescribeWorkflowExecutionResponse: ...

    async def query(
        self, key: Key, request: QueryWorkflowRequest, timeout: float
    ) -> QueryWorkflowResponse:
        """Ask the workflow's worker; `DeadlineExceeded` if it has not answered in time."""
        ...

    async def poll_update(
        self, key: Key, request: PollWorkflowExecutionUpdateRequest, timeout: float
    ) -> PollWorkflowExecutionUpdateResponse: ...


class WorkerTasks(Protocol):
    """A worker's replies to the tasks it was handed, by task token or activity id."""

    async def complete_workflow_task(
        self, request: RespondWorkflowTaskCompletedRequest
    ) -> RespondWorkflowTaskCompletedResponse: ...

    async def fail_workflow_task(self, request: RespondWorkflowTaskFailedRequest) -> None: ...

    async def respond_query(self, request: RespondQueryTaskCompletedRequest) -> None: ...

    async def reset_sticky(self, key: Key) -> None:
        """Send the run's next workflow task to its normal queue, not the sticky one."""
        ...

    async def heartbeat_activity(
        self, activity: ActivityRef, details: Payloads | None
    ) -> HeartbeatReply:
        """Record a heartbeat; whether the activity was cancelled, paused or reset."""
        ...

    async def complete_activity(
        self, activity: ActivityRef, result: Payloads | None, identity: str
    ) -> None: ...

    async def fail_activity(
        self,
        activity: ActivityRef,
        failure: Failure,
        identity: str,
        last_heartbeat_details: Payloads | None,
    ) -> None: ...

    async def cancel_activity(
        self, activity: ActivityRef, details: Payloads | None, identity: str
    ) -> None: ...


class ActivityControl(Protocol):
    """An operator's control of a run's pending activities (`temporal activity ...`)."""

    async def pause_activity(self, key: Key, request: PauseActivityRequest) -> None: ...

    async def unpause_activity(self, key: Key, request: UnpauseActivityRequest) -> None: ...

    async def reset_activity(self, key: Key, request: ResetActivityRequest) -> None: ...

    async def update_activity_options(
        self, key: Key, request: UpdateActivityOptionsRequest
    ) -> ActivityOptions:
        """Apply the request's options to the named activities; the new options."""
        ...


class LocalPublicHistory:
    """History in this process: each method is one call into `history.api`."""

    def __init__(self, engine: HistoryEngine) -> None:
        self.engine = engine

    # -- WorkflowLifecycle -----------------------------------------------------------

    async def start(self, ns: Namespace, request: StartWorkflowExecutionRequest) -> StartResult:
        return await start.start(self.engine, ns, request)

    async def signal_with_start(
        self, ns: Namespace, request: SignalWithStartWorkflowExecutionRequest
    ) -> StartResult:
        sig = start.SignalSpec(
            name=request.signal_name,
            input=request.signal_input if request.HasField("signal_input") else None,
            header=request.header if request.HasField("header") else None,
            identity=request.identity,
            request_id=request.request_id,
        )
        return await start.start(self.engine, ns, request, signal=sig)

    async def signal(self, key: Key, request: SignalWorkflowExecutionRequest) -> None:
        await control.signal(self.engine, key, request)

    async def request_cancel(
        self, key: Key, request: RequestCancelWorkflowExecutionRequest
    ) -> None:
        await control.request_cancel(self.engine, key, request)

    async def terminate(self, key: Key, request: TerminateWorkflowExecutionRequest) -> None:
        await control.terminate(self.engine, key, request)

    async def update(
        self, key: Key, request: UpdateWorkflowExecutionRequest, timeout: float
    ) -> UpdateWorkflowExecutionResponse:
        return await updates.update(
            self.engine,
            key,
            request.request,
            request.wait_policy.lifecycle_stage,
            request.first_execution_run_id,
            timeout,
        )

    async def reset(self, key: Key, request: ResetWorkflowExecutionRequest) -> str:
        return await reset.reset(self.engine, key, request)

    async def execute_multi_operation(
        self, ns: Namespace, request: ExecuteMultiOperationRequest, timeout: float
    ) -> ExecuteMultiOperationResponse:
        return await multi_operation.execute(self.engine, ns, request, timeout)

    # -- ActivityControl -------------------------------------------------------------

    async def pause_activity(self, key: Key, request: PauseActivityRequest) -> None:
        await activity_control.pause(self.engine, key, request)

    async def unpause_activity(self, key: Key, request: UnpauseActivityRequest) -> None:
        await activity_control.unpause(self.engine, key, request)

    async def reset_activity(self, key: Key, request: ResetActivityRequest) -> None:
        await activity_control.reset(self.engine, key, request)

    async def update_activity_options(
        self, key: Key, request: UpdateActivityOptionsRequest
    ) -> ActivityOptions:
        return await activity_control.update_options(self.engine, key, request)

    # -- WorkflowReads -----------------------------------------------------------------

    async def get_history(
        self,
        key: Key,
        request: GetWorkflowExecutionHistoryRequest,
        timeout: float,
        follows_next_run: bool,
    ) -> GetWorkflowExecutionHistoryResponse:
        return await read.get_history(
            self.engine, key, request, timeout, follows_next_run=follows_next_run
        )

    async def describe(self, key: Key) -> DescribeWorkflowExecutionResponse:
        return await read.describe(self.engine, key)

    async def query(
        self, key: Key, request: QueryWorkflowRequest, timeout: float
    ) -> QueryWorkflowResponse:
        return await queries.query(self.engine, key, request, timeout)

    async def poll_update(
        self, key: Key, request: PollWorkflowExecutionUpdateRequest, timeout: float
    ) -> PollWorkflowExecutionUpdateResponse:
        return await updates.poll(
            self.engine,
            key,
            request.update_ref.update_id,
            request.wait_policy.lifecycle_stage,
            timeout,
        )

    # -- WorkerTasks ---------------------------------------------------------------------

    async def complete_workflow_task(
        self, request: RespondWorkflowTaskCompletedRequest
    ) -> RespondWorkflowTaskCompletedResponse:
        return await workflow_tasks.complete(self.engine, request)

    async def fail_workflow_task(self, request: RespondWorkflowTaskFailedRequest) -> None:
        await workflow_tasks.fail(self.engine, request)

    async def respond_query(self, request: RespondQueryTaskCompletedRequest) -> None:
        queries.respond(self.engine, request)

    async def reset_sticky(self, key: Key) -> None:
        await sticky.reset(self.engine, key)

    @contextlib.asynccontextmanager
    async def _activity(self, activity: ActivityRef) -> AsyncIterator[tuple[Entry, ActivityInfo]]:
        if isinstance(activity, ActivityById):
            found = activity_tasks.by_id(self.engine, activity.key, activity.activity_id)
        else:
            found = activity_tasks.by_token(self.engine, decode(activity))
        async with found as entry_and_activity:
            yield entry_and_activity

    async def heartbeat_activity(
        self, activity: ActivityRef, details: Payloads | None
    ) -> HeartbeatReply:
        async with self._activity(activity) as (e, ai):
            return activity_tasks.heartbeat(e, ai, details)

    async def complete_activity(
        self, activity: ActivityRef, result: Payloads | None, identity: str
    ) -> None:
        async with self._activity(activity) as (e, ai):
            activity_tasks.complete(e, ai, result, identity)

    async def fail_activity(
        self,
        activity: ActivityRef,
        failure: Failure,
        identity: str,
        last_heartbeat_details: Payloads | None,
    ) -> None:
        async with self._activity(activity) as (e, ai):
            activity_tasks.fail(e, ai, failure, identity, last_heartbeat_details)

    async def cancel_activity(
        self, activity: ActivityRef, details: Payloads | None, identity: str
    ) -> None:
        async with self._activity(activity) as (e, ai):
            activity_tasks.cancel(e, ai, details, identity)
