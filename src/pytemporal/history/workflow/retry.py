"""Retry policies: validation, defaults and the retry decision (pure)."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import RetryPolicy
from temporalio.api.enums.v1 import RetryState
from temporalio.api.failure.v1 import Failure

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur, dur_seconds
from pytemporal.history.workflow import durations

_TIMEOUT_NAMES = {"StartToClose", "ScheduleToStart", "ScheduleToClose", "Heartbeat"}


def normalize(policy: RetryPolicy, *, default_initial: float = 1.0) -> RetryPolicy:
    """Validate `policy` and fill unset fields with Temporal's defaults."""
    p = RetryPolicy()
    p.CopyFrom(policy)
    durations.cap(p.initial_interval)
    durations.cap(p.maximum_interval)
    initial = dur_seconds(p.initial_interval)
    if p.maximum_attempts == 1:
        # A single attempt is never retried: fill the defaults, skip the validation.
        if initial <= 0:
            p.initial_interval.CopyFrom(dur(default_initial))
        if p.backoff_coefficient == 0:
            p.backoff_coefficient = 2.0
        if dur_seconds(p.maximum_interval) <= 0:
            p.maximum_interval.CopyFrom(_default_maximum(dur_seconds(p.initial_interval)))
        return p
    _check_interval(p.initial_interval, "InitialInterval")
    if p.backoff_coefficient != 0 and p.backoff_coefficient < 1:
        raise InvalidArgument("BackoffCoefficient cannot be less than 1 on retry policy.")
    _check_interval(p.maximum_interval, "MaximumInterval")
    if p.maximum_attempts < 0:
        raise InvalidArgument("MaximumAttempts cannot be negative on retry policy.")
    if initial == 0:
        initial = default_initial
        p.initial_interval.CopyFrom(dur(initial))
    if p.backoff_coefficient == 0:
        p.backoff_coefficient = 2.0
    max_interval = dur_seconds(p.maximum_interval)
    if max_interval == 0:
        p.maximum_interval.CopyFrom(_default_maximum(initial))
    elif max_interval < initial:
        raise InvalidArgument(
            "MaximumInterval cannot be less than InitialInterval on retry policy."
        )
    for t in p.non_retryable_error_types:
        if t.startswith("TemporalTimeout:") and t[len("TemporalTimeout:") :] not in _TIMEOUT_NAMES:
            raise InvalidArgument(f"Invalid timeout type value: {t[len('TemporalTimeout:') :]}.")
    return p


def _check_interval(d: Duration, name: str) -> None:
    found = durations.problem(d)
    if found is not None:
        raise InvalidArgument(f"invalid {name} set on retry policy: {found}")


def _default_maximum(initial: float) -> Duration:
    d = dur(100 * initial)
    durations.cap(d)
    return d


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Delay before the attempt after `attempt` (the one that just failed)."""
    initial = dur_seconds(policy.initial_interval)
    max_interval = dur_seconds(policy.maximum_interval)
    try:
        delay = initial * (policy.backoff_coefficient ** (attempt - 1))
    except OverflowError:
        # Only reachable after ~1000 attempts; the cap (or "forever") applies.
        delay = float("inf")
    if max_interval > 0:
        delay = min(delay, max_interval)
    return delay


def is_non_retryable(policy: RetryPolicy, failure: Failure | None) -> bool:
    if failure is None:
        return False
    if failure.HasField("application_failure_info"):
        info = failure.application_failure_info
        return info.non_retryable or info.type in policy.non_retryable_error_types
    if failure.HasField("canceled_failure_info") or failure.HasField("terminated_failure_info"):
        return True
    if failure.HasField("server_failure_info"):
        return failure.server_failure_info.non_retryable
    if failure.HasField("timeout_failure_info"):
        name = _timeout_name(failure.timeout_failure_info.timeout_type)
        if name in ("ScheduleToStart", "ScheduleToClose"):
            return True  # the whole schedule ran out: no attempt can follow
        return f"TemporalTimeout:{name}" in policy.non_retryable_error_types
    return False


def _timeout_name(timeout_type: int) -> str:
    return {1: "StartToClose", 2: "ScheduleToStart", 3: "ScheduleToClose", 4: "Heartbeat"}.get(
        timeout_type, ""
    )


def next_delay(
    policy: RetryPolicy | None,
    attempt: int,
    failure: Failure | None,
    *,
    now: float,
    expiration: float,
) -> tuple[int, float]:
    """Decide whether to retry after `attempt` failed: (RetryState, delay seconds).

    `expiration` is the absolute deadline for the whole retry chain (0 = none).
    """
    if policy is None:
        return RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET, 0.0
    if is_non_retryable(policy, failure):
        return RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE, 0.0
    if policy.maximum_attempts > 0 and attempt >= policy.maximum_attempts:
        return RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, 0.0
    delay = backoff(policy, attempt)
    if failure is not None and failure.HasField("application_failure_info"):
        explicit = failure.application_failure_info.next_retry_delay
        if explicit.seconds or explicit.nanos:
            delay = dur_seconds(explicit)
            max_interval = dur_seconds(policy.maximum_interval)
            if max_interval > 0:
                delay = min(delay, max_interval)
    if expiration and now + delay > expiration:
        return RetryState.RETRY_STATE_TIMEOUT, 0.0
    return RetryState.RETRY_STATE_IN_PROGRESS, delay
