"""Everything in a run that happens at a point in time, and what happens then (pure).

The history role keeps one timer per run at `next_deadline(ms)`; when it fires it
calls `fire_due`, which handles whatever is due and ignores what no longer applies.
Because deadlines are derived from the state, nothing about timers needs to be stored
separately, and a restarted server recomputes them from the loaded state.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import TimerFiredEventAttributes

from pytemporal.history.workflow import activities, lifecycle
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import ActivityInfo, MutableState


def _wft_deadline(ms: MutableState) -> tuple[float, int] | None:
    wft = ms.wft
    if wft is None:
        return None
    if wft.started_event_id:
        return wft.started_time + wft.timeout, TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    if wft.sticky and ms.sticky_timeout:
        return wft.scheduled_time + ms.sticky_timeout, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    return None


def next_deadline(ms: MutableState) -> float | None:
    if not ms.is_open:
        return ms.delete_after or None
    times: list[float] = []
    if ms.first_wft_backoff_until and ms.wft is None:
        times.append(ms.first_wft_backoff_until)
    if ms.run_expiration:
        times.append(ms.run_expiration)
    d = _wft_deadline(ms)
    if d is not None:
        times.append(d[0])
    times.extend(t.fire_time for t in ms.timers.values())
    for ai in ms.activities.values():
        for when, kind in activities.deadlines(ai):
            if kind == 0 and (ai.scheduled_event_id, ai.attempt) in ms.dispatched:
                continue
            times.append(when)
    return min(times) if times else None


def deletion_due(ms: MutableState) -> bool:
    """A closed run whose retention has passed, with nothing left to deliver."""
    return not ms.is_open and not ms.outbox and 0 < ms.delete_after <= ms.now


def fire_due(ms: MutableState) -> None:
    now = ms.now
    if ms.run_expiration and now >= ms.run_expiration:
        lifecycle.time_out(ms)
        return
    if ms.first_wft_backoff_until and now >= ms.first_wft_backoff_until:
        ms.first_wft_backoff_until = 0.0
        wt.schedule(ms)
    d = _wft_deadline(ms)
    if d is not None and now >= d[0]:
        wt.time_out(ms, d[1])
    for timer in sorted(ms.timers.values(), key=lambda t: t.started_event_id):
        if now >= timer.fire_time:
            del ms.timers[timer.timer_id]
            ms.add_event(
                EventType.EVENT_TYPE_TIMER_FIRED,
                TimerFiredEventAttributes(
                    timer_id=timer.timer_id, started_event_id=timer.started_event_id
                ),
                bufferable=True,
            )
            wt.schedule(ms)
    for ai in list(ms.activities.values()):
        _fire_activity(ms, ai, now)


def _fire_activity(ms: MutableState, ai: ActivityInfo, now: float) -> None:
    due = [(when, kind) for when, kind in activities.deadlines(ai) if now >= when]
    for _, kind in sorted(due, key=lambda d: d[0]):
        if kind == 0:
            if (ai.scheduled_event_id, ai.attempt) not in ms.dispatched:
                activities.dispatch(ms, ai)
            continue
        activities.time_out(ms, ai, kind)
        return
