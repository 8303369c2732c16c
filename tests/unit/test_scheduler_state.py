"""The pure steps of the scheduler loop (scheduler/state.py), as Temporal's
service/worker/scheduler/workflow.go and buffer.go do them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.schedule.v1 import (
    BackfillRequest,
    IntervalSpec,
    Schedule,
    ScheduleActionResult,
    ScheduleInfo,
    ScheduleSpec,
)

from pytemporal.common.protoutil import ts
from pytemporal.scheduler.state import (
    ALLOW_ALL,
    BUFFER_ALL,
    BUFFER_ONE,
    CANCEL_OTHER,
    SKIP,
    STATUS,
    TERMINATE_OTHER,
    BufferedStart,
    ScheduleState,
    process_buffer,
)

T0 = 1_700_000_000.0  # a multiple of 10 s


def starts(n: int, policy: int = 0) -> list[BufferedStart]:
    return [BufferedStart(T0 + i, T0 + i, policy, False, i + 1) for i in range(n)]


def state(every: float = 10.0, **policies: object) -> ScheduleState:
    sched = Schedule(spec=ScheduleSpec(interval=[IntervalSpec(interval=timedelta(seconds=every))]))
    for k, v in policies.items():
        setattr(sched.policies, k, v)
    sched.action.start_workflow.workflow_id = "wf"
    st = ScheduleState("default", "ns-id", "sched", sched, ScheduleInfo(), last_processed=T0)
    st.ensure_fields()
    return st


# -- overlap policies ----------------------------------------------------------------------


def test_nothing_running_starts_the_first_of_any_policy() -> None:
    for policy in (SKIP, BUFFER_ONE, BUFFER_ALL, CANCEL_OTHER, TERMINATE_OTHER):
        res = process_buffer(starts(1, policy), False, SKIP)
        assert res.non_overlapping is not None and res.new_buffer == []


def test_skip_drops_what_overlaps() -> None:
    res = process_buffer(starts(3), True, SKIP)
    assert res.non_overlapping is None and res.new_buffer == [] and res.overlap_skipped == 3
    res = process_buffer(starts(3), False, SKIP)
    assert res.non_overlapping is not None and res.overlap_skipped == 2


def test_buffer_one_keeps_one() -> None:
    res = process_buffer(starts(3), True, BUFFER_ONE)
    assert len(res.new_buffer) == 1 and res.overlap_skipped == 2


def test_buffer_all_keeps_all() -> None:
    res = process_buffer(starts(3), True, BUFFER_ALL)
    assert len(res.new_buffer) == 3 and res.overlap_skipped == 0


@pytest.mark.parametrize("policy", [CANCEL_OTHER, TERMINATE_OTHER])
def test_cancel_or_terminate_other(policy: int) -> None:
    res = process_buffer(starts(2), True, policy)
    assert (res.need_cancel, res.need_terminate) == (
        policy == CANCEL_OTHER,
        policy == TERMINATE_OTHER,
    )
    assert len(res.new_buffer) == 2
    # Not running: the last one replaces the one about to start.
    res = process_buffer(starts(2), False, policy)
    assert res.non_overlapping is not None and res.non_overlapping.seq == 2


def test_allow_all_starts_everything_and_a_start_policy_wins() -> None:
    res = process_buffer(starts(3), True, ALLOW_ALL)
    assert len(res.overlapping) == 3
    res = process_buffer(starts(2, SKIP), True, ALLOW_ALL)
    assert res.overlap_skipped == 2


# -- time ranges: catchup window, pause, limited actions, updates ---------------------------


def test_times_within_the_catchup_window_are_buffered_older_ones_missed() -> None:
    st = state(catchup_window=timedelta(seconds=30))
    nxt = st.process_time_range(st.compiled(), T0, T0 + 100, 0, False)
    assert nxt == T0 + 110
    assert [b.nominal for b in st.buffer] == [T0 + 70, T0 + 80, T0 + 90, T0 + 100]
    assert st.info.missed_catchup_window == 6


def test_a_long_range_is_scanned_in_slices_with_the_same_result() -> None:
    whole = state(catchup_window=timedelta(seconds=30))
    whole.process_time_range(whole.compiled(), T0, T0 + 1000, 0, False)
    sliced = state(catchup_window=timedelta(seconds=30))
    start, slices = T0, 0
    while True:
        sliced.process_time_range(sliced.compiled(), start, T0 + 1000, 0, False, budget=[7])
        slices += 1
        if sliced.scan_stopped is None:
            break
        start = sliced.scan_stopped
    assert slices == 15
    assert [b.nominal for b in sliced.buffer] == [b.nominal for b in whole.buffer]
    assert sliced.info.missed_catchup_window == whole.info.missed_catchup_window == 96


def test_the_catchup_window_has_a_minimum_and_a_default() -> None:
    assert state(catchup_window=timedelta(seconds=1)).catchup_window() == 10
    st = state()
    assert st.catchup_window() == 365 * 24 * 3600
    assert st.schedule.policies.catchup_window.seconds == 365 * 24 * 3600
    assert st.schedule.policies.overlap_policy == SKIP


def test_manual_ranges_ignore_the_catchup_window_and_pause() -> None:
    st = state(catchup_window=timedelta(seconds=10))
    st.schedule.state.paused = True
    st.process_time_range(st.compiled(), T0, T0 + 100, 0, True)
    assert len(st.buffer) == 10 and st.info.missed_catchup_window == 0


def test_paused_buffers_nothing() -> None:
    st = state()
    st.schedule.state.paused = True
    assert st.process_time_range(st.compiled(), T0, T0 + 100, 0, False) == T0 + 110
    assert st.buffer == []


def test_limited_actions_count_down_when_taken() -> None:
    st = state()
    st.schedule.state.limited_actions = True
    st.schedule.state.remaining_actions = 2
    token = st.conflict_token
    assert st.can_take_scheduled_action(False, True)
    assert st.can_take_scheduled_action(False, True)
    assert not st.can_take_scheduled_action(False, True)
    assert st.can_take_scheduled_action(True, True)  # manual: always
    assert st.schedule.state.remaining_actions == 0 and st.conflict_token == token + 2
    assert st.future_action_times(10) == []


def test_times_before_an_update_are_discarded() -> None:
    st = state()
    st.info.update_time.CopyFrom(ts(T0 + 55))
    st.process_time_range(st.compiled(), T0, T0 + 100, 0, False)
    assert [b.nominal for b in st.buffer] == [T0 + 60, T0 + 70, T0 + 80, T0 + 90, T0 + 100]


def test_backfill_is_inclusive_and_goes_in_slices() -> None:
    st = state()
    st.add_backfill(BackfillRequest(start_time=ts(T0), end_time=ts(T0 + 250)))
    st.process_backfills(st.compiled(), 10)
    assert [b.nominal for b in st.buffer] == [T0 + 10 * i for i in range(10)]
    assert len(st.backfills) == 1
    st.process_backfills(st.compiled(), 100)
    assert [b.nominal for b in st.buffer][10:] == [T0 + 10 * i for i in range(10, 26)]
    assert st.backfills == [] and all(b.manual for b in st.buffer)


def test_future_action_times_follow_the_last_processed_time() -> None:
    st = state()
    assert st.future_action_times(3) == [T0 + 10, T0 + 20, T0 + 30]


# -- actions and closes ------------------------------------------------------------------


def test_workflow_ids_and_request_ids() -> None:
    st = state()
    b = BufferedStart(T0 + 0.7, T0 + 0.7, 0, False, 4)
    assert st.workflow_id_for(b) == "wf-2023-11-14T22:13:20Z"
    assert st.request_id_for(b) == st.request_id_for(BufferedStart(T0 + 0.7, T0 + 0.7, 0, False, 4))
    assert st.request_id_for(b) != st.request_id_for(BufferedStart(T0 + 0.7, T0 + 0.7, 0, False, 5))
    st.schedule.policies.keep_original_workflow_id = True  # stored, not honoured: as Temporal
    assert st.workflow_id_for(b) == "wf-2023-11-14T22:13:20Z"


def _record(st: ScheduleState, wid: str) -> None:
    st.record_action(
        ScheduleActionResult(start_workflow_result=WorkflowExecution(workflow_id=wid, run_id="r")),
        True,
    )


def test_pause_on_failure_and_continued_failure() -> None:
    st = state(pause_on_failure=True)
    _record(st, "w1")
    st.record_close("w1", STATUS.WORKFLOW_EXECUTION_STATUS_FAILED, None, Failure(message="boom"))
    assert st.schedule.state.paused
    assert st.schedule.state.notes == "paused due to workflow failure: w1: boom"
    assert st.continued_failure is not None and not st.info.running_workflows
    assert (
        st.info.recent_actions[0].start_workflow_status == STATUS.WORKFLOW_EXECUTION_STATUS_FAILED
    )


def test_completion_result_replaces_the_failure() -> None:
    st = state()
    _record(st, "w1")
    st.record_close("w1", STATUS.WORKFLOW_EXECUTION_STATUS_FAILED, None, Failure(message="x"))
    assert not st.schedule.state.paused  # no pause_on_failure
    result = Payloads(payloads=[Payload(data=b"1")])
    st.record_close("w1", STATUS.WORKFLOW_EXECUTION_STATUS_COMPLETED, result, None)
    assert st.last_completion_result == result and st.continued_failure is None


def test_recent_actions_keep_ten() -> None:
    st = state()
    for i in range(12):
        _record(st, f"w{i}")
    assert len(st.info.recent_actions) == 10
    assert st.info.recent_actions[0].start_workflow_result.workflow_id == "w2"


def test_state_round_trips() -> None:
    st = state(pause_on_failure=True)
    st.buffer = starts(2, BUFFER_ALL)
    st.add_backfill(BackfillRequest(start_time=ts(T0), end_time=ts(T0 + 5)))
    st.last_completion_result = Payloads(payloads=[Payload(data=b"7")])
    st.continued_failure = Failure(message="f")
    back = ScheduleState.decode(st.encode(), 3)
    assert back.encode() == st.encode() and back.db_version == 3
