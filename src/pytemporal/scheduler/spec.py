"""Evaluation of Temporal schedule specs (WORK IN PROGRESS: interface first).

The interface is stable; evaluation follows Temporal's scheduler
(service/worker/scheduler/spec.go, calendar.go).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.schedule.v1 import ScheduleSpec
from temporalio.api.workflowservice.v1 import (
    ListScheduleMatchingTimesRequest,
    ListScheduleMatchingTimesResponse,
)

MAX_MATCHING_TIMES = 1000


class SpecError(ValueError):
    """An invalid schedule spec; the message is Temporal's (for INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class ScheduledTime:
    nominal: datetime
    actual: datetime


def canonicalize(spec: ScheduleSpec) -> ScheduleSpec:
    out = ScheduleSpec()
    out.CopyFrom(spec)
    return out


class CompiledSpec:
    def __init__(self, spec: ScheduleSpec, *, jitter_seed: str = "") -> None:
        self.spec = canonicalize(spec)
        self.jitter_seed = jitter_seed

    def next_time(self, after: datetime) -> ScheduledTime | None:
        best: int | None = None
        ts = int(after.timestamp() // 1)
        for iv in self.spec.interval:
            interval = max(iv.interval.seconds, 1)
            phase = max(iv.phase.seconds, 0)
            nxt = ((ts - phase) // interval + 1) * interval + phase
            best = nxt if best is None else min(best, nxt)
        if best is None:
            return None
        t = datetime.fromtimestamp(best, UTC)
        return ScheduledTime(t, t)

    def matching_times(self, start: datetime, end: datetime) -> list[datetime]:
        out: list[datetime] = []
        t = start
        for _ in range(MAX_MATCHING_TIMES):
            res = self.next_time(t)
            if res is None or res.actual > end:
                break
            t = res.actual
            out.append(t)
        return out


def matching_times_response(
    spec: ScheduleSpec, request: ListScheduleMatchingTimesRequest, *, jitter_seed: str = ""
) -> ListScheduleMatchingTimesResponse:
    """The answer to ListScheduleMatchingTimes for a schedule whose (stored) spec is `spec`.

    `jitter_seed` must be Temporal's: f"{namespace_id}-{schedule_id}"."""
    if not request.HasField("start_time") or not request.HasField("end_time"):
        raise SpecError("missing or invalid query")
    start = request.start_time.ToDatetime(UTC)
    end = request.end_time.ToDatetime(UTC)
    resp = ListScheduleMatchingTimesResponse()
    for t in CompiledSpec(spec, jitter_seed=jitter_seed).matching_times(start, end):
        resp.start_time.add().FromDatetime(t)
    return resp


_ = timedelta
