"""The stored form of a run's mutable state: `pytemporal.state.v1.MutableState`.

`encode` and `decode` convert between `state.MutableState` and the protobuf message of
`pytemporal/proto/state/v1/state.proto` (regenerate its code with
`python scripts/gen_protos.py`). Proto fields carry the names of the dataclass
attributes, so plain scalar fields are copied by name; Temporal API objects are stored
as their serialized bytes.

Versioning: every blob carries `format_version`. A change that old readers or old blobs
cannot simply default (a new meaning, a removed field) bumps FORMAT_VERSION and adds an
upgrade step to `_UPGRADES` that rewrites a message of the previous version in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.workflow.v1 import WorkflowExecutionVersioningInfo

from pytemporal.common.errors import PersistenceError
from pytemporal.history.workflow import state as st
from pytemporal.proto.state.v1 import state_pb2 as pb

FORMAT_VERSION = 1

# MutableState attributes that are not stored: what one mutation produced or was told
# (reset by `begin()` or at commit), and the row's version (a column of its own).
SCRATCH = frozenset(
    {
        "new_events",
        "tasks",
        "new_run",
        "update_effects",
        "dirty",
        "defer_schedule",
        "now",
        "db_version",
    }
)
# Rebuilt by decode: the pending activities by activity id, and which attempts were
# dispatched (stored as a flag on each activity).
DERIVED = frozenset({"activity_ids", "dispatched"})
# WorkflowTaskInfo attributes of a speculative task, which is never stored.
WFT_NOT_STORED = frozenset({"speculative", "pending_events"})

# Upgrade steps: _UPGRADES[n] turns a version-n message into a version n+1 one.
_UPGRADES: dict[int, Callable[[pb.MutableState], None]] = {}


class UnknownStateFormat(PersistenceError):
    """A stored mutable state this version of pytemporal cannot read."""


def _scalars(message: type[Message], *exclude: str) -> tuple[str, ...]:
    """The plain (non-repeated, non-message, non-bytes) fields, copied by name."""
    return tuple(
        f.name
        for f in message.DESCRIPTOR.fields
        if not f.is_repeated
        and f.type not in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_BYTES)
        and f.name not in exclude
    )


_MS = _scalars(pb.MutableState, "format_version")
_WFT = _scalars(pb.WorkflowTaskInfo)
_ACTIVITY = _scalars(pb.ActivityInfo, "dispatched")
_TIMER = _scalars(pb.TimerInfo)
_CHILD = _scalars(pb.ChildInfo)
_EXTERNAL = _scalars(pb.ExternalInfo)


def _copy(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


# -- encode ------------------------------------------------------------------------


def encode(ms: st.MutableState) -> bytes:
    wft = ms.wft
    msg = pb.MutableState(
        format_version=FORMAT_VERSION,
        started=ms.started.SerializeToString(),
        wft=pb.WorkflowTaskInfo(**_copy(wft, _WFT))
        if wft is not None and not wft.speculative
        else None,
        activities=[
            _encode_activity(a, (a.scheduled_event_id, a.attempt) in ms.dispatched)
            for a in ms.activities.values()
        ],
        timers=[pb.TimerInfo(**_copy(t, _TIMER)) for t in ms.timers.values()],
        buffered=[e.SerializeToString() for e in ms.buffered],
        signal_request_ids=ms.signal_request_ids,
        children=[pb.ChildInfo(**_copy(c, _CHILD)) for c in ms.children.values()],
        externals=[pb.ExternalInfo(**_copy(e, _EXTERNAL)) for e in ms.externals.values()],
        outbox=[_encode_transfer(t) for t in ms.outbox],
        updates=[
            pb.UpdateInfo(update_id=uid, accepted_event_id=ids[0], completed_event_id=ids[1])
            for uid, ids in ms.updates.items()
        ],
        auto_reset_points=ms.auto_reset_points,
        execution_options=ms.execution_options,
        versioning=b"" if ms.versioning is None else ms.versioning.SerializeToString(),
        **_copy(ms, _MS),
    )
    return msg.SerializeToString()


def _encode_activity(a: st.ActivityInfo, dispatched: bool) -> pb.ActivityInfo:
    return pb.ActivityInfo(
        dispatched=dispatched,
        attrs=a.attrs.SerializeToString(),
        heartbeat_details=None
        if a.heartbeat_details is None
        else a.heartbeat_details.SerializeToString(),
        last_failure=None if a.last_failure is None else a.last_failure.SerializeToString(),
        original_attrs=None if a.original_attrs is None else a.original_attrs.SerializeToString(),
        **_copy(a, _ACTIVITY),
    )


def _encode_transfer(t: st.Transfer) -> pb.Transfer:
    return pb.Transfer(
        kind=t.kind,
        ref=t.ref,
        targets=[
            pb.CloseChildTarget(
                namespace_id=ns_id, workflow_id=wf_id, run_id=run_id, parent_close_policy=policy
            )
            for ns_id, wf_id, run_id, policy in t.targets
        ],
    )


# -- decode ------------------------------------------------------------------------


def decode(blob: bytes) -> st.MutableState:
    """The state stored as `blob`; UnknownStateFormat if it is not one this code reads."""
    try:
        msg = pb.MutableState.FromString(blob)
    except DecodeError as e:
        raise _unknown(blob, str(e)) from e
    version = msg.format_version
    if version != FORMAT_VERSION and version not in _UPGRADES:
        raise _unknown(blob, f"format_version {version}")
    while version != FORMAT_VERSION:
        _UPGRADES[version](msg)
        version += 1
    try:
        return _decode(msg)
    except DecodeError as e:
        raise UnknownStateFormat(f"unreadable stored mutable state: {e}") from e


def _unknown(blob: bytes, detail: str) -> UnknownStateFormat:
    readable = ", ".join(str(v) for v in sorted({*_UPGRADES, FORMAT_VERSION}))
    if blob[:1] == b"\x80":  # a pickle (protocol 2+)
        detail = "a pickle, as written by builds before the protobuf encoding"
    return UnknownStateFormat(
        f"unknown stored mutable-state format ({detail}); this pytemporal reads "
        f"pytemporal.state.v1.MutableState format_version {readable}"
    )


def _decode(msg: pb.MutableState) -> st.MutableState:
    activities = {a.scheduled_event_id: _decode_activity(a) for a in msg.activities}
    return st.MutableState(
        started=WorkflowExecutionStartedEventAttributes.FromString(msg.started),
        wft=st.WorkflowTaskInfo(**_copy(msg.wft, _WFT)) if msg.HasField("wft") else None,
        activities=activities,
        activity_ids={a.activity_id: sched_id for sched_id, a in activities.items()},
        dispatched={(a.scheduled_event_id, a.attempt) for a in msg.activities if a.dispatched},
        timers={t.timer_id: st.TimerInfo(**_copy(t, _TIMER)) for t in msg.timers},
        buffered=[HistoryEvent.FromString(b) for b in msg.buffered],
        signal_request_ids=set(msg.signal_request_ids),
        children={c.initiated_event_id: st.ChildInfo(**_copy(c, _CHILD)) for c in msg.children},
        externals={
            e.initiated_event_id: st.ExternalInfo(**_copy(e, _EXTERNAL)) for e in msg.externals
        },
        outbox=[_decode_transfer(t) for t in msg.outbox],
        updates={u.update_id: [u.accepted_event_id, u.completed_event_id] for u in msg.updates},
        auto_reset_points=msg.auto_reset_points,
        execution_options=msg.execution_options,
        versioning=WorkflowExecutionVersioningInfo.FromString(msg.versioning)
        if msg.versioning
        else None,
        **_copy(msg, _MS),
    )


def _decode_activity(a: pb.ActivityInfo) -> st.ActivityInfo:
    return st.ActivityInfo(
        attrs=ActivityTaskScheduledEventAttributes.FromString(a.attrs),
        heartbeat_details=Payloads.FromString(a.heartbeat_details)
        if a.HasField("heartbeat_details")
        else None,
        last_failure=Failure.FromString(a.last_failure) if a.HasField("last_failure") else None,
        original_attrs=ActivityTaskScheduledEventAttributes.FromString(a.original_attrs)
        if a.HasField("original_attrs")
        else None,
        **_copy(a, _ACTIVITY),
    )


def _decode_transfer(t: pb.Transfer) -> st.Transfer:
    return st.Transfer(
        kind=t.kind,
        ref=t.ref,
        targets=tuple(
            (x.namespace_id, x.workflow_id, x.run_id, x.parent_close_policy) for x in t.targets
        ),
    )
