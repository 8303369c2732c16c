"""QueryWorkflow: through the run's next workflow task, or as a direct query task."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    QueryRejectCondition,
    QueryResultType,
    TaskQueueKind,
    WorkflowExecutionStatus,
)
from temporalio.api.history.v1 import History
from temporalio.api.query.v1 import QueryRejected, WorkflowQueryResult
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    QueryWorkflowRequest,
    QueryWorkflowResponse,
    RespondQueryTaskCompletedRequest,
)

from pytemporal.common.errors import (
    DeadlineExceeded,
    NotFound,
    QueryFailed,
    ResourceExhausted,
    WorkflowNotReady,
)
from pytemporal.history.api.queries_registry import Key, PendingQuery, QueryAnswer
from pytemporal.history.engine import Entry, HistoryEngine
from pytemporal.history.tokens import TaskToken, decode
from pytemporal.matching.queues import TaskRef

Status = WorkflowExecutionStatus


def _rejected(status: int, condition: int) -> bool:
    if status == Status.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return False
    if condition == QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN:
        return True
    return (
        condition == QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY
        and status != Status.WORKFLOW_EXECUTION_STATUS_COMPLETED
    )


async def query(
    engine: HistoryEngine, key: Key, req: QueryWorkflowRequest, timeout: float
) -> QueryWorkflowResponse:
    pending = PendingQuery(
        id=str(uuid.uuid4()), query=req.query, future=asyncio.get_running_loop().create_future()
    )
    # Under the lock: decided on committed state, and registered before the next
    # commit, which reconciles buffered queries.
    async with engine.reading(key) as entry:
        ms = entry.ms
        if _rejected(ms.status, req.query_reject_condition):
            return QueryWorkflowResponse(query_rejected=QueryRejected(status=ms.status))  # type: ignore[arg-type]
        if not ms.is_open and ms.wft_completed_count == 0:
            raise WorkflowNotReady("Workflow execution closed before WorkflowTaskStarted event")
        if ms.wft is not None and ms.wft.attempt >= 3:
            raise WorkflowNotReady("Unable to query workflow due to Workflow Task in failed state.")
        if ms.is_open and (ms.wft is not None or ms.wft_completed_count == 0):
            _buffer(engine, key, pending)
        else:
            engine.dispatch_query(entry, pending)
    try:
        async with asyncio.timeout(timeout):
            answer = await pending.future
    except TimeoutError:
        raise DeadlineExceeded("context deadline exceeded") from None
    finally:
        engine.queries.remove(key, pending.id)
    return _response(answer)


def _buffer(engine: HistoryEngine, key: Key, pending: PendingQuery) -> None:
    qs = engine.queries.buffered.setdefault(key, {})
    if len(qs) >= engine.limits.max_buffered_queries:
        raise ResourceExhausted(
            "consistent query buffer is full, cannot accept new consistent queries",
            cause=1,  # RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT
        )
    qs[pending.id] = pending


def _response(answer: QueryAnswer) -> QueryWorkflowResponse:
    if not answer.answered:
        raise QueryFailed(answer.error_message, answer.failure)
    resp = QueryWorkflowResponse()
    if answer.result is not None:
        resp.query_result.CopyFrom(answer.result)  # type: ignore[arg-type]
    return resp


def answer_buffered(engine: HistoryEngine, entry: Entry, results: object) -> None:
    """Resolve consistent queries the worker answered in its completion; the others
    go back to waiting (for the next task, or a direct query task)."""
    for q in engine.queries.sent(entry.key):
        if q.id in results:  # type: ignore[operator]
            _resolve(q, results[q.id])  # type: ignore[index]
        else:
            q.sent = False


def _resolve(q: PendingQuery, result: WorkflowQueryResult) -> None:
    if q.future.done():
        return
    if result.result_type == QueryResultType.QUERY_RESULT_TYPE_ANSWERED:
        q.future.set_result(QueryAnswer(True, result.answer))
    else:
        q.future.set_result(QueryAnswer(False, None, result.error_message, result.failure))


async def record_started(
    engine: HistoryEngine, ref: TaskRef, req: PollWorkflowTaskQueueRequest
) -> PollWorkflowTaskQueueResponse | None:
    pending = engine.queries.direct.get(ref.query_id)
    if pending is None or pending.future.done():
        return None
    key = (ref.namespace_id, ref.workflow_id, ref.run_id)
    try:
        async with engine.reading(key) as entry:
            ms = entry.ms
            replayable = _replayable(entry)
    except NotFound:
        return None
    sticky = req.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
    token = TaskToken(*entry.key, query_id=ref.query_id)
    history = History() if sticky else History(events=await engine.read_events(key, 1, replayable))
    return PollWorkflowTaskQueueResponse(
        task_token=token.encode(),
        workflow_execution=WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id),
        workflow_type=WorkflowType(name=ms.workflow_type),
        previous_started_event_id=ms.previous_started_event_id,
        attempt=1,
        history=history,
        query=pending.query,
        workflow_execution_task_queue=TaskQueue(
            name=ms.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
        ),
    )


def _replayable(entry: Entry) -> int:
    """Events a worker may replay for a query: all, unless a workflow task is in flight."""
    ms = entry.ms
    if ms.wft is not None and ms.wft.started_event_id:
        return ms.wft.scheduled_event_id - 1
    return ms.next_event_id - 1


def respond(engine: HistoryEngine, req: RespondQueryTaskCompletedRequest) -> None:
    token = decode(req.task_token)
    pending = engine.queries.direct.get(token.query_id)
    if pending is None or pending.future.done():
        raise NotFound("query task not found, or already expired")
    if req.completed_type == QueryResultType.QUERY_RESULT_TYPE_ANSWERED:
        pending.future.set_result(QueryAnswer(True, req.query_result))
    else:
        failure = req.failure if req.HasField("failure") else None
        pending.future.set_result(QueryAnswer(False, None, req.error_message, failure))
