"""Retry policies: defaults, validation, the backoff formula and the retry decision."""

from __future__ import annotations

import itertools

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import RetryPolicy
from temporalio.api.enums.v1 import RetryState, TimeoutType
from temporalio.api.failure.v1 import (
    ApplicationFailureInfo,
    CanceledFailureInfo,
    Failure,
    ServerFailureInfo,
    TerminatedFailureInfo,
    TimeoutFailureInfo,
)

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.workflow import retry

RS = RetryState


def policy(
    initial: float = 0.0,
    coefficient: float = 0.0,
    maximum: float = 0.0,
    attempts: int = 0,
    non_retryable: tuple[str, ...] = (),
) -> RetryPolicy:
    p = RetryPolicy(
        backoff_coefficient=coefficient,
        maximum_attempts=attempts,
        non_retryable_error_types=list(non_retryable),
    )
    if initial:
        p.initial_interval.CopyFrom(dur(initial))
    if maximum:
        p.maximum_interval.CopyFrom(dur(maximum))
    return p


def app_failure(type_: str = "ValueError", *, non_retryable: bool = False) -> Failure:
    return Failure(
        message="boom",
        application_failure_info=ApplicationFailureInfo(type=type_, non_retryable=non_retryable),
    )


def timeout_failure(kind: int) -> Failure:
    return Failure(message="timeout", timeout_failure_info=TimeoutFailureInfo(timeout_type=kind))


def decide(
    p: RetryPolicy | None,
    attempt: int = 1,
    failure: Failure | None = None,
    *,
    now: float = 1000.0,
    expiration: float = 0.0,
) -> tuple[int, float]:
    return retry.next_delay(p, attempt, failure, now=now, expiration=expiration)


# -- normalize: defaults ---------------------------------------------------------


def test_empty_policy_gets_temporal_defaults() -> None:
    p = retry.normalize(RetryPolicy())
    assert dur_seconds(p.initial_interval) == 1.0
    assert p.backoff_coefficient == 2.0
    assert dur_seconds(p.maximum_interval) == 100.0
    assert p.maximum_attempts == 0


def test_maximum_interval_defaults_to_100_times_initial() -> None:
    assert dur_seconds(retry.normalize(policy(initial=3)).maximum_interval) == 300.0


def test_default_initial_interval_can_be_overridden() -> None:
    p = retry.normalize(RetryPolicy(), default_initial=0.5)
    assert (dur_seconds(p.initial_interval), dur_seconds(p.maximum_interval)) == (0.5, 50.0)


def test_set_fields_are_kept() -> None:
    given = policy(initial=2, coefficient=1.5, maximum=30, attempts=7, non_retryable=("Bad",))
    assert retry.normalize(given) == given


def test_normalize_does_not_modify_its_argument() -> None:
    given = RetryPolicy()
    retry.normalize(given)
    assert given == RetryPolicy()


def test_single_attempt_policy_gets_every_default() -> None:
    p = retry.normalize(policy(attempts=1))
    assert dur_seconds(p.initial_interval) == 1.0
    assert p.backoff_coefficient == 2.0
    assert dur_seconds(p.maximum_interval) == 100.0


def test_single_attempt_policy_skips_validation() -> None:
    # Temporal: one attempt disables retries, so the other fields are not checked.
    p = retry.normalize(policy(coefficient=0.5, attempts=1, non_retryable=("TemporalTimeout:X",)))
    assert p.maximum_attempts == 1


# -- normalize: validation -------------------------------------------------------


def _negative(seconds: int) -> Duration:
    return Duration(seconds=seconds)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: RetryPolicy(initial_interval=_negative(-1)),
            "invalid InitialInterval set on retry policy: negative duration",
        ),
        (
            lambda: policy(coefficient=0.5),
            "BackoffCoefficient cannot be less than 1 on retry policy.",
        ),
        (
            lambda: RetryPolicy(maximum_interval=_negative(-1)),
            "invalid MaximumInterval set on retry policy: negative duration",
        ),
        (
            lambda: policy(attempts=-1),
            "MaximumAttempts cannot be negative on retry policy.",
        ),
        (
            lambda: policy(initial=10, maximum=5),
            "MaximumInterval cannot be less than InitialInterval on retry policy.",
        ),
        (
            lambda: policy(non_retryable=("TemporalTimeout:Forever",)),
            "Invalid timeout type value: Forever.",
        ),
    ],
    ids=["initial", "coefficient", "max-interval", "max-attempts", "max-lt-initial", "timeout"],
)
def test_invalid_policy_is_rejected_with_temporals_message(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument) as info:
        retry.normalize(build())
    assert info.value.message == message


