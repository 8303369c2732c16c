"""The in-memory statistics DescribeTaskQueue reports, with explicit times."""

from __future__ import annotations

import math

from pytemporal.matching.stats import (
    DEFAULT_POLLER_RATE,
    POLLER_TTL,
    RATE_WINDOW,
    Poller,
    PollerHistory,
    Rate,
)


def test_rate_averages_over_the_window_and_forgets_old_events() -> None:
    start = 1000.0
    rate = Rate(start)
    for i in range(60):
        rate.add(start + i)
    # 60 events in 60 s, but only the last 30 s count.
    assert math.isclose(rate.per_second(start + 59.5), 30 / RATE_WINDOW)
    assert rate.per_second(start + 59 + RATE_WINDOW + 1) == 0.0


def test_young_queue_is_averaged_over_its_age() -> None:
    start = 1000.0
    rate = Rate(start)
    rate.add(start, n=4)
    assert math.isclose(rate.per_second(start + 2), 2.0)
    assert math.isclose(rate.per_second(start + 0.1), 4.0)  # at least one second


def test_pollers_newest_first_default_rate_and_ttl() -> None:
    history = PollerHistory()
    history.record(Poller("a"), now=100.0)
    history.record(Poller("b", rate_per_second=5.0), now=200.0)
    history.record(Poller(""), now=200.0)  # no identity: not reported, as Temporal
    seen = history.recent(now=250.0)
    assert [(p.identity, p.rate_per_second) for p in seen] == [
        ("b", 5.0),
        ("a", DEFAULT_POLLER_RATE),
    ]
    assert [p.identity for p in history.recent(now=100.0 + POLLER_TTL + 1)] == ["b"]
