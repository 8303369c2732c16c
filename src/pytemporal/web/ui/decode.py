"""Turn protobuf messages into what the pages show: payloads decoded, enums named.

Pure: no I/O, so the unit tests call it directly. Payloads are decoded by their
`encoding` metadata as the SDKs' default converter writes them: JSON encodings are
shown as JSON, `binary/null` as null, anything else (binary, encrypted, unknown
codecs) as base64, never guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus

_JSON_ENCODINGS = ("json/plain", "json/protobuf")


def payload_value(payload: Payload) -> Any:
    """A JSON-able value for one payload (decoded JSON, None, or a base64 wrapper)."""
    encoding = payload.metadata.get("encoding", b"").decode("utf-8", "replace")
    if encoding == "binary/null":
        return None
    if encoding in _JSON_ENCODINGS:
        try:
            return json.loads(payload.data)
        except ValueError:
            pass  # not what it claims: shown as bytes below
    return {"encoding": encoding or "(none)", "base64": base64.b64encode(payload.data).decode()}


def payloads_value(payloads: Iterable[Payload]) -> Any:
    """One payload as its value; several (or none) as a list."""
    values = [payload_value(p) for p in payloads]
    return values[0] if len(values) == 1 else values


def _decode_json_payload(node: dict[str, Any]) -> Any:
    """`node` is a Payload as protobuf's JSON mapping writes it (base64 fields)."""
    try:
        metadata = {k: base64.b64decode(v) for k, v in node.get("metadata", {}).items()}
        data = base64.b64decode(node.get("data", ""))
    except (binascii.Error, AttributeError, TypeError):
        return node
    return payload_value(Payload(metadata=metadata, data=data))


def _is_payload(node: dict[str, Any]) -> bool:
    metadata = node.get("metadata")
    return (
        isinstance(metadata, dict)
        and "encoding" in metadata
        and set(node) <= {"metadata", "data", "externalPayloads"}
    )


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        if _is_payload(node):
            return _decode_json_payload(node)
        walked = {k: _walk(v) for k, v in node.items()}
        # Payloads {payloads: [...]} read as their values.
        if set(walked) == {"payloads"} and isinstance(walked["payloads"], list):
            payloads = walked["payloads"]
            return payloads[0] if len(payloads) == 1 else payloads
        return walked
    if isinstance(node, list):
        return [_walk(v) for v in node]
    return node


def message_value(message: Message) -> Any:
    """A message as protobuf's JSON mapping, with every payload inside decoded."""
    return _walk(json_format.MessageToDict(message))


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)


def compact(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_attributes(event: Message) -> Any:
    field = event.WhichOneof("attributes")
    return message_value(getattr(event, field)) if field else {}


def event_type_name(value: int) -> str:
    """`EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` -> `WorkflowExecutionStarted`."""
    return _camel(EventType.Name(EventType.ValueType(value)).removeprefix("EVENT_TYPE_"))


def status_name(value: int) -> str:
    """The name the list filter language uses (`Running`, `ContinuedAsNew`, ...)."""
    return _camel(
        WorkflowExecutionStatus.Name(WorkflowExecutionStatus.ValueType(value)).removeprefix(
            "WORKFLOW_EXECUTION_STATUS_"
        )
    )


def enum_name(name: str, prefix: str) -> str:
    return _camel(name.removeprefix(prefix))


def _camel(upper: str) -> str:
    return "".join(part.capitalize() for part in upper.split("_"))


def when(ts: Timestamp | None) -> datetime | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


def format_time(value: datetime | Timestamp | None) -> str:
    moment = value if isinstance(value, datetime) or value is None else when(value)
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
