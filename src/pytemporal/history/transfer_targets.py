"""The target side of cross-workflow work: what happens to the other workflow.

These run on the process that owns the target workflow: called in-process by
`history/client.py`'s `LocalHistoryClient`, which the transfer processor reaches
through the redirector, here or on the owner (`rpc/`). Every one is idempotent:
deliveries are repeated after crashes.
"""

from __future__ import annotations

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ParentClosePolicy
from temporalio.api.history.v1 import (
    HistoryEvent,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.common.errors import NotFound
from pytemporal.history.api import start
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.history.workflow import children, lifecycle
from pytemporal.namespaces import NamespaceRegistry

# The identity Temporal records on changes the server itself makes.
SERVER_IDENTITY = "history-service"


async def start_child(
    engine: HistoryEngine,
    namespaces: NamespaceRegistry,
    namespace: str,
    request: StartWorkflowExecutionRequest,
    parent: start.ParentRef,
) -> str:
    """Start the child (raises WorkflowAlreadyStarted); its run id."""
    res = await start.start(engine, namespaces.get(namespace), request, parent=parent)
    return res.run_id


async def notify_parent(
    engine: HistoryEngine,
    parent_key: Key,
    initiated_event_id: int,
    first_execution_run_id: str,
    close: HistoryEvent,
) -> None:
    try:
        async with engine.locked(parent_key) as parent:
            pms = parent.ms
            child = pms.children.get(initiated_event_id)
            if pms.is_open and child is not None:
                if not child.run_id:
                    children.child_started(pms, child, first_execution_run_id)
                children.child_closed(pms, child, close)
                await engine.commit_one(parent)
    except NotFound:
        pass


async def close_child(
    engine: HistoryEngine, child_key: Key, policy: int, parent: WorkflowExecution
) -> None:
    ns_id, wf_id, run_id = child_key
    current = await engine.store.get_current_run(ns_id, wf_id)
    target = (ns_id, wf_id, current.run_id if current else run_id)
    try:
        async with engine.locked(target) as child:
            cms = child.ms
            if not cms.is_open:
                return
            if policy == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE:
                lifecycle.terminate(cms, "by parent close policy", None, SERVER_IDENTITY)
            elif not cms.cancel_requested:
                lifecycle.request_cancel(cms, "", SERVER_IDENTITY, external=parent)
            await engine.commit_one(child)
    except NotFound:
        pass


async def signal(
    engine: HistoryEngine,
    target: Key,
    source: WorkflowExecution,
    request_id: str,
    attrs: SignalExternalWorkflowExecutionInitiatedEventAttributes,
) -> bool:
    """Deliver an external signal; False if the target is gone or closed."""
    try:
        async with engine.locked(target) as entry:
            tms = entry.ms
            if not tms.is_open:
                return False
            if request_id not in tms.signal_request_ids:
                lifecycle.signal(
                    tms,
                    attrs.signal_name,
                    attrs.input,
                    SERVER_IDENTITY,
                    attrs.header,
                    request_id,
                    external=source,
                )
                await engine.commit_one(entry)
            return True
    except NotFound:
        return False


async def cancel(
    engine: HistoryEngine,
    target: Key,
    source: WorkflowExecution,
    initiated_event_id: int,
    reason: str,
) -> bool:
    """Deliver an external cancel request; False if the target does not exist."""
    try:
        async with engine.locked(target) as entry:
            tms = entry.ms
            if tms.is_open and not tms.cancel_requested:
                lifecycle.request_cancel(
                    tms,
                    reason,
                    SERVER_IDENTITY,
                    external=source,
                    external_initiated_event_id=initiated_event_id,
                )
                await engine.commit_one(entry)
            return True
    except NotFound:
        return False
