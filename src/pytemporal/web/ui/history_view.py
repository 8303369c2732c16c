"""What the workflow page derives from a run's history: the compact timeline, the
children, the run chain and the close details. Pure (events in, plain data out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from pytemporal.web.ui import decode

E = EventType


@dataclass
class Span:
    """One bar of the timeline: an activity, timer or child from its start to its end
    (None while it is still pending)."""

    kind: str
    label: str
    start: datetime
    end: datetime | None = None
    outcome: str = "pending"
    first_event: int = 0
    # Percentages of the run's time axis, filled by `place`.
    left: float = 0.0
    width: float = 0.0


@dataclass
class Child:
    workflow_id: str
    workflow_type: str
    namespace: str
    run_id: str = ""
    outcome: str = "initiated"


@dataclass
class HistoryView:
    spans: list[Span] = field(default_factory=list)
    # Instant events shown as ticks on the timeline (signals, updates, markers).
    ticks: list[tuple[float, str]] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    input: Any = None
    has_input: bool = False
    # The closing event's type and decoded attributes.
    close_type: str = ""
    close: dict[str, Any] = field(default_factory=dict)
    first_run_id: str = ""
    previous_run_id: str = ""
    next_run_id: str = ""
    parent_namespace: str = ""
    parent_workflow_id: str = ""
    parent_run_id: str = ""
    # Event ids a reset can go back to (WorkflowTaskCompleted).
    reset_points: list[int] = field(default_factory=list)


_STARTS = {
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity",
    E.EVENT_TYPE_TIMER_STARTED: "timer",
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child",
}
# Closing event type -> (its attributes field naming the opening event, outcome).
_ENDS = {
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ("scheduled_event_id", "completed"),
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED: ("scheduled_event_id", "failed"),
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: ("scheduled_event_id", "timed out"),
    E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: ("scheduled_event_id", "canceled"),
    E.EVENT_TYPE_TIMER_FIRED: ("started_event_id", "fired"),
    E.EVENT_TYPE_TIMER_CANCELED: ("started_event_id", "canceled"),
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: ("initiated_event_id", "failed to start"),
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: ("initiated_event_id", "completed"),
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: ("initiated_event_id", "failed"),
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: ("initiated_event_id", "canceled"),
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: ("initiated_event_id", "timed out"),
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: ("initiated_event_id", "terminated"),
}
_TICKS = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    E.EVENT_TYPE_MARKER_RECORDED: "marker",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: "cancel requested",
}
_CLOSES = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def _label(event: HistoryEvent, kind: str) -> str:
    if kind == "activity":
        a = event.activity_task_scheduled_event_attributes
        return f"{a.activity_type.name} ({a.activity_id})"
    if kind == "timer":
        t = event.timer_started_event_attributes
        seconds = t.start_to_fire_timeout.ToTimedelta().total_seconds()
        return f"timer {t.timer_id} ({decode.format_duration(seconds)})"
    c = event.start_child_workflow_execution_initiated_event_attributes
    return f"{c.workflow_type.name} ({c.workflow_id})"


def _started(view: HistoryView, event: HistoryEvent) -> None:
    a = event.workflow_execution_started_event_attributes
    view.has_input = True
    view.input = decode.payloads_value(a.input.payloads)
    view.first_run_id = a.first_execution_run_id
    view.previous_run_id = a.continued_execution_run_id
    if a.HasField("parent_workflow_execution"):
        view.parent_namespace = a.parent_workflow_namespace
        view.parent_workflow_id = a.parent_workflow_execution.workflow_id
        view.parent_run_id = a.parent_workflow_execution.run_id


def _child_event(view: HistoryView, children: dict[int, Child], event: HistoryEvent) -> None:
    if event.event_type == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        a = event.start_child_workflow_execution_initiated_event_attributes
        child = Child(a.workflow_id, a.workflow_type.name, a.namespace)
        children[event.event_id] = child
        view.children.append(child)
    elif event.event_type == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
        s = event.child_workflow_execution_started_event_attributes
        if s.initiated_event_id in children:
            children[s.initiated_event_id].run_id = s.workflow_execution.run_id
            children[s.initiated_event_id].outcome = "running"


def build(events: Sequence[HistoryEvent], now: datetime) -> HistoryView:
    """`now` ends the time axis of a run that has not closed."""
    view = HistoryView()
    open_spans: dict[int, Span] = {}
    children: dict[int, Child] = {}
    for event in events:
        at = decode.when(event.event_time) or now
        kind = _STARTS.get(event.event_type)
        if kind is not None:
            span = Span(kind, _label(event, kind), at, first_event=event.event_id)
            open_spans[event.event_id] = span
            view.spans.append(span)
        end = _ENDS.get(event.event_type)
        if end is not None:
            attributes = decode.event_attributes(event)
            opening = int(attributes.get(_camel(end[0]), 0))
            if opening in open_spans:
                open_spans[opening].end, open_spans[opening].outcome = at, end[1]
            if opening in children:
                children[opening].outcome = end[1]
        if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            _started(view, event)
        elif event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            view.reset_points.append(event.event_id)
        elif event.event_type in _CLOSES:
            view.close_type = decode.event_type_name(event.event_type)
            view.close = decode.event_attributes(event)
            view.next_run_id = str(view.close.get("newExecutionRunId", ""))
        _child_event(view, children, event)
    _place(view, events, now)
    return view


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _place(view: HistoryView, events: Sequence[HistoryEvent], now: datetime) -> None:
    if not events:
        return
    start = decode.when(events[0].event_time) or now
    last = decode.when(events[-1].event_time) or now
    end = last if view.close_type else max(now, last)
    total = max((end - start).total_seconds(), 1e-3)

    def pct(moment: datetime) -> float:
        return max(0.0, min(100.0, (moment - start).total_seconds() / total * 100))

    for span in view.spans:
        span.left = pct(span.start)
        # A zero-length bar still shows.
        span.width = max(pct(span.end or end) - span.left, 0.5)
    for event in events:
        label = _TICKS.get(event.event_type)
        if label is not None:
            at = decode.when(event.event_time) or now
            view.ticks.append((pct(at), f"{label} (event {event.event_id})"))
