"""The schedule RPCs: validate as Temporal's frontend does, then act on the schedule
through the scheduler of this process (`scheduler/runtime.py`).

In a cluster the routing interceptor has already forwarded the call to the owner of
the schedule's shard (`frontend/routing.py`, keyed by `temporal-sys-scheduler:<id>`),
so every change is made under the schedule's lock in the process that fires it.
Error statuses and messages are those of Temporal's dev server (the workflow-backed
scheduler): e.g. a schedule that never existed is NOT_FOUND "workflow not found for
ID: temporal-sys-scheduler:<id>", one that was deleted "schedule not found".
"""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import SearchAttributes
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.api.schedule.v1 import (
    Schedule,
    ScheduleInfo,
    ScheduleListEntry,
    ScheduleListInfo,
    SchedulePatch,
)
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    WorkflowAlreadyStarted,
)
from pytemporal.common.protoutil import ts, ts_seconds
from pytemporal.frontend import validation
from pytemporal.frontend.visibility_service import VisibilityStore, parse_filter
from pytemporal.history.workflow import durations
from pytemporal.namespaces import Namespace, NamespaceRegistry
from pytemporal.persistence.api import VisibilityCursor
from pytemporal.scheduler import keys
from pytemporal.scheduler.runtime import Scheduler
from pytemporal.scheduler.spec import SpecError, canonicalize, matching_times_response
from pytemporal.scheduler.state import (
    FUTURE_ACTION_COUNT,
    FUTURE_ACTION_COUNT_FOR_LIST,
    RECENT_ACTION_COUNT_FOR_LIST,
    ScheduleState,
)
from pytemporal.visibility import attributes as sa
from pytemporal.visibility.query import And, Compare, Expr

# Temporal's common.ScheduleNotesSizeLimit.
NOTES_LIMIT = 1000
MAX_PAGE_SIZE = 1000


def token_bytes(token: int) -> bytes:
    return token.to_bytes(8, "big")


def _not_found(schedule_id: str) -> NotFound:
    return NotFound(f"workflow not found for ID: {keys.WORKFLOW_ID_PREFIX}{schedule_id}")


