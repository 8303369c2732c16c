"""Frontend rate limits: token buckets, priorities, namespace/instance/concurrency limits.

Pure: the limiter takes its time from a fake clock, so nothing waits.
"""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import ResourceExhaustedCause, ResourceExhaustedScope

from pytemporal.common import dynamic_config as dc
from pytemporal.common.errors import ResourceExhausted
from pytemporal.frontend.ratelimit import (
    FrontendLimiter,
    PriorityLimiter,
    RateLimitSettings,
    TokenBucket,
    instance_burst,
    namespace_burst,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted(limiter: FrontendLimiter, method: str, ns: str | None, n: int) -> int:
    ok = 0
    for _ in range(n):
        try:
            limiter.acquire(method, ns)()
            ok += 1
        except ResourceExhausted:
            pass
    return ok


def test_bucket_starts_full_refills_at_rate_and_caps_at_burst() -> None:
    b = TokenBucket(rate=5, burst=10, now=0.0)
    assert sum(b.allow(0.0) for _ in range(20)) == 10
    assert sum(b.allow(1.0) for _ in range(20)) == 5
    assert sum(b.allow(100.0) for _ in range(20)) == 10


def test_bucket_debt_delays_later_calls() -> None:
    b = TokenBucket(rate=1, burst=1, now=0.0)
    b.take(0.0, 3)  # -2 tokens
    assert not b.allow(2.5)
    assert b.allow(3.0)


def test_bursts_as_temporal_computes_them() -> None:
    assert instance_burst(2400) == 4800
    assert instance_burst(0.2) == 1
    assert instance_burst(0) == 0
    assert namespace_burst(5, 2.0) == 10
    assert namespace_burst(0.3, 1.0) == 1
    assert namespace_burst(0, 2.0) == 1


def test_a_higher_priority_call_drains_lower_priorities_first() -> None:
    limiter = PriorityLimiter(rate=1, burst=3, priorities=[0, 1, 2], now=0.0)
    assert all(limiter.allow(0.0, 1) for _ in range(3))
    assert not limiter.allow(0.0, 1)
    assert not limiter.allow(0.0, 2)  # drawn down by the priority-1 calls
    assert limiter.allow(0.0, 0)  # its own bucket is untouched


def test_priority_zero_refills_at_the_operator_ratio() -> None:
    limiter = PriorityLimiter(rate=10, burst=10, priorities=[0, 1], now=0.0, operator_ratio=0.2)
    assert sum(limiter.allow(0.0, 0) for _ in range(20)) == 10
    assert sum(limiter.allow(1.0, 0) for _ in range(20)) == 2


def settings(**kw: float) -> RateLimitSettings:
    return RateLimitSettings(**kw)  # type: ignore[arg-type]


def test_namespace_limit_is_per_namespace_with_temporals_detail() -> None:
    clock = FakeClock()
    limiter = FrontendLimiter(settings(namespace_rps=5, namespace_burst_ratio=2.0), clock)
    assert admitted(limiter, "StartWorkflowExecution", "a", 30) == 10
    assert admitted(limiter, "StartWorkflowExecution", "b", 30) == 10
    with pytest.raises(ResourceExhausted) as err:
        limiter.acquire("SignalWorkflowExecution", "a")  # same priority, same bucket
    assert err.value.message == "namespace rate limit exceeded"
    assert err.value.cause == ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT
    assert err.value.scope == ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE
    clock.now += 1.0
    assert admitted(limiter, "StartWorkflowExecution", "a", 30) == 5


def test_instance_limit_covers_all_namespaces_and_unknown_ones() -> None:
    limiter = FrontendLimiter(settings(rps=3), FakeClock())
    assert (
        admitted(limiter, "DescribeNamespace", "a", 4)
        + admitted(limiter, "DescribeNamespace", None, 4)
        == 6
    )  # burst 2 x 3
    with pytest.raises(ResourceExhausted) as err:
        limiter.acquire("SignalWorkflowExecution", "b")
    assert err.value.message == "service rate limit exceeded"
    assert err.value.scope == ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_SYSTEM


def test_unknown_namespaces_grow_no_state() -> None:
    limiter = FrontendLimiter(settings(namespace_rps=1), FakeClock())
    admitted(limiter, "StartWorkflowExecution", None, 100)
    assert limiter._namespaces == {}


def test_visibility_has_its_own_namespace_rate() -> None:
    limiter = FrontendLimiter(
        settings(namespace_rps=100, visibility_rps=2, visibility_burst_ratio=1.0), FakeClock()
    )
    assert admitted(limiter, "ListWorkflowExecutions", "a", 10) == 2
    assert admitted(limiter, "CountWorkflowExecutions", "a", 10) == 0
    assert admitted(limiter, "StartWorkflowExecution", "a", 10) == 10


def test_unlisted_methods_are_not_limited() -> None:
    limiter = FrontendLimiter(settings(rps=1, namespace_rps=1), FakeClock())
    assert not limiter.limits("AddSearchAttributes")
    assert admitted(limiter, "AddSearchAttributes", "a", 10) == 10


def test_concurrent_long_polls_per_namespace_and_method() -> None:
    limiter = FrontendLimiter(settings(namespace_count=2), FakeClock())
    first = limiter.acquire("PollWorkflowTaskQueue", "a")
    second = limiter.acquire("PollWorkflowTaskQueue", "a")
    with pytest.raises(ResourceExhausted) as err:
        limiter.acquire("PollWorkflowTaskQueue", "a")
    assert err.value.message == "namespace concurrent poller limit exceeded"
    assert err.value.cause == ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT
    assert err.value.scope == ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE
    assert limiter.in_flight("a", "PollWorkflowTaskQueue") == 2
    limiter.acquire("PollActivityTaskQueue", "a")  # counted per API
    limiter.acquire("PollWorkflowTaskQueue", "b")  # and per namespace
    first()
    first()  # releasing twice is harmless
    limiter.acquire("PollWorkflowTaskQueue", "a")
    second()
    assert limiter.in_flight("a", "PollWorkflowTaskQueue") == 1


def test_history_counts_as_long_running_only_when_it_waits() -> None:
    limiter = FrontendLimiter(settings(namespace_count=1), FakeClock())
    held = limiter.acquire("GetWorkflowExecutionHistory", "a", waits_for_event=True)
    limiter.acquire("GetWorkflowExecutionHistory", "a")()
    with pytest.raises(ResourceExhausted):
        limiter.acquire("GetWorkflowExecutionHistory", "a", waits_for_event=True)
    held()


def test_a_rate_limited_call_gives_back_its_concurrency_slot() -> None:
    limiter = FrontendLimiter(settings(namespace_rps=1, namespace_burst_ratio=1.0), FakeClock())
    limiter.acquire("PollWorkflowTaskQueue", "a")
    with pytest.raises(ResourceExhausted):
        limiter.acquire("PollWorkflowTaskQueue", "a")
    assert limiter.in_flight("a", "PollWorkflowTaskQueue") == 1


def test_settings_from_dynamic_config() -> None:
    values, _ = dc.DynamicConfig.from_values(
        {"frontend.namespaceRPS": 5, "frontend.namespaceBurstRatio": 1.5, "frontend.rps": 7}
    )
    s = RateLimitSettings.from_config(values, dev_server=False)
    assert (s.namespace_rps, s.namespace_burst_ratio, s.rps) == (5, 1.5, 7)
    assert s.visibility_rps == 10 and s.namespace_count == 1200
    assert RateLimitSettings.from_config(values, dev_server=True).visibility_rps == 100
    explicit, _ = dc.DynamicConfig.from_values({"frontend.namespaceRPS.visibility": 3})
    assert RateLimitSettings.from_config(explicit, dev_server=True).visibility_rps == 3
    with pytest.raises(dc.DynamicConfigError):
        dc.DynamicConfig.from_values({"frontend.namespaceBurstRatio": "two"})
