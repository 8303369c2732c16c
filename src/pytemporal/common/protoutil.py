"""Small conversions between protobuf well-known types and float seconds."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp


def ts(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromNanoseconds(int(round(seconds * 1e9)))
    return t


def ts_seconds(t: Timestamp) -> float:
    return t.seconds + t.nanos / 1e9


def dur(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


def dur_seconds(d: Duration) -> float:
    return d.seconds + d.nanos / 1e9
