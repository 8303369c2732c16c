"""Activity tasks: start on poll, heartbeat, complete / fail / cancel (by token or id)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.api.common.v1 import ActivityType, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
)

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.common.protoutil import ts
from pytemporal.history.engine import Entry, HistoryEngine
from pytemporal.history.tokens import TaskToken
from pytemporal.history.workflow import activities, standalone, versioning
from pytemporal.history.workflow.state import ActivityInfo
from pytemporal.matching.queues import TaskRef

_GONE = "invalid activityID or activity already timed out or invoking workflow is completed"


async def record_started(
    engine: HistoryEngine, ref: TaskRef, req: PollActivityTaskQueueRequest
) -> PollActivityTaskQueueResponse | None:
    try:
        async with engine.locked((ref.namespace_id, ref.workflow_id, ref.run_id)) as entry:
            ms = entry.ms
            ai = ms.activities.get(ref.scheduled_event_id)
            if not ms.is_open or ai is None or ai.attempt != ref.attempt:
                return None
            if ai.paused and not ai.started:
                return None  # its task was taken back by PauseActivity
            if ai.started:
                # The same offer again: its first start committed but the reply was lost.
                same = bool(ref.request_id) and ai.request_id == ref.request_id
                return response(entry, ai) if same else None
            if not versioning.accepts(ms, versioning.poller_version(req.deployment_options)):
                # Read back from the backlog without its pin: offer it to its version.
                engine.tasks.dispatch(
                    entry, "activity", ai.scheduled_event_id, ai.attempt, ai.task_queue, False
                )
                return None
            activities.start(
                ms, ai, request_id=ref.request_id or str(uuid.uuid4()), identity=req.identity
            )
            if engine.metrics is not None:
                latency = engine.clock.now() - ai.attempt_scheduled_time
                engine.metrics.task_started(ms.namespace, ai.task_queue, "activity", latency)
            await engine.commit_one(entry)
            return response(entry, ai)
    except NotFound:
        return None


def response(entry: Entry, ai: ActivityInfo) -> PollActivityTaskQueueResponse:
    ms = entry.ms
    a = ai.attrs
    token = TaskToken(
        *entry.key,
        scheduled_event_id=ai.scheduled_event_id,
        attempt=ai.attempt,
        activity_id=ai.activity_id,
    )
    resp = PollActivityTaskQueueResponse(
        task_token=token.encode(),
        workflow_namespace=ms.namespace,
        workflow_type=WorkflowType(name=ms.workflow_type),
        workflow_execution=WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id),
        activity_type=ActivityType(name=ai.activity_type),
        activity_id=ai.activity_id,
        header=a.header,
        input=a.input,
        scheduled_time=ts(ai.scheduled_time),
        current_attempt_scheduled_time=ts(ai.attempt_scheduled_time),
        started_time=ts(ai.started_time),
        attempt=ai.attempt,
        schedule_to_close_timeout=a.schedule_to_close_timeout,
        start_to_close_timeout=a.start_to_close_timeout,
        heartbeat_timeout=a.heartbeat_timeout,
        retry_policy=a.retry_policy,
        priority=a.priority,
    )
    if ai.heartbeat_details is not None:
        resp.heartbeat_details.CopyFrom(ai.heartbeat_details)
    if standalone.is_standalone(ms):
        # No workflow behind it: the SDK tells a standalone activity by the empty
        # workflow fields and the activity run id.
        for name in ("workflow_namespace", "workflow_type", "workflow_execution"):
            resp.ClearField(name)  # type: ignore[arg-type]
        resp.activity_run_id = ms.run_id
    return resp


@contextlib.asynccontextmanager
async def by_token(
    engine: HistoryEngine, token: TaskToken
) -> AsyncIterator[tuple[Entry, ActivityInfo]]:
    async with engine.locked(token.key) as entry:
        ms = entry.ms
        if not ms.is_open:
            raise NotFound("workflow execution already completed")
        ai = ms.activities.get(token.scheduled_event_id)
        if ai is None or not ai.started or ai.attempt != token.attempt:
            raise NotFound(_GONE)
        yield entry, ai
        await engine.commit_one(entry)


@contextlib.asynccontextmanager
async def by_id(
    engine: HistoryEngine, key: tuple[str, str, str], activity_id: str
) -> AsyncIterator[tuple[Entry, ActivityInfo]]:
    async with engine.locked(key) as entry:
        ms = entry.ms
        if not ms.is_open:
            raise NotFound("workflow execution already completed")
        sched_id = ms.activity_ids.get(activity_id)
        if sched_id is None:
            raise NotFound(
                f"cannot find pending activity with ActivityID {activity_id}, "
                "check workflow execution history for more details"
            )
        ai = ms.activities[sched_id]
        if not ai.started:
            # Completing by id needs no poll: record the start it never had.
            activities.start(ms, ai, request_id=str(uuid.uuid4()), identity="")
        yield entry, ai
        await engine.commit_one(entry)


@dataclass(frozen=True)
class HeartbeatReply:
    """What a heartbeat's reply tells the worker: stop, and why."""

    cancel_requested: bool
    activity_paused: bool = False
    activity_reset: bool = False


def heartbeat(entry: Entry, ai: ActivityInfo, details: Payloads | None) -> HeartbeatReply:
    activities.heartbeat(entry.ms, ai, details)
    return HeartbeatReply(ai.cancel_requested, ai.paused, ai.reset_requested)


def complete(entry: Entry, ai: ActivityInfo, result: Payloads | None, identity: str) -> None:
    activities.complete(entry.ms, ai, result, identity)


def fail(
    entry: Entry, ai: ActivityInfo, failure: Failure, identity: str, details: Payloads | None
) -> None:
    activities.fail(entry.ms, ai, failure, identity, details)


def cancel(entry: Entry, ai: ActivityInfo, details: Payloads | None, identity: str) -> None:
    if not ai.cancel_requested:
        raise InvalidArgument(
            "unable to mark activity as canceled without activity being request canceled first"
        )
    activities.cancel_done(entry.ms, ai, details, identity)
