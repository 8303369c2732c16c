"""Protobuf's JSON mapping with Temporal's additions, as its HTTP API speaks it.

On top of the standard mapping (`google.protobuf.json_format`), Temporal's marshaler
(`go.temporal.io/api/temporalproto`, `common/v1/payload_json.go`):

- writes a `Payload` whose encoding is `json/plain` as the JSON value itself, a
  `json/protobuf` one as its object plus `"_protoMessageType"`, `binary/null` as
  `{"metadata": {"encoding": "YmluYXJ5L251bGw="}}`, and `Payloads` as a JSON array,
  when every payload in it has such a form ("payload shorthand"; off with the
  `noPayloadShorthand` query parameter);
- reads any JSON value as a shorthand payload unless it is a standard one (an object
  of exactly `metadata` with base64 strings and `data`), and `null` as `binary/null`;
- reads enum values in the older CamelCase form too (`Running` for
  `WORKFLOW_EXECUTION_STATUS_RUNNING`).

Both directions walk the JSON alongside the message descriptor and rewrite only those
places; json_format does the rest.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any, cast

from google.protobuf import descriptor, descriptor_pool, json_format
from google.protobuf.message import Message

# Registers the error details so that a google.rpc.Status's Any details render.
from temporalio.api.errordetails.v1 import message_pb2 as _errordetails  # noqa: F401

PAYLOAD = "temporal.api.common.v1.Payload"
PAYLOADS = "temporal.api.common.v1.Payloads"
_ANY = "google.protobuf.Any"
_MESSAGE_TYPE_KEY = "_protoMessageType"
_BINARY_NULL = {"metadata": {"encoding": base64.b64encode(b"binary/null").decode()}}

FD = descriptor.FieldDescriptor
Rewrite = Callable[[descriptor.Descriptor, Any], Any]


class JSONMappingError(ValueError):
    """The JSON does not fit the message (an InvalidArgument for the caller)."""


def descriptor_of(message: Message) -> descriptor.Descriptor:
    return cast(descriptor.Descriptor, message.DESCRIPTOR)


# -- the walk ---------------------------------------------------------------------


def _field_by_key(desc: descriptor.Descriptor, key: str) -> FD | None:
    field = desc.fields_by_camelcase_name.get(key) or desc.fields_by_name.get(key)
    if field is None:
        for f in desc.fields:  # an explicit json_name
            if f.json_name == key:
                return f
    return field


def _is_map(field: FD) -> bool:
    return (
        field.type == FD.TYPE_MESSAGE
        and field.message_type is not None
        and field.message_type.GetOptions().map_entry
    )


def _walk(desc: descriptor.Descriptor, obj: Any, rewrite: Rewrite) -> Any:
    """`obj` (the JSON of a `desc` message) with `rewrite` applied to every
    message-typed value below it (rewrite decides whether to recurse)."""
    if not isinstance(obj, dict):
        return obj
    if desc.full_name == _ANY:
        return _walk_any(obj, rewrite)
    out = {}
    for key, value in obj.items():
        field = _field_by_key(desc, key) if isinstance(key, str) else None
        if field is None or value is None:
            out[key] = value
            continue
        out[key] = _walk_field(field, value, rewrite)
    return out


def _walk_field(field: FD, value: Any, rewrite: Rewrite) -> Any:
    if _is_map(field):
        value_field = field.message_type.fields_by_name["value"]  # type: ignore[union-attr]
        if not isinstance(value, dict):
            return value
        return {k: _walk_value(value_field, v, rewrite) for k, v in value.items()}
    if field.is_repeated and isinstance(value, list):
        return [_walk_value(field, v, rewrite) for v in value]
    return _walk_value(field, value, rewrite)


def _walk_value(field: FD, value: Any, rewrite: Rewrite) -> Any:
    # Enum names are rewritten on input only (json_format writes canonical ones).
    reading = rewrite is not _shorthand_out
    if field.type == FD.TYPE_ENUM and field.enum_type is not None:
        return _enum_value(field.enum_type, value) if reading else value
    if field.type != FD.TYPE_MESSAGE or field.message_type is None:
        return value
    if not _reaches_rewritten(field.message_type, enums=reading):
        return value
    return rewrite(field.message_type, value)


_REACHES: dict[tuple[str, bool], bool] = {}


def _reaches_rewritten(desc: descriptor.Descriptor, *, enums: bool) -> bool:
    """Whether a `desc` message can hold anything a walk rewrites (a payload, an Any,
    and on input an enum): most responses hold none, and are left as they are."""
    key = (desc.full_name, enums)
    if key not in _REACHES:
        seen: set[str] = set()
        stack = [desc]
        found = False
        while stack and not found:
            current = stack.pop()
            if current.full_name in seen:
                continue
            seen.add(current.full_name)
            if current.full_name in (PAYLOAD, PAYLOADS, _ANY):
                found = True
            for field in current.fields:
                if enums and field.type == FD.TYPE_ENUM:
                    found = True
                elif field.message_type is not None:
                    stack.append(field.message_type)
        _REACHES[key] = found
    return _REACHES[key]


def _walk_any(obj: dict[str, Any], rewrite: Rewrite) -> Any:
    type_url = obj.get("@type")
    if not isinstance(type_url, str):
        return obj
    try:
        inner = descriptor_pool.Default().FindMessageTypeByName(type_url.rsplit("/", 1)[-1])
    except KeyError:
        return obj
    if inner.full_name.startswith("google.protobuf."):
        return obj  # well-known types keep their {"@type", "value"} form
    return _walk(inner, obj, rewrite)


_CAMEL_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _enum_value(enum: descriptor.EnumDescriptor, value: Any) -> Any:
    """The canonical name for Temporal's older CamelCase form of an enum value."""
    if not isinstance(value, str) or value in enum.values_by_name:
        return value
    screaming = _CAMEL_WORD.sub("_", f"{enum.name}_{value}").upper()
    return screaming if screaming in enum.values_by_name else value