class ScheduleService:
    def __init__(
        self,
        namespaces: NamespaceRegistry,
        scheduler: Scheduler,
        visibility: VisibilityStore,
        blob_limit: int,
    ) -> None:
        self.namespaces = namespaces
        self.scheduler = scheduler
        self.visibility = visibility
        self.blob_limit = blob_limit

    # -- validation ----------------------------------------------------------------------

    def _schedule_id(self, schedule_id: str) -> None:
        if not schedule_id:
            raise InvalidArgument("Can't load workflow execution.  WorkflowId not set.")
        if len(keys.WORKFLOW_ID_PREFIX + schedule_id) > validation.MAX_ID_LENGTH:
            raise InvalidArgument("WorkflowId exceeds length limit.")

    def _schedule(self, ns: Namespace, schedule: Schedule) -> Schedule:
        """workflow_handler.go canonicalizeScheduleSpec + validateStartWorkflowArgsForSchedule."""
        out = Schedule()
        out.CopyFrom(schedule)
        try:
            out.spec.CopyFrom(canonicalize(schedule.spec))
        except SpecError as e:
            raise InvalidArgument(str(e)) from e
        if not out.action.HasField("start_workflow"):
            return out
        nw = out.action.start_workflow
        validation.require(nw.workflow_type.name, "WorkflowType")
        if not nw.task_queue.name:
            raise InvalidArgument("missing task queue name")
        if not nw.task_queue.kind:
            nw.task_queue.kind = TaskQueueKind.TASK_QUEUE_KIND_NORMAL
        durations.check_request(nw)
        if nw.cron_schedule:
            raise InvalidArgument("Scheduled workflow must not contain CronSchedule")
        if nw.workflow_id_reuse_policy not in (0, 1):
            raise InvalidArgument("Scheduled workflow must not contain WorkflowIDReusePolicy")
        validation.search_attributes(ns, nw.search_attributes)
        validation.blob(nw.input, self.blob_limit)
        validation.blob(nw.memo, self.blob_limit)
        return out

    def _patch(self, patch: SchedulePatch) -> None:
        if len(patch.pause) > NOTES_LIMIT or len(patch.unpause) > NOTES_LIMIT:
            raise InvalidArgument("Schedule notes exceeds limit.")

    async def _existing(self, ns: Namespace, schedule_id: str) -> ScheduleState:
        st = await self.scheduler.load(ns.id, schedule_id)
        if st is None:
            raise _not_found(schedule_id)
        if st.deleted:
            raise NotFound("workflow execution already completed")
        return st

    # -- RPCs ----------------------------------------------------------------------------

    async def create(self, req: Any) -> rr.CreateScheduleResponse:
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        validation.require(req.request_id, "RequestId")
        schedule = self._schedule(ns, req.schedule)
        validation.search_attributes(ns, req.search_attributes)
        self._patch(req.initial_patch)
        sched = self.scheduler
        async with sched.locked(ns.id, req.schedule_id):
            old = await sched.load(ns.id, req.schedule_id)
            if old is not None and not old.deleted:
                if old.create_request_id == req.request_id:
                    return rr.CreateScheduleResponse(conflict_token=token_bytes(old.conflict_token))
                raise WorkflowAlreadyStarted(
                    f'schedule "{req.schedule_id}" is already registered',
                    start_request_id=old.create_request_id,
                    run_id=keys.RUN_ID,
                    first_execution_run_id=keys.RUN_ID,
                )
            now = sched.clock.now()
            st = ScheduleState(
                namespace=ns.name,
                namespace_id=ns.id,
                schedule_id=req.schedule_id,
                schedule=schedule,
                info=ScheduleInfo(create_time=ts(now)),
                memo=req.memo if req.HasField("memo") else None,
                search_attributes=req.search_attributes,
                last_processed=now,
                create_request_id=req.request_id,
                db_version=old.db_version if old is not None else 0,
            )
            st.ensure_fields()
            self._apply_patch(st, req.initial_patch, now)
            await self._run(st, req.initial_patch, now)
            return rr.CreateScheduleResponse(conflict_token=token_bytes(st.conflict_token))

    async def describe(self, req: Any) -> rr.DescribeScheduleResponse:
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        st = await self.scheduler.load(ns.id, req.schedule_id)
        if st is None:
            raise _not_found(req.schedule_id)
        if st.deleted:
            raise NotFound("schedule not found")
        info = ScheduleInfo()
        info.CopyFrom(st.info)
        info.future_action_times.extend(ts(t) for t in st.future_action_times(FUTURE_ACTION_COUNT))
        info.buffer_size = len(st.buffer)
        resp = rr.DescribeScheduleResponse(
            schedule=st.schedule,
            info=info,
            search_attributes=_typed(ns, st.search_attributes),
            conflict_token=token_bytes(st.conflict_token),
        )
        if st.memo is not None:
            resp.memo.CopyFrom(st.memo)
        # The action's workflow attributes come back typed too, as from Temporal (1.24+).
        action = resp.schedule.action.start_workflow
        if action.search_attributes.indexed_fields:
            action.search_attributes.CopyFrom(_typed(ns, action.search_attributes))
        return resp

    async def update(self, req: Any) -> rr.UpdateScheduleResponse:
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        schedule = self._schedule(ns, req.schedule)
        if req.HasField("search_attributes"):
            validation.search_attributes(ns, req.search_attributes)
        if req.HasField("memo"):
            # Temporal's workflow-backed schedules (its dev server) refuse this too.
            raise FailedPrecondition("memo updates are not supported on workflow-backed schedules")
        sched = self.scheduler
        async with sched.locked(ns.id, req.schedule_id):
            st = await self._existing(ns, req.schedule_id)
            token = (
                int.from_bytes(req.conflict_token[:8], "big") if len(req.conflict_token) >= 8 else 0
            )
            if token and token != st.conflict_token:
                # As Temporal's scheduler: a conflicting update is dropped, not an error.
                return rr.UpdateScheduleResponse()
            now = sched.clock.now()
            st.schedule.CopyFrom(schedule)
            st.ensure_fields()
            st.info.invalid_schedule_error = ""
            if req.HasField("search_attributes"):
                st.search_attributes.CopyFrom(req.search_attributes)
            st.info.update_time.CopyFrom(ts(now))
            st.bump()
            await sched.run(st)
        return rr.UpdateScheduleResponse()

    async def patch(self, req: Any) -> rr.PatchScheduleResponse:
        if not req.HasField("patch"):
            raise InvalidArgument("Patch is not set on request.")
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        self._patch(req.patch)
        sched = self.scheduler
        async with sched.locked(ns.id, req.schedule_id):
            st = await self._existing(ns, req.schedule_id)
            now = sched.clock.now()
            self._apply_patch(st, req.patch, now)
            await self._run(st, req.patch, now)
        return rr.PatchScheduleResponse()

    async def _run(self, st: ScheduleState, patch: SchedulePatch, now: float) -> None:
        if patch.HasField("trigger_immediately") or patch.backfill_request:
            # Buffered durably before anything starts: if this process dies before the
            # next commit, the timer (due now) replays these starts with the same ids.
            await self.scheduler.commit(st, now)
        await self.scheduler.run(st)

    def _apply_patch(self, st: ScheduleState, patch: SchedulePatch, now: float) -> None:
        """workflow.go processPatch."""
        if patch.HasField("trigger_immediately"):
            trigger = patch.trigger_immediately
            when = ts_seconds(trigger.scheduled_time) if trigger.HasField("scheduled_time") else now
            st.apply_patch_trigger(when or now, trigger.overlap_policy)
        for bfr in patch.backfill_request:
            st.add_backfill(bfr)
        if patch.pause:
            st.schedule.state.paused = True
            st.schedule.state.notes = patch.pause
            st.bump()
        if patch.unpause:
            st.schedule.state.paused = False
            st.schedule.state.notes = patch.unpause
            st.bump()

    async def delete(self, req: Any) -> rr.DeleteScheduleResponse:
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        sched = self.scheduler
        async with sched.locked(ns.id, req.schedule_id):
            st = await self._existing(ns, req.schedule_id)
            st.deleted = True
            await sched.commit(st, None)
        return rr.DeleteScheduleResponse()

    async def list(self, req: Any) -> rr.ListSchedulesResponse:
        ns = self.namespaces.get(req.namespace)
        where = _schedules_filter(ns, req.query)
        size = (
            req.maximum_page_size if 0 < req.maximum_page_size <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
        )
        after = _parse_token(req.next_page_token) if req.next_page_token else None
        rows = await self.visibility.list_executions(
            ns.id + keys.NAMESPACE_SUFFIX, where, page_size=size + 1, after=after
        )
        more = len(rows) > size
        rows = rows[:size]
        resp = rr.ListSchedulesResponse()
        for row in rows:
            st = ScheduleState.decode(row.state)
            resp.schedules.append(_list_entry(ns, st))
        if more:
            resp.next_page_token = _token(rows[-1].cursor)
        return resp

    async def matching_times(self, req: Any) -> rr.ListScheduleMatchingTimesResponse:
        ns = self.namespaces.get(req.namespace)
        self._schedule_id(req.schedule_id)
        st = await self._existing(ns, req.schedule_id)
        try:
            return matching_times_response(st.schedule.spec, req, jitter_seed=st.jitter_seed())
        except SpecError as e:
            raise InvalidArgument(str(e)) from e