@pytest.mark.parametrize(
    "name", ["StartToClose", "ScheduleToStart", "ScheduleToClose", "Heartbeat"]
)
def test_every_timeout_type_may_be_non_retryable(name: str) -> None:
    p = retry.normalize(policy(non_retryable=(f"TemporalTimeout:{name}", "MyError")))
    assert list(p.non_retryable_error_types) == [f"TemporalTimeout:{name}", "MyError"]


def test_coefficient_of_exactly_one_is_valid() -> None:
    assert retry.normalize(policy(coefficient=1.0)).backoff_coefficient == 1.0


# -- backoff ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (7, 64.0), (8, 100.0), (50, 100.0)]
)
def test_backoff_doubles_from_initial_until_the_cap(attempt: int, expected: float) -> None:
    assert retry.backoff(retry.normalize(RetryPolicy()), attempt) == expected


def test_backoff_with_coefficient_one_is_constant() -> None:
    p = retry.normalize(policy(initial=3, coefficient=1.0))
    assert {retry.backoff(p, a) for a in range(1, 20)} == {3.0}


# A grid standing in for property tests (Hypothesis is not installed).
_GRID = list(
    itertools.product(
        [0.001, 0.5, 1.0, 7.0],  # initial
        [1.0, 1.1, 2.0, 10.0],  # coefficient
        [1.0, 3.0, 100.0, 0.0],  # maximum as a multiple of initial; 0 = default
    )
)


@pytest.mark.parametrize(("initial", "coefficient", "max_factor"), _GRID)
def test_backoff_properties(initial: float, coefficient: float, max_factor: float) -> None:
    p = retry.normalize(policy(initial, coefficient, initial * max_factor))
    cap = dur_seconds(p.maximum_interval)
    delays = [retry.backoff(p, a) for a in range(1, 300)]
    assert delays[0] == pytest.approx(initial)
    assert all(0 < d <= cap for d in delays), "never above the maximum interval"
    assert all(a <= b for a, b in itertools.pairwise(delays)), "non-decreasing in attempt"
    for attempt, d in enumerate(delays, start=1):
        uncapped = initial * coefficient ** (attempt - 1)
        if uncapped > cap:
            break
        assert d == pytest.approx(uncapped)


def test_backoff_survives_very_many_attempts() -> None:
    p = retry.normalize(RetryPolicy())
    assert retry.backoff(p, 1026) == 100.0
    assert decide(p, attempt=5000, failure=app_failure()) == (RS.RETRY_STATE_IN_PROGRESS, 100.0)


# -- next_delay ------------------------------------------------------------------


def test_no_policy_means_no_retry() -> None:
    assert decide(None, 1, app_failure()) == (RS.RETRY_STATE_RETRY_POLICY_NOT_SET, 0.0)


def test_retry_in_progress_uses_the_backoff() -> None:
    p = retry.normalize(RetryPolicy())
    assert decide(p, 1, app_failure()) == (RS.RETRY_STATE_IN_PROGRESS, 1.0)
    assert decide(p, 4, app_failure()) == (RS.RETRY_STATE_IN_PROGRESS, 8.0)


def test_a_failure_without_details_is_retryable() -> None:
    p = retry.normalize(RetryPolicy())
    assert decide(p, 1, None) == (RS.RETRY_STATE_IN_PROGRESS, 1.0)
    assert decide(p, 1, Failure(message="plain")) == (RS.RETRY_STATE_IN_PROGRESS, 1.0)


@pytest.mark.parametrize(("attempt", "state"), [(1, RS.RETRY_STATE_IN_PROGRESS), (2, RS.RETRY_STATE_IN_PROGRESS), (3, RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED), (4, RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)])  # fmt: skip
def test_maximum_attempts_counts_the_first_attempt(attempt: int, state: int) -> None:
    p = retry.normalize(policy(attempts=3))
    assert decide(p, attempt, app_failure())[0] == state


def test_single_attempt_never_retries() -> None:
    p = retry.normalize(policy(attempts=1))
    assert decide(p, 1, app_failure()) == (RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, 0.0)


