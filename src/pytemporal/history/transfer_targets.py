"""The target side of cross-workflow work: what happens to the other workflow.

Each function takes JSON-able arguments, so the transfer processor can run it here
when this process owns the target's shard, or ask the owner to run it (internal RPC).
Every one is idempotent: deliveries are repeated after crashes.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ParentClosePolicy
from temporalio.api.history.v1 import (
    HistoryEvent,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.cluster.internal import unb64
from pytemporal.common.errors import NotFound
from pytemporal.history.api import start
from pytemporal.history.engine import HistoryEngine
from pytemporal.history.workflow import children, lifecycle
from pytemporal.namespaces import NamespaceRegistry

# The identity Temporal records on changes the server itself makes.
SERVER_IDENTITY = "history-service"


def _key(value: list[str]) -> tuple[str, str, str]:
    return value[0], value[1], value[2]


def _execution(value: list[str]) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=value[0], run_id=value[1])


async def start_child(
    engine: HistoryEngine, namespaces: NamespaceRegistry, args: dict[str, Any]
) -> str:
    """Start the child (raises WorkflowAlreadyStarted); its run id."""
    ns = namespaces.get(args["namespace"])
    req = StartWorkflowExecutionRequest.FromString(unb64(args["request"]))
    p = args["parent"]
    parent = start.ParentRef(
        namespace=p["namespace"],
        namespace_id=p["namespace_id"],
        execution=_execution(p["execution"]),
        initiated_event_id=p["initiated_event_id"],
        root=_execution(p["root"]),
    )
    res = await start.start(engine, ns, req, parent=parent)
    return res.run_id


async def notify_parent(engine: HistoryEngine, args: dict[str, Any]) -> None:
    close = HistoryEvent.FromString(unb64(args["close"]))
    try:
        async with engine.locked(_key(args["parent"])) as parent:
            pms = parent.ms
            child = pms.children.get(args["initiated"])
            if pms.is_open and child is not None:
                if not child.run_id:
                    children.child_started(pms, child, args["first_run_id"])
                children.child_closed(pms, child, close)
                await engine.commit_one(parent)
    except NotFound:
        pass


async def close_child(engine: HistoryEngine, args: dict[str, Any]) -> None:
    ns_id, wf_id, run_id = _key(args["child"])
    current = await engine.store.get_current_run(ns_id, wf_id)
    target = (ns_id, wf_id, current.run_id if current else run_id)
    try:
        async with engine.locked(target) as child:
            cms = child.ms
            if not cms.is_open:
                return
            if args["policy"] == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE:
                lifecycle.terminate(cms, "by parent close policy", None, SERVER_IDENTITY)
            elif not cms.cancel_requested:
                lifecycle.request_cancel(
                    cms, "", SERVER_IDENTITY, external=_execution(args["parent"])
                )
            await engine.commit_one(child)
    except NotFound:
        pass


async def signal(engine: HistoryEngine, args: dict[str, Any]) -> bool:
    """Deliver an external signal; False if the target is gone or closed."""
    attrs = SignalExternalWorkflowExecutionInitiatedEventAttributes.FromString(unb64(args["attrs"]))
    request_id = args["request_id"]
    try:
        async with engine.locked(_key(args["target"])) as entry:
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
                    external=_execution(args["source"]),
                )
                await engine.commit_one(entry)
            return True
    except NotFound:
        return False


async def cancel(engine: HistoryEngine, args: dict[str, Any]) -> bool:
    """Deliver an external cancel request; False if the target does not exist."""
    try:
        async with engine.locked(_key(args["target"])) as entry:
            tms = entry.ms
            if tms.is_open and not tms.cancel_requested:
                lifecycle.request_cancel(
                    tms,
                    args["reason"],
                    SERVER_IDENTITY,
                    external=_execution(args["source"]),
                    external_initiated_event_id=args["ref"],
                )
                await engine.commit_one(entry)
            return True
    except NotFound:
        return False
