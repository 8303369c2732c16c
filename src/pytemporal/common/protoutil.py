"""Small conversions between protobuf well-known types and float seconds."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

# The range a protobuf Timestamp / Duration may hold. A deadline derived from a huge
# timeout (stored before timeouts were capped) is clamped to it rather than making
# every later read of the workflow fail.
_TS_MIN, _TS_MAX = -62135596800, 253402300799
_DUR_MAX = 315576000000


def _clamp(seconds: float, low: int, high: int) -> int:
    nanos = int(round(min(max(seconds, low), high) * 1e9))
    return min(max(nanos, low * 1_000_000_000), high * 1_000_000_000)


def ts(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromNanoseconds(_clamp(seconds, _TS_MIN, _TS_MAX))
    return t


def ts_seconds(t: Timestamp) -> float:
    return t.seconds + t.nanos / 1e9


def dur(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(_clamp(seconds, -_DUR_MAX, _DUR_MAX))
    return d


def dur_seconds(d: Duration) -> float:
    return d.seconds + d.nanos / 1e9


def copy_present(dst: Message, src: Message, *names: str) -> None:
    """Copy the message fields `names` that are set in `src`, leaving the others unset.

    Passing an unset sub-message to a constructor (`Attrs(failure=cmd.failure)`) marks
    it present; the SDKs read presence (a marker with an empty `failure` is a failed
    local activity to sdk-core), so fields copied from a request go through here.
    """
    for name in names:
        if src.HasField(name):
            getattr(dst, name).CopyFrom(getattr(src, name))
