"""The stored form of mutable state (history/workflow/codec.py, state.proto).

golden/state_v1.bin is a version-1 blob written once by golden/make_state_v1.py; these
tests only read it, so a change that breaks reading old blobs fails here.
"""

from __future__ import annotations

import ast
import copy as copy_module
import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.api.command.v1 import (
    Command,
    RequestCancelActivityTaskCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
)
from temporalio.api.common.v1 import Payloads, WorkflowType
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    ParentClosePolicy,
    WorkflowExecutionStatus,
)
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from test_state_machine import (
    T0,
    Run,
    app_failure,
    complete_workflow,
    payloads,
    retry_policy,
    run_with_activity,
    schedule_activity,
    signal,
    start_activity,
    start_timer,
)

from pytemporal.common.errors import PersistenceError
from pytemporal.history.workflow import activities, codec, deadlines, lifecycle
from pytemporal.history.workflow import state as st
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import MutableState, Task, Transfer, decode
from pytemporal.proto.state.v1 import state_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
E = EventType
G0 = 1_700_000_000.0  # the golden run's start time


def assert_same_state(copy: MutableState, ms: MutableState) -> None:
    for f in dataclasses.fields(MutableState):
        if f.name not in codec.SCRATCH and f.name != "dispatched":
            assert getattr(copy, f.name) == getattr(ms, f.name), f.name
    # Dispatched attempts come back for the pending activities' current attempts.
    current = {(a.scheduled_event_id, a.attempt) for a in ms.activities.values()}
    assert copy.dispatched == ms.dispatched & current
    # Scratch comes back empty.
    assert (copy.new_events, copy.tasks, copy.update_effects) == ([], [], [])
    assert (copy.new_run, copy.dirty, copy.defer_schedule, copy.now, copy.db_version) == (
        None,
        False,
        False,
        0.0,
        0,
    )


def round_trip(ms: MutableState) -> MutableState:
    copy = decode(ms.encode())
    assert_same_state(copy, ms)
    # Stable: the copy encodes to a state equal to itself.
    assert_same_state(decode(copy.encode()), copy)
    return copy


# -- the version-1 fixture ---------------------------------------------------------


def golden() -> MutableState:
    return decode((GOLDEN / "state_v1.bin").read_bytes())


def test_golden_v1_run_and_start() -> None:
    ms = golden()
    assert (ms.namespace_id, ms.namespace, ms.workflow_id, ms.run_id) == (
        "ns-orders",
        "orders",
        "order-42",
        "run-42",
    )
    assert (ms.first_execution_run_id, ms.workflow_type, ms.task_queue) == (
        "run-42",
        "OrderWorkflow",
        "orders-tq",
    )
    assert (ms.start_request_id, ms.start_time, ms.execution_time) == ("start-req-1", G0, G0)
    assert (ms.run_timeout, ms.execution_timeout, ms.task_timeout) == (3600.0, 86400.0, 10.0)
    assert (ms.run_expiration, ms.execution_expiration) == (G0 + 3600, G0 + 86400)
    assert ms.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING and ms.is_open
    assert (ms.close_time, ms.close_event_id, ms.next_event_id) == (0.0, 0, 28)
    assert ms.history_size_bytes == 2308
    s = ms.started
    assert s.workflow_type.name == "OrderWorkflow" and s.input.payloads[0].data == b'"order-42"'
    assert s.retry_policy.maximum_attempts == 5
    assert s.header.fields["trace"].data == b'"t-1"'
    # Memo and search attributes, with what the worker upserted.
    assert {k: v.data for k, v in s.memo.fields.items()} == {
        "customer": b'"ada"',
        "stage": b'"charging"',
    }
    assert {k: v.data for k, v in s.search_attributes.indexed_fields.items()} == {
        "CustomKeywordField": b'"gold"',
        "CustomIntField": b'"3"',
    }
    assert ms.parent_key == ("ns-orders", "batch-7", "run-7")
    assert s.parent_workflow_namespace == "orders" and s.parent_initiated_event_id == 11
    assert s.root_workflow_execution.workflow_id == "batch-7"
    assert (ms.reset_run_id, ms.last_reset_time, ms.first_wft_backoff_until) == (
        "run-43",
        G0 + 16,
        0.0,
    )