def _schedules_filter(ns: Namespace, query: str) -> Expr:
    alive = Compare(sa.Attribute(sa.EXECUTION_STATUS, sa.KEYWORD, system=True), "=", 1)
    if not query:
        return alive
    where = parse_filter(ns, query).where
    return alive if where is None else And(alive, where)


def _typed(ns: Namespace, attrs: SearchAttributes) -> SearchAttributes:
    out = SearchAttributes()
    out.CopyFrom(attrs)
    for name, payload in out.indexed_fields.items():
        typ = ns.search_attributes.get(name) or sa.PREDEFINED.get(name)
        if typ and "type" not in payload.metadata:
            payload.metadata["type"] = typ.encode()
    return out


def _list_entry(ns: Namespace, st: ScheduleState) -> ScheduleListEntry:
    info = ScheduleListInfo(
        spec=st.schedule.spec,
        workflow_type=st.schedule.action.start_workflow.workflow_type,
        notes=st.schedule.state.notes,
        paused=st.schedule.state.paused,
        recent_actions=st.info.recent_actions[-RECENT_ACTION_COUNT_FOR_LIST:],
        future_action_times=[ts(t) for t in st.future_action_times(FUTURE_ACTION_COUNT_FOR_LIST)],
    )
    entry = ScheduleListEntry(schedule_id=st.schedule_id, info=info)
    if st.search_attributes.indexed_fields:
        entry.search_attributes.CopyFrom(_typed(ns, st.search_attributes))
    entry.memo.CopyFrom(st.memo) if st.memo is not None else entry.memo.SetInParent()
    return entry


def _token(c: VisibilityCursor) -> bytes:
    return json.dumps({"close": c.close_time, "start": c.start_time, "run": c.run_id}).encode()


def _parse_token(data: bytes) -> VisibilityCursor:
    try:
        d = json.loads(data)
        close = None if d["close"] is None else float(d["close"])
        return VisibilityCursor(close, float(d["start"]), str(d["run"]))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidArgument("Invalid NextPageToken.") from e
