"""Pause, unpause, reset and option updates of a pending activity (pure state machine)."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import RetryPolicy
from test_state_machine import T0, app_failure, retry_policy, run_with_activity, start_activity

from pytemporal.common.errors import FailedPrecondition, InvalidArgument, NotFound
from pytemporal.history.workflow import activities, activity_control, codec, deadlines
from pytemporal.history.workflow.state import Task


def test_pausing_an_unstarted_activity_withdraws_its_task_until_unpaused() -> None:
    run = run_with_activity(retry=retry_policy(attempts=3))
    ai = run.activity()
    with run.at(T0 + 3) as ms:
        activity_control.pause(ms, ai, "op", "why", "r1")
    assert (ai.scheduled_event_id, 1) not in run.ms.dispatched
    assert all(when != ai.attempt_scheduled_time for when, _ in activities.deadlines(ai))
    with run.at(T0 + 4) as ms:
        activity_control.pause(ms, ai, "op", "why", "r1")  # the same request again
        with pytest.raises(FailedPrecondition, match="already paused"):
            activity_control.pause(ms, ai, "op", "why", "r2")
    with run.at(T0 + 5) as ms:
        activity_control.unpause(ms, ai, reset_attempts=False, reset_heartbeat=False, delay=0)
    assert not ai.paused
    assert run.tasks == [Task("activity", ai.scheduled_event_id, 1, "tq")]


def test_a_paused_running_attempt_that_fails_waits_for_the_unpause() -> None:
    run = run_with_activity(retry=retry_policy(attempts=2, initial=1))
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 4) as ms:
        activity_control.pause(ms, ai, "op", "", "")
    with run.at(T0 + 5) as ms:
        activities.fail(ms, ai, app_failure(), "act-worker", None)
    assert (ai.attempt, ai.started, run.tasks) == (2, False, [])
    with run.at(T0 + 6) as ms:
        activity_control.unpause(ms, ai, reset_attempts=True, reset_heartbeat=False, delay=3)
    assert ai.attempt == 1 and run.tasks == []  # dispatched by the timer, after the jitter
    assert deadlines.next_deadline(run.ms) == T0 + 9
    run.fire(T0 + 9)
    assert run.tasks == [Task("activity", ai.scheduled_event_id, 1, "tq")]


def test_reset_of_a_running_attempt_is_reported_and_clears_heartbeats_next_attempt() -> None:
    run = run_with_activity(retry=retry_policy(attempts=5, initial=1))
    ai = start_activity(run, T0 + 3)
    with run.at(T0 + 3.5) as ms:
        activities.heartbeat(ms, ai, None)
    with run.at(T0 + 4) as ms:
        activity_control.reset(
            ms, ai, reset_heartbeat=True, keep_paused=False, restore_original=False, delay=0
        )
    assert ai.started and ai.reset_requested and ai.attempt == 1
    with run.at(T0 + 5) as ms:
        activities.fail(ms, ai, app_failure(), "act-worker", None)
    assert (ai.attempt, ai.reset_requested, ai.last_heartbeat_time) == (2, False, 0.0)


def test_update_options_and_restore_survive_encoding() -> None:
    run = run_with_activity(retry=retry_policy(attempts=5))
    ai = run.activity()
    options = activity_control.options_of(ai)
    activity_control.merge_options(
        options,
        ActivityOptions(
            start_to_close_timeout=Duration(seconds=7),
            retry_policy=RetryPolicy(maximum_attempts=9),
        ),
        {"startToCloseTimeout", "retryPolicy.maximumAttempts"},
    )
    with run.at(T0 + 3) as ms:
        new = activity_control.update_options(ms, ai, options)
    assert (new.start_to_close_timeout.seconds, new.retry_policy.maximum_attempts) == (7, 9)
    assert ai.start_to_close == 7
    decoded = codec.decode(codec.encode(run.ms))
    again = decoded.activities[ai.scheduled_event_id]
    assert again.original_attrs is not None and again.start_to_close == 7
    with run.at(T0 + 4) as ms:
        activity_control.reset_options(ms, ai)
    assert ai.attrs.retry_policy.maximum_attempts == 5 and ai.original_attrs is None


def test_merge_needs_the_fields_its_mask_names() -> None:
    with pytest.raises(InvalidArgument, match="RetryPolicy is not provided"):
        activity_control.merge_options(ActivityOptions(), ActivityOptions(), {"retryPolicy"})
    assert activity_control.camel_path("retry_policy.maximum_attempts") == (
        "retryPolicy.maximumAttempts"
    )


def test_select_by_type_and_unknown_id() -> None:
    run = run_with_activity()
    assert activity_control.select(run.ms, activity_type=run.activity().activity_type)
    with pytest.raises(NotFound, match="Can't find pending activity"):
        activity_control.select(run.ms, activity_id="nope")