def test_golden_v1_workflow_task_and_buffer() -> None:
    ms = golden()
    assert ms.wft == st.WorkflowTaskInfo(
        scheduled_event_id=26,
        attempt=1,
        scheduled_time=G0 + 11,
        original_scheduled_time=G0 + 11,
        task_queue="worker-1-sticky",
        sticky=True,
        timeout=10.0,
        started_event_id=27,
        started_time=G0 + 12,
        request_id="poll-3",
        identity="worker-1@host",
    )
    assert (ms.previous_started_event_id, ms.last_completed_wft_event_id) == (23, 24)
    assert ms.wft_completed_count == 2
    assert (ms.sticky_queue, ms.sticky_timeout) == ("worker-1-sticky", 7.0)
    assert [e.event_type for e in ms.buffered] == [
        E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
    ]
    assert all(e.event_id == 0 for e in ms.buffered)
    signaled = ms.buffered[0].workflow_execution_signaled_event_attributes
    assert (signaled.signal_name, signaled.request_id) == ("add-item", "sig-req-3")
    assert signaled.input.payloads[0].data == b'"plum"'
    assert ms.buffered[0].event_time.ToSeconds() == G0 + 13
    completed = ms.buffered[2].activity_task_completed_event_attributes
    assert (completed.scheduled_event_id, completed.started_event_id) == (8, st.BUFFERED_ID)
    assert ms.buffered[3].workflow_execution_cancel_requested_event_attributes.cause == (
        "customer asked"
    )
    assert ms.pending_buffered
    assert ms.signal_request_ids == {"sig-req-1", "sig-req-2", "sig-req-3"}
    assert (ms.signal_count, ms.cancel_requested) == (3, True)
    assert ms.updates == {"upd-1": [18, 0], "upd-2": [19, 20]}


def test_golden_v1_activities_and_timers() -> None:
    ms = golden()
    assert list(ms.activities) == [7, 9]
    assert ms.activity_ids == {"charge-card": 7, "reserve-stock": 9}
    charge = ms.activities[7]
    assert (charge.activity_id, charge.activity_type, charge.task_queue) == (
        "charge-card",
        "Charge",
        "payments",
    )
    assert charge.attrs.input.payloads[0].data == b'"in-charge-card"'
    assert charge.attrs.retry_policy.backoff_coefficient == 2.0
    assert charge.attrs.retry_policy.maximum_interval.seconds == 60
    assert (
        charge.schedule_to_close,
        charge.schedule_to_start,
        charge.start_to_close,
        charge.heartbeat,
    ) == (600.0, 600.0, 30.0, 5.0)
    assert (charge.scheduled_time, charge.attempt_scheduled_time) == (G0 + 2, G0 + 6)
    assert (charge.attempt, charge.started, charge.started_time) == (2, True, G0 + 6.25)
    assert (charge.started_identity, charge.request_id) == ("act-worker-2@host", "act-poll-2")
    assert charge.last_worker_identity == "act-worker-2@host"
    assert charge.last_heartbeat_time == G0 + 7
    assert charge.heartbeat_details is not None
    assert charge.heartbeat_details.payloads[0].data == b'"progress-30"'
    assert charge.last_failure == Failure(
        message="card declined",
        stack_trace="charge.py:12",
        application_failure_info=ApplicationFailureInfo(type="CardError"),
    )
    assert (charge.cancel_requested, charge.cancel_requested_event_id) == (False, 0)
    reserve = ms.activities[9]
    assert (reserve.attempt, reserve.started, reserve.started_time) == (1, True, G0 + 9)
    assert (reserve.heartbeat_details, reserve.last_failure) == (None, None)
    assert (reserve.cancel_requested, reserve.cancel_requested_event_id) == (True, 25)
    assert ms.timers == {
        "reminder": st.TimerInfo("reminder", 10, G0 + 62),
        "deadline": st.TimerInfo("deadline", 11, G0 + 3002),
    }


