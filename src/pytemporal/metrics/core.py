"""Metric families with Temporal's exposition names, cheap enough for the hot paths.

Why not prometheus-client's ``Counter``/``Histogram`` for these families: its text
exposition always names a counter ``<name>_total``, while Temporal's server exposes
``service_requests``, ``workflow_success`` and the like without the suffix, and the
dashboards and alert rules written for Temporal query those names. It also takes a lock
per update, which a single event loop does not need. prometheus-client still serves the
process, GC and platform collectors and its number formatting (``metrics/http.py``).

Children are cached per label-value tuple, so an update on a known series is a dict
lookup and an addition. A family holds at most ``MAX_SERIES`` series; past that, new
label values share one ``_overflow_`` series instead of growing memory without bound
(task queue and workflow type names come from clients).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from prometheus_client.utils import floatToGoString

MAX_SERIES = 10_000
OVERFLOW = "_overflow_"

# Temporal's default histogram buckets for its timers (seconds), bytes and counts,
# as its Prometheus reporter exposes them (`le` values of a `temporal server
# start-dev` scrape).
LATENCY_BUCKETS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
)  # fmt: skip
BYTES_BUCKETS = tuple(float(1024 * 2**i) for i in range(15))
COUNT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)


class CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramChild:
    __slots__ = ("bounds", "buckets", "sum", "count")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        # buckets[i]: observations <= bounds[i] and > bounds[i-1]; the last is +Inf.
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)


class _Family:
    kind = ""

    def __init__(
        self,
        name: str,
        doc: str,
        labelnames: Sequence[str] = (),
        const_labels: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self.const_labels = dict(const_labels or {})
        self._start()

    def _start(self) -> None:
        """A kind's own per-series state (one signature for every family's constructor)."""

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]

    def _labels(self, values: tuple[str, ...], extra: str = "") -> str:
        pairs = sorted([*zip(self.labelnames, values, strict=True), *self.const_labels.items()])
        text = _label_text(pairs)
        if extra:
            text = f"{text},{extra}" if text else extra
        return "{" + text + "}" if text else ""

    def render(self) -> list[str]:
        raise NotImplementedError


C = TypeVar("C")


class _ChildFamily(_Family, Generic[C]):
    children: dict[tuple[str, ...], C]

    def _start(self) -> None:
        self.children = {}

    def _new(self) -> C:
        raise NotImplementedError

    def labels(self, *values: str) -> C:
        child = self.children.get(values)
        if child is None:
            if len(self.children) >= MAX_SERIES:
                values = (OVERFLOW,) * len(self.labelnames)
                child = self.children.get(values)
            if child is None:
                child = self.children[values] = self._new()
        return child


class Counter(_ChildFamily[CounterChild]):
    kind = "counter"

    def _new(self) -> CounterChild:
        return CounterChild()

    def render(self) -> list[str]:
        lines = self.header()
        for values, child in self.children.items():
            lines.append(f"{self.name}{self._labels(values)} {floatToGoString(child.value)}")
        return lines


class Histogram(_ChildFamily[HistogramChild]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        doc: str,
        labelnames: Sequence[str] = (),
        const_labels: dict[str, str] | None = None,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, doc, labelnames, const_labels)
        self.bounds = tuple(float(b) for b in buckets)
        self._le = [floatToGoString(b) for b in self.bounds] + ["+Inf"]

    def _new(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def render(self) -> list[str]:
        lines = self.header()
        for values, child in self.children.items():
            cumulative = 0
            for le, n in zip(self._le, child.buckets, strict=True):
                cumulative += n
                lines.append(
                    f"{self.name}_bucket{self._labels(values, f'le={chr(34)}{le}{chr(34)}')}"
                    f" {cumulative}"
                )
            labels = self._labels(values)
            lines.append(f"{self.name}_sum{labels} {floatToGoString(child.sum)}")
            lines.append(f"{self.name}_count{labels} {child.count}")
        return lines


# Reads the current values at scrape time: (label values, value) pairs.
GaugeReader = Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class Gauge(_Family):
    """A gauge read at scrape time from the role that knows the value (no hot-path cost)."""

    kind = "gauge"

    readers: list[GaugeReader]

    def _start(self) -> None:
        self.readers = []

    def read_from(self, reader: GaugeReader) -> None:
        self.readers.append(reader)

    def render(self) -> list[str]:
        lines = self.header()
        for reader in self.readers:
            for values, value in reader():
                lines.append(f"{self.name}{self._labels(values)} {floatToGoString(value)}")
        return lines


F = TypeVar("F", bound=_Family)


class Registry:
    def __init__(self) -> None:
        self.families: list[_Family] = []

    def add(self, family: F) -> F:
        self.families.append(family)
        return family

    def render(self) -> str:
        """Prometheus text format (version 0.0.4) of every family."""
        lines: list[str] = []
        for family in self.families:
            lines.extend(family.render())
        return "\n".join(lines) + "\n"