@pytest.mark.parametrize(
    "failure",
    [
        app_failure(non_retryable=True),
        app_failure("Fatal"),
        timeout_failure(TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE),
        Failure(canceled_failure_info=CanceledFailureInfo()),
        Failure(terminated_failure_info=TerminatedFailureInfo()),
        Failure(server_failure_info=ServerFailureInfo(non_retryable=True)),
    ],
    ids=["flag", "listed-type", "listed-timeout", "canceled", "terminated", "server"],
)
def test_non_retryable_failures(failure: Failure) -> None:
    p = retry.normalize(policy(non_retryable=("Fatal", "TemporalTimeout:StartToClose")))
    assert decide(p, 1, failure) == (RS.RETRY_STATE_NON_RETRYABLE_FAILURE, 0.0)


@pytest.mark.parametrize(
    "failure",
    [
        app_failure("Transient"),
        timeout_failure(TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE),
        timeout_failure(TimeoutType.TIMEOUT_TYPE_HEARTBEAT),
        Failure(server_failure_info=ServerFailureInfo(non_retryable=False)),
    ],
    ids=["other-type", "start-to-close", "heartbeat", "server"],
)
def test_retryable_failures(failure: Failure) -> None:
    p = retry.normalize(policy(non_retryable=("Fatal",)))
    assert decide(p, 1, failure)[0] == RS.RETRY_STATE_IN_PROGRESS


def test_non_retryable_wins_over_maximum_attempts_when_both_apply() -> None:
    p = retry.normalize(policy(attempts=3))
    assert decide(p, 3, app_failure(non_retryable=True))[0] == RS.RETRY_STATE_NON_RETRYABLE_FAILURE


def test_single_attempt_policy_still_reports_non_retryable_failure() -> None:
    p = retry.normalize(policy(attempts=1))
    assert decide(p, 1, app_failure(non_retryable=True))[0] == RS.RETRY_STATE_NON_RETRYABLE_FAILURE


@pytest.mark.parametrize(
    "kind", [TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE]
)
def test_schedule_timeouts_are_never_retried(kind: int) -> None:
    p = retry.normalize(RetryPolicy())
    assert decide(p, 1, timeout_failure(kind))[0] == RS.RETRY_STATE_NON_RETRYABLE_FAILURE


def test_retry_that_would_start_after_expiration_times_out() -> None:
    p = retry.normalize(RetryPolicy())  # attempt 3 -> 4 s backoff
    assert decide(p, 3, app_failure(), now=100, expiration=103.5) == (RS.RETRY_STATE_TIMEOUT, 0.0)
    assert decide(p, 3, app_failure(), now=100, expiration=104.5) == (
        RS.RETRY_STATE_IN_PROGRESS,
        4.0,
    )


def test_zero_expiration_means_no_deadline() -> None:
    p = retry.normalize(RetryPolicy())
    assert decide(p, 40, app_failure(), now=1e9, expiration=0.0) == (
        RS.RETRY_STATE_IN_PROGRESS,
        100.0,
    )


def _with_next_retry_delay(seconds: float) -> Failure:
    f = app_failure()
    f.application_failure_info.next_retry_delay.CopyFrom(dur(seconds))
    return f


def test_next_retry_delay_overrides_the_backoff() -> None:
    p = retry.normalize(RetryPolicy())
    assert decide(p, 1, _with_next_retry_delay(7.5)) == (RS.RETRY_STATE_IN_PROGRESS, 7.5)
    assert decide(p, 6, _with_next_retry_delay(0.25)) == (RS.RETRY_STATE_IN_PROGRESS, 0.25)


def test_next_retry_delay_still_respects_attempts_and_expiration() -> None:
    p = retry.normalize(policy(attempts=2))
    assert decide(p, 2, _with_next_retry_delay(1))[0] == RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    p = retry.normalize(RetryPolicy())
    got = decide(p, 1, _with_next_retry_delay(60), now=100, expiration=150)
    assert got == (RS.RETRY_STATE_TIMEOUT, 0.0)


def test_next_retry_delay_is_capped_by_maximum_interval() -> None:
    p = retry.normalize(policy(maximum=10))
    assert decide(p, 1, _with_next_retry_delay(30)) == (RS.RETRY_STATE_IN_PROGRESS, 10.0)