def test_golden_v1_children_externals_and_outbox() -> None:
    ms = golden()
    assert ms.children == {
        12: st.ChildInfo(
            initiated_event_id=12,
            namespace="orders",
            namespace_id="ns-orders",
            workflow_id="ship-42",
            workflow_type="ShipWorkflow",
            parent_close_policy=ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
            run_id="ship-run-1",
            started_event_id=21,
        ),
        13: st.ChildInfo(
            initiated_event_id=13,
            namespace="orders",
            namespace_id="ns-orders",
            workflow_id="audit-42",
            workflow_type="AuditWorkflow",
            parent_close_policy=ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
        ),
    }
    assert ms.externals == {
        14: st.ExternalInfo(14, "signal", "orders", "ns-orders", "inventory", "inv-run", "ctl-sig"),
        15: st.ExternalInfo(15, "cancel", "orders", "ns-orders", "old-order-41", ""),
    }
    assert ms.outbox == [
        Transfer("start_child", 13),
        Transfer("signal_external", 14),
        Transfer("cancel_external", 15),
        Transfer(
            "close_children",
            targets=(
                (
                    "ns-orders",
                    "ship-42",
                    "ship-run-1",
                    ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
                ),
            ),
        ),
    ]
    assert ms.active


def test_golden_v1_blob_is_version_1() -> None:
    msg = pb.MutableState.FromString((GOLDEN / "state_v1.bin").read_bytes())
    assert msg.format_version == 1 == codec.FORMAT_VERSION
    round_trip(golden())


# -- round trips of states the state machine makes -------------------------------------


def _fresh() -> MutableState:
    return Run().ms


def _delayed_start() -> MutableState:
    return Run(start_delay=30).ms


def _started_activity_with_heartbeat() -> MutableState:
    run = run_with_activity(heartbeat=3, start_to_close=30)
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activities.heartbeat(ms, ai, payloads("half"))
    return run.ms


def _activity_in_retry_backoff() -> MutableState:
    run = run_with_activity(retry=retry_policy(attempts=3, initial=5))
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activities.fail(ms, ai, app_failure("first"), "act-worker", payloads("hb"))
    assert ai.attempt == 2 and ai.last_failure is not None
    return run.ms


def _empty_heartbeat_details() -> MutableState:
    run = run_with_activity(heartbeat=3)
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activities.heartbeat(ms, ai, payloads("x"))
    ai.heartbeat_details = Payloads()  # present but empty: not None
    return run.ms


def _timers_and_buffered_events() -> MutableState:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 5), start_timer("t2", 500))
    signal(run, T0 + 3)
    run.start_wft(T0 + 4)
    run.fire(T0 + 7)  # t1 fires while the task is in flight: buffered
    signal(run, T0 + 8, "again")
    assert len(run.ms.buffered) == 2
    return run.ms


def _buffered_activity_result() -> MutableState:
    run = run_with_activity()
    ai = start_activity(run, T0 + 3)
    signal(run, T0 + 3)
    run.start_wft(T0 + 4)
    with run.at(T0 + 5) as ms:
        activities.complete(ms, ai, payloads("ok"), "act-worker")
    assert len(run.ms.buffered) == 2
    return run.ms


def _sticky_scheduled() -> MutableState:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, start_timer("t1", 5), sticky_queue="sticky-q", sticky_timeout=4)
    run.fire(T0 + 7)
    assert run.ms.wft is not None and run.ms.wft.sticky
    return run.ms


