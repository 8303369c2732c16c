"""Mutable state of one workflow run: pure data plus event plumbing, no I/O.

The state is the run's source of truth between events: pending activities, timers,
the workflow task, buffered events. It is persisted whole with every mutation
(`encode`/`decode`, a versioned protobuf: see `codec`), next to the event batch the
mutation produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.workflow.v1 import WorkflowExecutionVersioningInfo

from pytemporal.common.protoutil import ts

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

# Events that close a pending piece of work go after the other buffered events when a
# buffer is flushed, so the workflow sees e.g. a signal before the activity result that
# arrived with it.
_COMPLETION_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
    }
)


_ACTIVITY_RESULTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    }
)
_CHILD_RESULTS = frozenset(
    {
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
    }
)
# Stands in for the id of an event that is still buffered.
BUFFERED_ID = -123


def _attr_field(event_type: EventType.ValueType) -> str:
    return EventType.Name(event_type)[len("EVENT_TYPE_") :].lower() + "_event_attributes"


_ATTR_FIELDS: dict[int, str] = {v: _attr_field(v) for v in EventType.values() if v}


@dataclass(frozen=True)
class Task:
    """Work for matching, handed over once the mutation that made it is committed."""

    kind: str  # "workflow" | "activity"
    scheduled_event_id: int
    attempt: int
    task_queue: str
    sticky: bool = False


@dataclass
class WorkflowTaskInfo:
    scheduled_event_id: int
    attempt: int
    scheduled_time: float
    original_scheduled_time: float
    task_queue: str
    sticky: bool
    timeout: float
    started_event_id: int = 0
    started_time: float = 0.0
    request_id: str = ""
    identity: str = ""
    # A speculative task (made for an update) writes nothing until it must: its
    # Scheduled/Started events wait here with the ids they will get.
    speculative: bool = False
    pending_events: list[HistoryEvent] = field(default_factory=list)


@dataclass
class ActivityInfo:
    scheduled_event_id: int
    activity_id: str
    activity_type: str
    task_queue: str
    attrs: ActivityTaskScheduledEventAttributes
    schedule_to_close: float
    schedule_to_start: float
    start_to_close: float
    heartbeat: float
    scheduled_time: float
    attempt_scheduled_time: float
    attempt: int = 1
    started: bool = False
    started_time: float = 0.0
    started_identity: str = ""
    request_id: str = ""
    last_heartbeat_time: float = 0.0
    heartbeat_details: Payloads | None = None
    last_failure: Failure | None = None
    last_worker_identity: str = ""
    cancel_requested: bool = False
    cancel_requested_event_id: int = 0
    # PauseActivity: a paused activity gets no new attempt until it is unpaused; a
    # running attempt learns it from its heartbeat's reply.
    paused: bool = False
    pause_time: float = 0.0
    pause_identity: str = ""
    pause_reason: str = ""
    pause_request_id: str = ""
    # ResetActivity of a running attempt: its heartbeat's reply says so; the next
    # attempt starts without heartbeat details when `reset_heartbeats`.
    reset_requested: bool = False
    reset_heartbeats: bool = False
    # The options as scheduled, kept by the first UpdateActivityOptions so that
    # `restore_original` can bring them back.
    original_attrs: ActivityTaskScheduledEventAttributes | None = None


@dataclass
class ChildInfo:
    initiated_event_id: int
    namespace: str
    namespace_id: str
    workflow_id: str
    workflow_type: str
    parent_close_policy: int
    run_id: str = ""
    started_event_id: int = 0


@dataclass
class ExternalInfo:
    """A signal or cancel request to another workflow, until it is delivered."""

    initiated_event_id: int
    kind: str  # "signal" | "cancel"
    namespace: str
    namespace_id: str
    workflow_id: str
    run_id: str
    control: str = ""


@dataclass(frozen=True)
class Transfer:
    """Cross-workflow work, persisted with the state that made it and done after commit.

    kind: start_child | signal_external | cancel_external (ref = initiated event id),
    notify_parent (this run closed as a child), close_children (targets: the open
    children with their parent-close policy).
    """

    kind: str
    ref: int = 0
    targets: tuple[tuple[str, str, str, int], ...] = ()


@dataclass
class TimerInfo:
    timer_id: str
    started_event_id: int
    fire_time: float


@dataclass
class MutableState:
    namespace_id: str
    namespace: str
    workflow_id: str
    run_id: str
    first_execution_run_id: str
    workflow_type: str
    task_queue: str
    start_request_id: str
    start_time: float
    execution_time: float
    started: WorkflowExecutionStartedEventAttributes
    run_timeout: float
    execution_timeout: float
    task_timeout: float
    run_expiration: float
    execution_expiration: float
    status: int = RUNNING
    close_time: float = 0.0
    next_event_id: int = 1
    history_size_bytes: int = 0
    db_version: int = 0
    wft: WorkflowTaskInfo | None = None
    previous_started_event_id: int = 0
    last_completed_wft_event_id: int = 0
    wft_completed_count: int = 0
    sticky_queue: str = ""
    sticky_timeout: float = 0.0
    first_wft_backoff_until: float = 0.0
    activities: dict[int, ActivityInfo] = field(default_factory=dict)
    activity_ids: dict[str, int] = field(default_factory=dict)
    timers: dict[str, TimerInfo] = field(default_factory=dict)
    buffered: list[HistoryEvent] = field(default_factory=list)
    signal_request_ids: set[str] = field(default_factory=set)
    signal_count: int = 0
    cancel_requested: bool = False
    close_event_id: int = 0
    children: dict[int, ChildInfo] = field(default_factory=dict)
    externals: dict[int, ExternalInfo] = field(default_factory=dict)
    outbox: list[Transfer] = field(default_factory=list)
    reset_run_id: str = ""
    last_reset_time: float = 0.0
    # update_id -> [accepted event id, completed event id]
    updates: dict[str, list[int]] = field(default_factory=dict)
    # Unix seconds after which the closed run is deleted (0: never).
    delete_after: float = 0.0
    # Serialized ResetPoints / WorkflowExecutionOptions (empty: none).
    auto_reset_points: bytes = b""
    execution_options: bytes = b""
    # Worker versioning: behaviour, version and override (None: never versioned).
    versioning: WorkflowExecutionVersioningInfo | None = None
    # The next run of the chain (continue-as-new, retry, cron), committed with this one.
    new_run: MutableState | None = None
    # Not persisted: what the current mutation produced, and what matching was told.
    new_events: list[HistoryEvent] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    dispatched: set[tuple[int, int]] = field(default_factory=set)
    # While a completion applies its commands, follow-up workflow tasks wait for the end.
    defer_schedule: bool = False
    # Set by changes that write no event (an activity start, a heartbeat).
    dirty: bool = False
    # What this mutation did to in-flight updates (applied to waiters after commit).
    update_effects: list[Any] = field(default_factory=list)
    now: float = 0.0

    # -- lifecycle -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status == RUNNING

    @property
    def active(self) -> bool:
        """Open, or closed with cross-workflow work still to deliver."""
        return self.is_open or bool(self.outbox)

    @property
    def parent_key(self) -> tuple[str, str, str] | None:
        s = self.started
        if not s.HasField("parent_workflow_execution"):
            return None
        p = s.parent_workflow_execution
        return s.parent_workflow_namespace_id, p.workflow_id, p.run_id

    def begin(self, now: float) -> None:
        self.new_events = []
        self.new_run = None
        self.update_effects = []
        self.tasks = []
        self.dirty = False
        self.now = now

    # -- events --------------------------------------------------------------------

    def add_event(
        self, event_type: EventType.ValueType, attrs: Any, *, bufferable: bool = False
    ) -> HistoryEvent:
        """Append an event; while a workflow task is in flight, `bufferable` events wait."""
        ev = HistoryEvent(event_type=event_type, event_time=ts(self.now))
        getattr(ev, _ATTR_FIELDS[event_type]).CopyFrom(attrs)
        if bufferable and self.wft is not None and self.wft.started_event_id:
            self.buffered.append(ev)
            self.dirty = True
            return ev
        self.materialize_speculative()
        self._assign(ev)
        return ev

    def new_event(self, event_type: EventType.ValueType, attrs: Any) -> HistoryEvent:
        """An event that is not (yet) part of the history."""
        ev = HistoryEvent(event_type=event_type, event_time=ts(self.now))
        getattr(ev, _ATTR_FIELDS[event_type]).CopyFrom(attrs)
        return ev

    def materialize_speculative(self) -> None:
        """Turn a speculative workflow task into a normal one, writing its events."""
        wft = self.wft
        if wft is None or not wft.speculative:
            return
        wft.speculative = False
        for ev in wft.pending_events:
            self._assign(ev)
        wft.pending_events = []
        if not wft.started_event_id:
            # Now a normal pending task: it needs its backlog row like any other.
            self.tasks.append(
                Task("workflow", wft.scheduled_event_id, wft.attempt, wft.task_queue, wft.sticky)
            )

    def _assign(self, ev: HistoryEvent) -> None:
        ev.event_id = self.next_event_id
        ev.task_id = self.next_event_id
        self.next_event_id += 1
        self.history_size_bytes += ev.ByteSize()
        self.new_events.append(ev)

    def flush_buffer(self) -> bool:
        """Write buffered events after the workflow task's own; True if there were any."""
        if not self.buffered:
            return False
        first = [e for e in self.buffered if e.event_type not in _COMPLETION_EVENTS]
        last = [e for e in self.buffered if e.event_type in _COMPLETION_EVENTS]
        self.buffered = []
        started_ids: dict[tuple[str, int], int] = {}
        for ev in first + last:
            self._fix_started_ref(ev, started_ids)
            self._assign(ev)
            if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                a = ev.activity_task_started_event_attributes
                started_ids["activity", a.scheduled_event_id] = ev.event_id
            elif ev.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                c = ev.child_workflow_execution_started_event_attributes
                started_ids["child", c.initiated_event_id] = ev.event_id
                child = self.children.get(c.initiated_event_id)
                if child is not None:
                    child.started_event_id = ev.event_id
        return True

    def _fix_started_ref(self, ev: HistoryEvent, started_ids: dict[tuple[str, int], int]) -> None:
        """A buffered result names its Started event, which gets its id at flush time."""
        if ev.event_type in _ACTIVITY_RESULTS:
            attrs = getattr(ev, _ATTR_FIELDS[ev.event_type])
            if attrs.started_event_id == BUFFERED_ID:
                attrs.started_event_id = started_ids.get(("activity", attrs.scheduled_event_id), 0)
        elif ev.event_type in _CHILD_RESULTS:
            attrs = getattr(ev, _ATTR_FIELDS[ev.event_type])
            if attrs.started_event_id == BUFFERED_ID:
                attrs.started_event_id = started_ids.get(("child", attrs.initiated_event_id), 0)

    @property
    def pending_buffered(self) -> bool:
        return bool(self.buffered)

    # -- persistence ---------------------------------------------------------------

    def encode(self) -> bytes:
        """The stored form (`codec`): no per-mutation scratch, no speculative task."""
        from pytemporal.history.workflow import codec

        return codec.encode(self)


def decode(blob: bytes) -> MutableState:
    """A state stored by `MutableState.encode`; `codec.UnknownStateFormat` if unreadable."""
    from pytemporal.history.workflow import codec

    return codec.decode(blob)
