"""UpdateWorkflowExecution and PollWorkflowExecutionUpdate."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.common.v1 import Link, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.update.v1 import Outcome, Request, UpdateRef
from temporalio.api.workflowservice.v1 import (
    PollWorkflowExecutionUpdateResponse,
    UpdateWorkflowExecutionResponse,
)

from pytemporal.common.errors import NotFound, PermissionDenied, WorkflowNotReady
from pytemporal.history.api.updates_registry import InFlightUpdate
from pytemporal.history.engine import Entry, HistoryEngine, Key
from pytemporal.history.workflow import updates as upd
from pytemporal.history.workflow import workflow_task as wt


async def _from_history(
    engine: HistoryEngine, entry: Entry, update_id: str
) -> tuple[int, Outcome | None] | None:
    """The update's stage and outcome as history records them (the caller holds the
    run's lock, so the event ids in the state are committed)."""
    ids = entry.ms.updates.get(update_id)
    if ids is None:
        return None
    accepted, completed = ids
    if completed:
        ev = await engine.read_event(entry.key, completed)
        return upd.COMPLETED, ev.workflow_execution_update_completed_event_attributes.outcome
    return upd.ACCEPTED, None


async def known_stage(engine: HistoryEngine, entry: Entry, update_id: str) -> int | None:
    """The stage history records for the update (ACCEPTED or COMPLETED), if any."""
    known = await _from_history(engine, entry, update_id)
    return None if known is None else known[0]


def admit(engine: HistoryEngine, entry: Entry, request: Request) -> InFlightUpdate:
    """Register an update on an open run (the caller holds the run's lock)."""
    ms = entry.ms
    uid = request.meta.update_id
    if ms.wft is not None and ms.wft.attempt >= 3:
        raise WorkflowNotReady(
            "Unable to perform workflow execution update due to Workflow Task in failed state."
        )
    u = InFlightUpdate(uid, request)
    engine.updates.add(entry.key, u)
    if ms.wft is None:
        wt.schedule(ms, speculative=True)
    return u


async def update(
    engine: HistoryEngine,
    key: Key,
    request: Request,
    wait_stage: int,
    first_execution_run_id: str,
    timeout: float,
) -> UpdateWorkflowExecutionResponse:
    # Unspecified means "until it completes" (Temporal's frontend sets that default).
    wait_stage = wait_stage or upd.COMPLETED
    if wait_stage == upd.ADMITTED:
        raise PermissionDenied(
            "UpdateWorkflowExecution issued asynchronously and waiting on update admitted"
            " is not supported."
        )
    if not request.meta.update_id:
        request.meta.update_id = str(uuid.uuid4())
    uid = request.meta.update_id
    async with engine.locked(key) as entry:
        ms = entry.ms
        if first_execution_run_id and first_execution_run_id != ms.first_execution_run_id:
            raise NotFound("workflow execution not found")
        known = await _from_history(engine, entry, uid)
        u = engine.updates.get(key, uid)
        if known is None and u is None:
            if not ms.is_open:
                raise NotFound("workflow execution already completed")
            u = admit(engine, entry, request)
            await engine.commit_one(entry)
    stage, outcome = await _wait(engine, key, uid, u, wait_stage, timeout)
    resp = UpdateWorkflowExecutionResponse(
        update_ref=_ref(key, uid),
        outcome=outcome,
        stage=stage,  # type: ignore[arg-type]
    )
    ns = entry.ms.namespace
    if outcome is not None and outcome.HasField("failure") and uid not in entry.ms.updates:
        resp.link.workflow.CopyFrom(
            Link.Workflow(namespace=ns, workflow_id=key[1], run_id=key[2], reason="Update rejected")
        )
    elif stage >= upd.ACCEPTED:
        ref = Link.WorkflowEvent.RequestIdReference(
            request_id=request.request_id,
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        )
        resp.link.workflow_event.CopyFrom(
            Link.WorkflowEvent(namespace=ns, workflow_id=key[1], run_id=key[2], request_id_ref=ref)
        )
    return resp


async def poll(
    engine: HistoryEngine, key: Key, update_id: str, wait_stage: int, timeout: float
) -> PollWorkflowExecutionUpdateResponse:
    u = engine.updates.get(key, update_id)
    async with engine.reading(key) as entry:
        known = await _from_history(engine, entry, update_id)
    if u is None and known is None:
        raise NotFound(f'update "{update_id}" not found')
    # Unspecified: the stage reached so far, at once (Temporal's WaitLifecycleStage); the
    # SDKs' "does this update exist" checks poll without a wait policy.
    stage, outcome = await _wait(engine, key, update_id, u, wait_stage or upd.ADMITTED, timeout)
    return PollWorkflowExecutionUpdateResponse(
        update_ref=_ref(key, update_id),
        outcome=outcome,
        stage=stage,  # type: ignore[arg-type]
    )


async def _wait(
    engine: HistoryEngine,
    key: Key,
    update_id: str,
    u: InFlightUpdate | None,
    wait_stage: int,
    timeout: float,
) -> tuple[int, Outcome | None]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if u is not None:
            if u.error is not None:
                raise u.error
            if u.stage >= wait_stage or u.stage == upd.COMPLETED:
                return u.stage, u.outcome
            changed = u.changed
        else:
            async with engine.reading(key) as entry:
                known = await _from_history(engine, entry, update_id)
                is_open = entry.ms.is_open
            if known is None:
                raise NotFound(f'update "{update_id}" not found')
            if known[0] >= wait_stage or not is_open:
                if known[0] == upd.ACCEPTED and not is_open:
                    return upd.COMPLETED, upd.server_rejection(
                        upd.ACCEPTED_BUT_CLOSED, "AcceptedUpdateCompletedWorkflow"
                    )
                return known
            changed = entry.changed
        remaining = deadline - loop.time()
        if remaining <= 0:
            return (u.stage if u is not None else upd.ACCEPTED), None
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            pass
        left = u is not None and engine.updates.get(key, update_id) is None
        if left and u is not None and u.stage < upd.COMPLETED and u.error is None:
            u = None  # left the registry without an outcome: history answers now


def _ref(key: Key, update_id: str) -> UpdateRef:
    return UpdateRef(
        workflow_execution=WorkflowExecution(workflow_id=key[1], run_id=key[2]),
        update_id=update_id,
    )