def _cancel_requested_activity() -> MutableState:
    run = run_with_activity()
    ai = start_activity(run, T0 + 3)
    signal(run, T0 + 4)
    run.start_wft(T0 + 5)
    cancel = Command(
        command_type=CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
        request_cancel_activity_task_command_attributes=RequestCancelActivityTaskCommandAttributes(
            scheduled_event_id=ai.scheduled_event_id
        ),
    )
    run.complete_wft(T0 + 6, cancel, schedule_activity("a2"))
    assert ai.cancel_requested
    return run.ms


def _child_in_outbox() -> MutableState:
    run = Run()
    run.start_wft(T0 + 1)
    child = Command(
        command_type=CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
        start_child_workflow_execution_command_attributes=StartChildWorkflowExecutionCommandAttributes(
            workflow_id="child-1", workflow_type=WorkflowType(name="Child")
        ),
    )
    run.complete_wft(T0 + 2, child)
    assert run.ms.outbox == [Transfer("start_child", 5)]
    return run.ms


def _wft_timed_out_retrying() -> MutableState:
    run = Run()
    run.start_wft(T0 + 1)
    run.fire(T0 + 11)
    assert run.ms.wft is not None and run.ms.wft.attempt == 2
    return run.ms


def _completed() -> MutableState:
    run = run_with_activity()
    with run.at(T0 + 4) as ms:
        lifecycle.terminate(ms, "done here", payloads("bye"), "admin")
    assert not run.ms.is_open
    return run.ms


def _completed_by_command() -> MutableState:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2, complete_workflow())
    return run.ms


def _closed_with_outbox() -> MutableState:
    ms = _child_in_outbox()
    ms.begin(T0 + 3)
    ms.children[5].run_id = "child-run"
    lifecycle.terminate(ms, "stop", None, "admin")
    assert any(t.kind == "close_children" for t in ms.outbox)
    return ms


STATES: dict[str, Callable[[], MutableState]] = {
    "fresh": _fresh,
    "delayed start": _delayed_start,
    "started activity with heartbeat": _started_activity_with_heartbeat,
    "activity in retry backoff": _activity_in_retry_backoff,
    "empty heartbeat details": _empty_heartbeat_details,
    "timers and buffered events": _timers_and_buffered_events,
    "buffered activity result": _buffered_activity_result,
    "sticky task scheduled": _sticky_scheduled,
    "activity cancel requested": _cancel_requested_activity,
    "child in outbox": _child_in_outbox,
    "workflow task timed out": _wft_timed_out_retrying,
    "terminated": _completed,
    "completed": _completed_by_command,
    "closed with outbox": _closed_with_outbox,
}


@pytest.mark.parametrize("name", list(STATES))
def test_round_trip(name: str) -> None:
    round_trip(STATES[name]())


def test_round_trip_keeps_none_and_empty_apart() -> None:
    ms = _empty_heartbeat_details()
    ai = next(iter(ms.activities.values()))
    copy = round_trip(ms)
    assert next(iter(copy.activities.values())).heartbeat_details == ai.heartbeat_details
    ai.heartbeat_details = None
    assert next(iter(round_trip(ms).activities.values())).heartbeat_details is None


def test_round_trip_keeps_dict_order() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(
        T0 + 2,
        schedule_activity("z"),
        schedule_activity("a"),
        start_timer("later", 9),
        start_timer("earlier", 1),
    )
    copy = round_trip(run.ms)
    assert list(copy.activity_ids) == ["z", "a"]
    assert list(copy.timers) == ["later", "earlier"]


def test_encoding_leaves_the_live_state_alone() -> None:
    run = run_with_activity(heartbeat=3, start_to_close=30)
    start_activity(run, T0 + 3)
    signal(run, T0 + 3)
    run.start_wft(T0 + 4)
    ms = run.ms
    # A signal in the same mutation as the task start: buffered, and new_events not empty.
    lifecycle.signal(ms, "late", payloads("late"), "client", None, "sig-late")
    ms.tasks.append(Task("workflow", 99, 1, "tq"))
    assert ms.buffered and ms.new_events and ms.dispatched and ms.dirty
    before = copy_module.deepcopy(ms)
    copy = round_trip(ms)
    assert copy.buffered == ms.buffered
    for f in dataclasses.fields(MutableState):
        assert getattr(ms, f.name) == getattr(before, f.name), f.name


