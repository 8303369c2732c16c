"""Delivers cross-workflow work recorded in a run's outbox (transactional outbox).

A command that affects another workflow (start a child, signal or cancel an external
workflow, a closing parent's policies, a closing child's result) is written into the
source run's `outbox` in the same transaction as its event. After the commit this
processor performs the effect on the target, idempotently, and then records the
outcome on the source while removing the outbox entry. A crash in between repeats the
effect after restart, which is why every effect is idempotent (deterministic request
ids, "already done" checks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    CancelExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
    WorkflowIdConflictPolicy,
)
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.cluster.internal import b64
from pytemporal.common.errors import (
    NamespaceNotFound,
    NotFound,
    Unavailable,
    WorkflowAlreadyStarted,
)
from pytemporal.history import transfer_targets as targets
from pytemporal.history.engine import HistoryEngine, Key, ShardNotOwned
from pytemporal.history.workflow import children
from pytemporal.history.workflow.state import MutableState, Transfer
from pytemporal.namespaces import NamespaceRegistry

log = logging.getLogger(__name__)
RETRY_DELAY = 1.0
# The identity Temporal records on changes the server itself makes.
SERVER_IDENTITY = "history-service"


class TransferProcessor:
    def __init__(self, engine: HistoryEngine, namespaces: NamespaceRegistry) -> None:
        self.engine = engine
        self.namespaces = namespaces
        self._inflight: set[tuple[Key, Transfer]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        engine.on_transfer = self.submit
        self._local: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "transfer.start_child": lambda a: targets.start_child(engine, namespaces, a),
            "transfer.notify_parent": lambda a: targets.notify_parent(engine, a),
            "transfer.close_child": lambda a: targets.close_child(engine, a),
            "transfer.signal": lambda a: targets.signal(engine, a),
            "transfer.cancel": lambda a: targets.cancel(engine, a),
        }

    def register_handlers(self, service: Any) -> None:
        """Let other processes run target-side steps on workflows this one owns."""
        for name, fn in self._local.items():
            service.register(name, fn)

    def submit(self, key: Key, t: Transfer) -> None:
        if (key, t) in self._inflight:
            return
        self._inflight.add((key, t))
        task = asyncio.get_running_loop().create_task(self._run(key, t))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, key: Key, t: Transfer) -> None:
        try:
            while True:
                try:
                    await self._deliver(key, t)
                    return
                except (NotFound, ShardNotOwned):
                    return  # the source is gone, or its new owner delivers this now
                except Exception:
                    log.exception("delivering %s from %s failed; retrying", t.kind, key)
                    await asyncio.sleep(RETRY_DELAY)
        finally:
            self._inflight.discard((key, t))

    async def _deliver(self, key: Key, t: Transfer) -> None:
        handler = {
            "start_child": self._start_child,
            "signal_external": self._external,
            "cancel_external": self._external,
            "notify_parent": self._notify_parent,
            "close_children": self._close_children,
        }[t.kind]
        await handler(key, t)

    async def _finish(self, key: Key, t: Transfer, apply: object = None) -> None:
        """Remove `t` from the source's outbox, recording its outcome with `apply`."""
        async with self.engine.locked(key) as entry:
            ms = entry.ms
            if t not in ms.outbox:
                return
            ms.outbox.remove(t)
            ms.dirty = True
            if apply is not None and ms.is_open:
                apply(ms)  # type: ignore[operator]
            await self.engine.commit_one(entry)

    async def _at(self, ns_id: str, wf_id: str, name: str, args: dict[str, Any]) -> Any:
        """Run a target-side step on the process that owns the target workflow."""
        if self.engine.owns((ns_id, wf_id, "")):
            return await self._local[name](args)
        owner = self.engine.cluster.owner(self.engine.cluster.workflow_shard(ns_id, wf_id))
        if owner is None or self.engine.internal is None:
            raise Unavailable(f"no owner for workflow {wf_id} right now")
        return await self.engine.internal.call(owner, name, args)

    # -- children ------------------------------------------------------------------

    async def _start_child(self, key: Key, t: Transfer) -> None:
        entry = await self.engine.get(key)
        ms = entry.ms
        child = ms.children.get(t.ref)
        if not ms.is_open or child is None or child.run_id:
            await self._finish(key, t)
            return
        initiated_event = await self.engine.read_event(key, t.ref)
        attrs = initiated_event.start_child_workflow_execution_initiated_event_attributes
        try:
            ns = self.namespaces.get(attrs.namespace)
        except NamespaceNotFound:
            cause = StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND
            await self._finish(key, t, lambda m: _child_failed(m, t.ref, cause))
            return
        req = StartWorkflowExecutionRequest(
            namespace=ns.name,
            workflow_id=attrs.workflow_id,
            workflow_type=attrs.workflow_type,
            task_queue=attrs.task_queue,
            input=attrs.input,
            workflow_execution_timeout=attrs.workflow_execution_timeout,
            workflow_run_timeout=attrs.workflow_run_timeout,
            workflow_task_timeout=attrs.workflow_task_timeout,
            # Deterministic, so a repeated delivery finds the child it already started.
            request_id=f"{ms.run_id}:{t.ref}",
            workflow_id_reuse_policy=attrs.workflow_id_reuse_policy,
            workflow_id_conflict_policy=WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
            cron_schedule=attrs.cron_schedule,
            memo=attrs.memo,
            search_attributes=attrs.search_attributes,
            header=attrs.header,
            priority=attrs.priority,
        )
        if attrs.HasField("retry_policy"):
            req.retry_policy.CopyFrom(attrs.retry_policy)
        root = _root(ms)
        args = {
            "namespace": ns.name,
            "request": b64(req.SerializeToString()),
            "parent": {
                "namespace": ms.namespace,
                "namespace_id": ms.namespace_id,
                "execution": [ms.workflow_id, ms.run_id],
                "initiated_event_id": t.ref,
                "root": [root.workflow_id, root.run_id],
            },
        }
        try:
            run_id = await self._at(ns.id, attrs.workflow_id, "transfer.start_child", args)
        except WorkflowAlreadyStarted:
            cause = StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
            await self._finish(key, t, lambda m: _child_failed(m, t.ref, cause))
            return
        await self._finish(key, t, lambda m: _child_started(m, t.ref, run_id))

    async def _notify_parent(self, key: Key, t: Transfer) -> None:
        entry = await self.engine.get(key)
        ms = entry.ms
        parent_key = ms.parent_key
        if parent_key is not None:
            close = await self.engine.read_event(key, ms.close_event_id)
            args = {
                "parent": list(parent_key),
                "initiated": ms.started.parent_initiated_event_id,
                "first_run_id": ms.first_execution_run_id,
                "close": b64(close.SerializeToString()),
            }
            await self._at(parent_key[0], parent_key[1], "transfer.notify_parent", args)
        await self._finish(key, t)

    async def _close_children(self, key: Key, t: Transfer) -> None:
        for ns_id, wf_id, run_id, policy in t.targets:
            args = {"child": [ns_id, wf_id, run_id], "policy": policy, "parent": [key[1], key[2]]}
            await self._at(ns_id, wf_id, "transfer.close_child", args)
        await self._finish(key, t)

    # -- external workflows --------------------------------------------------------

    async def _target(self, ext_ns_id: str, namespace: str, wf_id: str, run_id: str) -> Key | None:
        ns_id = ext_ns_id or self.namespaces.get(namespace).id
        if run_id:
            return ns_id, wf_id, run_id
        current = await self.engine.store.get_current_run(ns_id, wf_id)
        return (ns_id, wf_id, current.run_id) if current else None

    async def _external(self, key: Key, t: Transfer) -> None:
        """Signal or cancel another workflow (`t.kind` says which), then record how it went."""
        entry = await self.engine.get(key)
        ms = entry.ms
        ext = ms.externals.get(t.ref)
        if not ms.is_open or ext is None:
            await self._finish(key, t)
            return
        # The signal and cancel failure causes share their numbers.
        cause = CancelExternalWorkflowExecutionFailedCause.CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
        try:
            target = await self._target(
                ext.namespace_id, ext.namespace, ext.workflow_id, ext.run_id
            )
        except NamespaceNotFound:
            target = None
            cause = CancelExternalWorkflowExecutionFailedCause.CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND
        done = False
        if target is not None:
            args: dict[str, Any] = {
                "target": list(target),
                "source": [ms.workflow_id, ms.run_id],
                "ref": t.ref,
            }
            initiated = await self.engine.read_event(key, t.ref)
            if t.kind == "cancel_external":
                a = initiated.request_cancel_external_workflow_execution_initiated_event_attributes
                args["reason"] = a.reason
                done = bool(await self._at(target[0], target[1], "transfer.cancel", args))
            elif target[1] != ms.workflow_id:  # a workflow cannot signal itself this way
                s = initiated.signal_external_workflow_execution_initiated_event_attributes
                args["request_id"] = f"{ms.run_id}:{t.ref}"
                args["attrs"] = b64(s.SerializeToString())
                done = bool(await self._at(target[0], target[1], "transfer.signal", args))
        if done:
            await self._finish(key, t, lambda m: _external_done(m, t.ref))
        else:
            await self._finish(key, t, lambda m: _external_failed(m, t.ref, cause))


def _root(ms: MutableState) -> WorkflowExecution:
    if ms.started.HasField("root_workflow_execution"):
        return ms.started.root_workflow_execution
    return WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id)


def _child_started(ms: MutableState, ref: int, run_id: str) -> None:
    child = ms.children.get(ref)
    if child is not None and not child.run_id:
        children.child_started(ms, child, run_id)


def _child_failed(ms: MutableState, ref: int, cause: int) -> None:
    child = ms.children.get(ref)
    if child is not None:
        children.child_start_failed(ms, child, cause)


def _external_done(ms: MutableState, ref: int) -> None:
    ext = ms.externals.get(ref)
    if ext is not None:
        children.external_done(ms, ext)


def _external_failed(ms: MutableState, ref: int, cause: int) -> None:
    ext = ms.externals.get(ref)
    if ext is not None:
        children.external_failed(ms, ext, cause)
