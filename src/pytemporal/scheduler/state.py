"""A schedule's durable state and the pure steps of Temporal's scheduler loop.

Follows service/worker/scheduler/workflow.go and buffer.go of Temporal's server:
`process_time_range` turns the spec's times between two instants into buffered
starts (or counts them as missed: catchup window), `process_buffer` applies the
overlap policies to the buffer, `record_close` handles a started workflow that
closed (pause on failure, last completion result / continued failure). Nothing here
does I/O: `scheduler/runtime.py` loads, runs these steps, starts workflows and
commits. Times are unix seconds (floats).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.api.common.v1 import Memo, Payloads, SearchAttributes
from temporalio.api.enums.v1 import ScheduleOverlapPolicy, WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.schedule.v1 import (
    BackfillRequest,
    Schedule,
    ScheduleActionResult,
    ScheduleInfo,
)

from pytemporal.common.protoutil import dur, dur_seconds, ts, ts_seconds
from pytemporal.scheduler.spec import CompiledSpec, ScheduledTime

SKIP = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_SKIP
BUFFER_ONE = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
BUFFER_ALL = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL
CANCEL_OTHER = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
TERMINATE_OTHER = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER
ALLOW_ALL = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL

# Temporal's CurrentTweakablePolicies.
DEFAULT_CATCHUP_WINDOW = 365 * 24 * 3600.0
MIN_CATCHUP_WINDOW = 10.0
FUTURE_ACTION_COUNT = 10
RECENT_ACTION_COUNT = 10
FUTURE_ACTION_COUNT_FOR_LIST = 5
RECENT_ACTION_COUNT_FOR_LIST = 5
MAX_BUFFER_SIZE = 1000
INITIAL_CONFLICT_TOKEN = 1

STATUS = WorkflowExecutionStatus


@dataclass
class BufferedStart:
    nominal: float
    actual: float
    overlap_policy: int
    manual: bool
    # Assigned when buffered: with the schedule, it names the start's request id, so a
    # start retried after a crash is recognized by history as the same start.
    seq: int


@dataclass
class ProcessBufferResult:
    non_overlapping: BufferedStart | None = None
    overlapping: list[BufferedStart] = field(default_factory=list)
    new_buffer: list[BufferedStart] = field(default_factory=list)
    overlap_skipped: int = 0
    need_cancel: bool = False
    need_terminate: bool = False


def process_buffer(
    buffer: list[BufferedStart], is_running: bool, default_policy: int
) -> ProcessBufferResult:
    """buffer.go ProcessBuffer: what to start now, what stays buffered, what is skipped."""
    out = ProcessBufferResult()
    for start in buffer:
        policy = start.overlap_policy or default_policy or SKIP
        if policy == ALLOW_ALL:
            out.overlapping.append(start)
            continue
        if not is_running and out.non_overlapping is None:
            out.non_overlapping = start
            continue
        if policy == SKIP:
            out.overlap_skipped += 1
        elif policy == BUFFER_ONE:
            if not out.new_buffer:
                out.new_buffer.append(start)
            else:
                out.overlap_skipped += 1
        elif policy == BUFFER_ALL:
            out.new_buffer.append(start)
        elif policy in (CANCEL_OTHER, TERMINATE_OTHER):
            if is_running:
                if policy == CANCEL_OTHER:
                    out.need_cancel = True
                else:
                    out.need_terminate = True
                out.new_buffer.append(start)
            else:
                out.non_overlapping = start
    if out.need_cancel or out.need_terminate:
        out.overlapping = []
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


@dataclass
class ScheduleState:
    namespace: str
    namespace_id: str
    schedule_id: str
    schedule: Schedule
    info: ScheduleInfo
    memo: Memo | None = None
    search_attributes: SearchAttributes = field(default_factory=SearchAttributes)
    conflict_token: int = INITIAL_CONFLICT_TOKEN
    last_processed: float = 0.0
    buffer: list[BufferedStart] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    next_seq: int = 1
    last_completion_result: Payloads | None = None
    continued_failure: Failure | None = None
    create_request_id: str = ""
    deleted: bool = False
    # The stored row's version (not part of the encoded state).
    db_version: int = 0
    # Set by process_time_range when its budget ran out (not stored).
    scan_stopped: float | None = None

    # -- encoding ----------------------------------------------------------------------

    def encode(self) -> bytes:
        doc = {
            "v": 1,
            "namespace": self.namespace,
            "namespace_id": self.namespace_id,
            "schedule_id": self.schedule_id,
            "schedule": _b64(self.schedule.SerializeToString()),
            "info": _b64(self.info.SerializeToString()),
            "memo": None if self.memo is None else _b64(self.memo.SerializeToString()),
            "search_attributes": _b64(self.search_attributes.SerializeToString()),
            "conflict_token": self.conflict_token,
            "last_processed": self.last_processed,
            "buffer": [
                [b.nominal, b.actual, b.overlap_policy, b.manual, b.seq] for b in self.buffer
            ],
            "backfills": [_b64(b.SerializeToString()) for b in self.backfills],
            "next_seq": self.next_seq,
            "last_completion_result": None
            if self.last_completion_result is None
            else _b64(self.last_completion_result.SerializeToString()),
            "continued_failure": None
            if self.continued_failure is None
            else _b64(self.continued_failure.SerializeToString()),
            "create_request_id": self.create_request_id,
            "deleted": self.deleted,
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes, db_version: int = 0) -> ScheduleState:
        d = json.loads(data)
        st = cls(
            namespace=d["namespace"],
            namespace_id=d["namespace_id"],
            schedule_id=d["schedule_id"],
            schedule=Schedule.FromString(_unb64(d["schedule"])),
            info=ScheduleInfo.FromString(_unb64(d["info"])),
            memo=None if d["memo"] is None else Memo.FromString(_unb64(d["memo"])),
            search_attributes=SearchAttributes.FromString(_unb64(d["search_attributes"])),
            conflict_token=d["conflict_token"],
            last_processed=d["last_processed"],
            buffer=[BufferedStart(b[0], b[1], b[2], b[3], b[4]) for b in d["buffer"]],
            backfills=[BackfillRequest.FromString(_unb64(b)) for b in d["backfills"]],
            next_seq=d["next_seq"],
            create_request_id=d["create_request_id"],
            deleted=d["deleted"],
            db_version=db_version,
        )
        if d["last_completion_result"] is not None:
            st.last_completion_result = Payloads.FromString(_unb64(d["last_completion_result"]))
        if d["continued_failure"] is not None:
            st.continued_failure = Failure.FromString(_unb64(d["continued_failure"]))
        return st

    # -- policies ----------------------------------------------------------------------

    def ensure_fields(self) -> None:
        """Defaults set eagerly, so that they show in DescribeSchedule (as Temporal)."""
        policies = self.schedule.policies
        policies.overlap_policy = policies.overlap_policy or SKIP
        policies.catchup_window.CopyFrom(dur(self.catchup_window()))
        self.schedule.state.SetInParent()
        self.schedule.spec.SetInParent()
        self.schedule.action.SetInParent()

    def catchup_window(self) -> float:
        p = self.schedule.policies
        if not p.HasField("catchup_window") or dur_seconds(p.catchup_window) == 0:
            return DEFAULT_CATCHUP_WINDOW
        return max(dur_seconds(p.catchup_window), MIN_CATCHUP_WINDOW)

    def resolve(self, policy: int) -> int:
        return policy or self.schedule.policies.overlap_policy or SKIP

    def jitter_seed(self) -> str:
        return f"{self.namespace_id}-{self.schedule_id}"

    def compiled(self) -> CompiledSpec | None:
        if self.info.invalid_schedule_error:
            return None
        return CompiledSpec(self.schedule.spec, jitter_seed=self.jitter_seed())

    def bump(self) -> None:
        self.conflict_token += 1

    def can_take_scheduled_action(self, manual: bool, decrement: bool) -> bool:
        if manual:
            return True
        state = self.schedule.state
        if state.paused:
            return False
        if not state.limited_actions:
            return True
        if state.remaining_actions > 0:
            if decrement:
                state.remaining_actions -= 1
                self.bump()
            return True
        return False

    # -- the loop's steps ----------------------------------------------------------------

    def add_start(self, nominal: float, actual: float, policy: int, manual: bool) -> None:
        if len(self.buffer) >= MAX_BUFFER_SIZE:
            self.info.buffer_dropped += 1
            return
        self.buffer.append(BufferedStart(nominal, actual, policy, manual, self.next_seq))
        self.next_seq += 1

    def process_time_range(
        self,
        cspec: CompiledSpec | None,
        start: float,
        end: float,
        policy: int,
        manual: bool,
        limit: list[int] | None = None,
        budget: list[int] | None = None,
    ) -> float | None:
        """Buffer the spec's times in (start, end]; the next time after them (None: none).

        With `budget`, at most that many times are looked at: when it runs out,
        `scan_stopped` is the last time looked at and the rest is left for later
        (a long outage of a frequent schedule must not hold the event loop)."""
        self.scan_stopped = None
        if cspec is None:
            return None
        if not self.can_take_scheduled_action(manual, False):
            nxt = cspec.next_time(_dt(end))
            return None if nxt is None else nxt.actual.timestamp()
        window = self.catchup_window()
        update_time = ts_seconds(self.info.update_time) if self.info.HasField("update_time") else 0
        nxt_t: ScheduledTime | None = cspec.next_time(_dt(start))
        while nxt_t is not None and nxt_t.actual.timestamp() <= end:
            actual = nxt_t.actual.timestamp()
            nominal = nxt_t.nominal.timestamp()
            if not manual and update_time > actual:
                pass  # reprocessing times before an update: discarded
            elif not manual and end - actual > window:
                self.info.missed_catchup_window += 1
            else:
                self.add_start(nominal, actual, policy, manual)
                if limit is not None:
                    limit[0] -= 1
                    if limit[0] <= 0:
                        return _after(cspec, nxt_t)
            if budget is not None:
                budget[0] -= 1
                if budget[0] <= 0:
                    self.scan_stopped = actual
                    return _after(cspec, nxt_t)
            nxt_t = cspec.next_time(nxt_t.actual)
        return None if nxt_t is None else nxt_t.actual.timestamp()

    def apply_patch_trigger(self, scheduled_time: float, policy: int) -> None:
        self.add_start(scheduled_time, scheduled_time, policy, True)

    def add_backfill(self, req: BackfillRequest) -> None:
        if len(self.backfills) >= MAX_BUFFER_SIZE:
            self.info.buffer_dropped += 1
            return
        bfr = BackfillRequest()
        bfr.CopyFrom(req)
        # Inclusive start, as Temporal's InclusiveBackfillStartTime.
        bfr.start_time.CopyFrom(ts(ts_seconds(req.start_time) - 0.001))
        self.backfills.append(bfr)

    def process_backfills(self, cspec: CompiledSpec | None, per_wake: int) -> None:
        limit = [per_wake]
        while self.backfills and limit[0] > 0 and len(self.buffer) < MAX_BUFFER_SIZE // 2:
            bfr = self.backfills[0]
            start = ts_seconds(bfr.start_time)
            end = ts_seconds(bfr.end_time)
            nxt = self.process_time_range(cspec, start, end, bfr.overlap_policy, True, limit)
            if nxt is None or nxt > end:
                self.backfills.pop(0)
            else:
                bfr.start_time.CopyFrom(ts(_before(nxt)))

    def record_action(self, result: ScheduleActionResult, non_overlapping: bool) -> None:
        self.info.action_count += 1
        self.info.recent_actions.append(result)
        while len(self.info.recent_actions) > RECENT_ACTION_COUNT:
            del self.info.recent_actions[0]
        if non_overlapping:
            self.info.running_workflows.append(result.start_workflow_result)

    def record_close(
        self,
        workflow_id: str,
        status: int,
        result: Payloads | None,
        failure: Failure | None,
    ) -> None:
        """workflow.go processWatcherResult: a workflow this schedule started closed."""
        running = self.info.running_workflows
        for i, ex in enumerate(running):
            if ex.workflow_id == workflow_id:
                del running[i]
                break
        for action in self.info.recent_actions:
            if action.start_workflow_result.workflow_id == workflow_id:
                action.start_workflow_status = status  # type: ignore[assignment]
        failed = status in (
            STATUS.WORKFLOW_EXECUTION_STATUS_FAILED,
            STATUS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
        )
        state = self.schedule.state
        if self.schedule.policies.pause_on_failure and failed and not state.paused:
            state.paused = True
            if status == STATUS.WORKFLOW_EXECUTION_STATUS_FAILED:
                message = failure.message if failure is not None else ""
                state.notes = f"paused due to workflow failure: {workflow_id}: {message}"
            else:
                state.notes = f"paused due to workflow timeout: {workflow_id}"
            self.bump()
        if result is not None:
            self.last_completion_result = result
            self.continued_failure = None
        elif failure is not None:
            self.continued_failure = failure

    def future_action_times(self, n: int) -> list[float]:
        cspec = self.compiled()
        if cspec is None:
            return []
        if self.schedule.state.limited_actions:
            n = min(n, self.schedule.state.remaining_actions)
        update_time = ts_seconds(self.info.update_time) if self.info.HasField("update_time") else 0
        out: list[float] = []
        t = _dt(self.last_processed)
        while len(out) < n:
            nxt = cspec.next_time(t)
            if nxt is None:
                break
            t = nxt.actual
            if update_time > t.timestamp():
                continue
            out.append(t.timestamp())
        return out

    def workflow_id_for(self, start: BufferedStart) -> str:
        # Temporal's server (1.32) stores keep_original_workflow_id but still appends
        # the time (AlwaysAppendTimestamp); so do we.
        base = self.schedule.action.start_workflow.workflow_id
        nominal = datetime.fromtimestamp(int(start.nominal // 1), UTC)
        return f"{base}-{nominal.strftime('%Y-%m-%dT%H:%M:%SZ')}"

    def request_id_for(self, start: BufferedStart) -> str:
        name = f"{self.namespace_id}/{self.schedule_id}/{start.seq}/{start.nominal}/{start.manual}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

    def paused_search_attribute(self) -> bool:
        return self.schedule.state.paused


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _after(cspec: CompiledSpec, t: ScheduledTime) -> float | None:
    nxt = cspec.next_time(t.actual)
    return None if nxt is None else nxt.actual.timestamp()


def _before(t: float) -> float:
    # A backfill continues with the times after `start` (exclusive): start just before.
    return t - 0.001