def test_speculative_workflow_task_is_not_stored() -> None:
    run = Run()
    run.start_wft(T0 + 1)
    run.complete_wft(T0 + 2)
    with run.at(T0 + 3) as ms:
        assert wt.schedule(ms, speculative=True)
        wt.start(ms, request_id="p", identity="w")
    assert run.ms.wft is not None and run.ms.wft.speculative and run.ms.wft.pending_events
    copy = decode(run.ms.encode())
    assert copy.wft is None
    assert run.ms.wft.speculative  # the live state keeps it
    copy.wft = run.ms.wft
    assert_same_state(copy, run.ms)


def test_a_dispatched_attempt_is_not_dispatched_again_after_a_reload() -> None:
    """Its task is in the durable backlog: the reloaded state must not re-arm it."""
    run = run_with_activity()
    copy = decode(run.ms.encode())
    assert copy.dispatched == {(5, 1)}
    assert deadlines.next_deadline(run.ms) is None
    assert deadlines.next_deadline(copy) is None
    copy.begin(T0 + 100)
    deadlines.fire_due(copy)
    assert copy.tasks == [] and copy.new_events == []


# -- what is stored, and what is refused ------------------------------------------


def _proto_fields(message: type) -> set[str]:
    return {f.name for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def _dataclass_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_field_is_stored_or_declared_scratch() -> None:
    """A new MutableState attribute must get a proto field (or be declared not stored)."""
    stored = _dataclass_fields(MutableState) - codec.SCRATCH - codec.DERIVED
    assert stored == _proto_fields(pb.MutableState) - {"format_version"}
    assert _dataclass_fields(st.WorkflowTaskInfo) - codec.WFT_NOT_STORED == _proto_fields(
        pb.WorkflowTaskInfo
    )
    # An activity also stores whether its attempt was dispatched (MutableState.dispatched).
    assert _dataclass_fields(st.ActivityInfo) | {"dispatched"} == _proto_fields(pb.ActivityInfo)
    for cls, message in [
        (st.TimerInfo, pb.TimerInfo),
        (st.ChildInfo, pb.ChildInfo),
        (st.ExternalInfo, pb.ExternalInfo),
        (st.Transfer, pb.Transfer),
    ]:
        assert _dataclass_fields(cls) == _proto_fields(message), cls.__name__


def test_an_old_pickled_state_is_refused_clearly() -> None:
    old = pickle.dumps((1, {"workflow_id": "wf"}), protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(
        codec.UnknownStateFormat, match="unknown stored mutable-state format.*pickle"
    ):
        decode(old)
    assert issubclass(codec.UnknownStateFormat, PersistenceError)


@pytest.mark.parametrize(
    "blob",
    [
        b"",  # no format_version: 0
        pb.MutableState(format_version=2, workflow_id="wf").SerializeToString(),
        b"\xff\xff\xff",  # not a protobuf message
        b"garbage that is not a state",
    ],
)
def test_unknown_formats_are_refused(blob: bytes) -> None:
    with pytest.raises(codec.UnknownStateFormat, match="mutable-state format"):
        decode(blob)


def test_a_corrupt_nested_message_is_refused() -> None:
    msg = pb.MutableState.FromString((GOLDEN / "state_v1.bin").read_bytes())
    msg.buffered[0] = b"\xff\xff"
    with pytest.raises(codec.UnknownStateFormat, match="unreadable stored mutable state"):
        decode(msg.SerializeToString())


def _imports_pickle(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n.split(".")[0] in {"pickle", "_pickle", "cPickle", "dill"} for n in names):
            return True
    return False


def test_no_pickle_in_src() -> None:
    files = sorted((ROOT / "src").rglob("*.py"))
    assert len(files) > 50
    assert [str(p.relative_to(ROOT)) for p in files if _imports_pickle(p)] == []
