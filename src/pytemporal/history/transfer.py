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

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    CancelExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
    WorkflowIdConflictPolicy,
)
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.common import logcontext
from pytemporal.common.errors import NamespaceNotFound, NotFound, WorkflowAlreadyStarted
from pytemporal.history.api.start import ParentRef
from pytemporal.history.client import HistoryRoutes
from pytemporal.history.engine import Entry, HistoryEngine, Key, ShardNotOwned
from pytemporal.history.workflow import children
from pytemporal.history.workflow.state import MutableState, Transfer
from pytemporal.namespaces import NamespaceRegistry

log = logging.getLogger(__name__)
RETRY_DELAY = 1.0
# The identity Temporal records on changes the server itself makes.
SERVER_IDENTITY = "history-service"


class TransferProcessor:
    def __init__(
        self, engine: HistoryEngine, namespaces: NamespaceRegistry, routes: HistoryRoutes
    ) -> None:
        self.engine = engine
        self.namespaces = namespaces
        # The target-side step runs on the target workflow's owner, here or remotely.
        self.routes = routes
        self._inflight: set[tuple[Key, Transfer]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        engine.on_transfer = self.submit

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
        with logcontext.run_tags(key):
            await self._run_tagged(key, t)

    async def _run_tagged(self, key: Key, t: Transfer) -> None:
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

    async def _committed(self, key: Key) -> Entry:
        """The source run once no change to it is in flight: what is checked right
        after (open? still pending?) is committed, not a change that may yet fail."""
        async with self.engine.reading(key) as entry:
            return entry

    # -- children ------------------------------------------------------------------

    async def _start_child(self, key: Key, t: Transfer) -> None:
        entry = await self._committed(key)
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
        if initiated_event.HasField("user_metadata"):
            req.user_metadata.CopyFrom(initiated_event.user_metadata)
        parent = ParentRef(
            namespace=ms.namespace,
            namespace_id=ms.namespace_id,
            execution=WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id),
            initiated_event_id=t.ref,
            root=_root(ms),
        )
        try:
            history = self.routes.history(ns.id, attrs.workflow_id)
            run_id = await history.start_child(ns.name, req, parent)
        except WorkflowAlreadyStarted:
            cause = StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
            await self._finish(key, t, lambda m: _child_failed(m, t.ref, cause))
            return
        await self._finish(key, t, lambda m: _child_started(m, t.ref, run_id))

    async def _notify_parent(self, key: Key, t: Transfer) -> None:
        entry = await self._committed(key)
        ms = entry.ms
        parent_key = ms.parent_key
        if parent_key is not None:
            close = await self.engine.read_event(key, ms.close_event_id)
            await self.routes.history(parent_key[0], parent_key[1]).notify_parent(
                parent_key, ms.started.parent_initiated_event_id, ms.first_execution_run_id, close
            )
        await self._finish(key, t)

    async def _close_children(self, key: Key, t: Transfer) -> None:
        parent = WorkflowExecution(workflow_id=key[1], run_id=key[2])
        for ns_id, wf_id, run_id, policy in t.targets:
            history = self.routes.history(ns_id, wf_id)
            await history.close_child((ns_id, wf_id, run_id), policy, parent)
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
        entry = await self._committed(key)
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
            source = WorkflowExecution(workflow_id=ms.workflow_id, run_id=ms.run_id)
            initiated = await self.engine.read_event(key, t.ref)
            if t.kind == "cancel_external":
                a = initiated.request_cancel_external_workflow_execution_initiated_event_attributes
                history = self.routes.history(target[0], target[1])
                done = await history.cancel_external(target, source, t.ref, a.reason)
            elif target[1] != ms.workflow_id:  # a workflow cannot signal itself this way
                s = initiated.signal_external_workflow_execution_initiated_event_attributes
                history = self.routes.history(target[0], target[1])
                done = await history.signal_external(target, source, f"{ms.run_id}:{t.ref}", s)
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