# -- message -> JSON ----------------------------------------------------------------


def _b64(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


_NOT_SHORTHAND = object()


def _payload_shorthand(payload: Any) -> Any:
    """The shorthand JSON of a standard payload's JSON, or _NOT_SHORTHAND."""
    if not isinstance(payload, dict):
        return _NOT_SHORTHAND
    metadata = {k: _b64(v) for k, v in (payload.get("metadata") or {}).items()}
    data = _b64(payload.get("data", "")) or b""
    encoding = metadata.get("encoding")
    if encoding == b"binary/null":
        return None
    try:
        if encoding == b"json/plain" and len(metadata) == 1:
            return json.loads(data)
        if encoding == b"json/protobuf" and len(metadata) == 2 and metadata.get("messageType"):
            value = json.loads(data)
            if isinstance(value, dict):
                value[_MESSAGE_TYPE_KEY] = metadata["messageType"].decode()  # type: ignore[union-attr]
                return value
    except (ValueError, UnicodeDecodeError):
        pass
    return _NOT_SHORTHAND


def _shorthand_out(desc: descriptor.Descriptor, value: Any) -> Any:
    if desc.full_name == PAYLOAD:
        short = _payload_shorthand(value)
        if short is _NOT_SHORTHAND:
            return value
        return _BINARY_NULL if short is None else short
    if desc.full_name == PAYLOADS and isinstance(value, dict):
        items = value.get("payloads", [])
        shorts = [_payload_shorthand(p) for p in items]
        if any(s is _NOT_SHORTHAND for s in shorts):
            return value
        return [_BINARY_NULL if s is None else s for s in shorts]
    return _walk(desc, value, _shorthand_out)


def message_to_json(message: Message, *, shorthand: bool = True) -> Any:
    """The JSON value of `message` (int64 as strings, enums by name, unset fields left
    out, as protojson)."""
    obj = json_format.MessageToDict(message)
    desc = descriptor_of(message)
    if not shorthand or not _reaches_rewritten(desc, enums=False):
        return obj
    return _shorthand_out(desc, obj)


# -- JSON -> message ----------------------------------------------------------------


def _standard_payload(value: dict[str, Any]) -> bool:
    metadata = value.get("metadata")
    if not isinstance(metadata, dict) or "encoding" not in metadata:
        return False
    if "data" not in value:
        return len(value) == 1 and metadata.get("encoding") == _BINARY_NULL["metadata"]["encoding"]
    return (
        len(value) == 2
        and _b64(value["data"]) is not None
        and all(_b64(v) is not None for v in metadata.values())
    )


def _encode(value: Any) -> str:
    # As Go's encoding/json: keys sorted, no spaces.
    return base64.b64encode(
        json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    ).decode()


def _payload_from_shorthand(value: Any) -> Any:
    if value is None:
        return _BINARY_NULL
    if isinstance(value, dict):
        if _standard_payload(value):
            return value
        if _MESSAGE_TYPE_KEY in value:
            message_type = value[_MESSAGE_TYPE_KEY]
            if not isinstance(message_type, str):
                raise JSONMappingError(f"{_MESSAGE_TYPE_KEY} must be a string")
            rest = {k: v for k, v in value.items() if k != _MESSAGE_TYPE_KEY}
            return {
                "metadata": {
                    "encoding": base64.b64encode(b"json/protobuf").decode(),
                    "messageType": base64.b64encode(message_type.encode()).decode(),
                },
                "data": _encode(rest),
            }
    return {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": _encode(value),
    }


def _shorthand_in(desc: descriptor.Descriptor, value: Any) -> Any:
    if desc.full_name == PAYLOAD:
        return _payload_from_shorthand(value)
    if desc.full_name == PAYLOADS and isinstance(value, list):
        return {"payloads": [_payload_from_shorthand(v) for v in value]}
    return _walk(desc, value, _shorthand_in)


def _plain_in(desc: descriptor.Descriptor, value: Any) -> Any:
    return _walk(desc, value, _plain_in)


def json_to_message(obj: Any, message: Message, *, shorthand: bool = True) -> None:
    """Merge the JSON value `obj` into `message`; JSONMappingError when it does not fit
    (unknown fields included, as Temporal's unmarshaler)."""
    desc = descriptor_of(message)
    if not isinstance(obj, dict):
        raise JSONMappingError(f"expected a JSON object for {desc.full_name}")
    try:
        obj = _shorthand_in(desc, obj) if shorthand else _plain_in(desc, obj)
        json_format.ParseDict(obj, message)
    except (json_format.ParseError, TypeError, ValueError, AttributeError) as e:
        raise JSONMappingError(_message(str(e))) from None
    except RecursionError:
        raise JSONMappingError("JSON nested too deeply") from None


_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]*)"')


def _message(text: str) -> str:
    # Temporal's unmarshaler names just the field; json_format lists every other one.
    unknown = _UNKNOWN_FIELD.search(text)
    return f'unknown field "{unknown.group(1)}"' if unknown else text


def loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise JSONMappingError(f"invalid JSON: {e}") from None
    except RecursionError:
        raise JSONMappingError("invalid JSON: nested too deeply") from None


def dumps(value: Any, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
