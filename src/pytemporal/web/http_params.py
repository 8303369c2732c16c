"""Path and query parameters into the request message, as grpc-gateway reads them.

A parameter names a field path (`execution.workflowId` or `execution.workflow_id`:
proto or JSON names, dotted into nested messages). Scalars are parsed from their text
(Go's forms: `true`/`1`/`t` for booleans, base-10 integers, base64 bytes, enum names
or numbers), Timestamps as RFC 3339, Durations as `1.5s` or Go's `1h2m`, wrapper types
as their scalar. A repeated field takes every value given for it; any other field
refuses more than one. Names that are no field are ignored (`pretty`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor, json_format
from google.protobuf.message import Message

from pytemporal.common.dynamic_config import parse_duration
from pytemporal.web.json_mapping import descriptor_of

FD = descriptor.FieldDescriptor

_WRAPPERS = {
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
_TEXT_MESSAGES = {"google.protobuf.Timestamp", "google.protobuf.FieldMask"}
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class ParamError(ValueError):
    """A parameter's value does not fit its field (an InvalidArgument)."""


def _go_duration(text: str) -> str:
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text.lstrip("+"))
    if not body:
        raise ValueError(f"time: invalid duration {text!r}")
    seconds = parse_duration(body).total_seconds()
    return f"{sign}{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def _scalar(field: FD, text: str) -> Any:
    kind = field.type
    if kind == FD.TYPE_BOOL:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"invalid boolean {text!r}")
    if kind in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return float(text)
    if field.cpp_type in (
        FD.CPPTYPE_INT32,
        FD.CPPTYPE_INT64,
        FD.CPPTYPE_UINT32,
        FD.CPPTYPE_UINT64,
    ):
        return int(text, 10)
    if kind == FD.TYPE_ENUM:
        return int(text, 10) if text.lstrip("-").isdigit() else text
    if kind == FD.TYPE_MESSAGE and field.message_type is not None:
        return _message_text(field.message_type, text)
    return text  # strings, and bytes as base64 (json_format decodes them)


def _message_text(message: descriptor.Descriptor, text: str) -> Any:
    name = message.full_name
    if name in _TEXT_MESSAGES:
        return text
    if name == "google.protobuf.Duration":
        return text if text.endswith("s") and _is_seconds(text) else _go_duration(text)
    if name in _WRAPPERS:
        return _scalar(message.fields_by_name["value"], text)
    raise ValueError(f"unsupported message type {name}")


def _is_seconds(text: str) -> bool:
    try:
        float(text[:-1])
    except ValueError:
        return False
    return True


def _resolve(desc: descriptor.Descriptor, path: Sequence[str]) -> list[FD] | None:
    fields: list[FD] = []
    for i, name in enumerate(path):
        field = desc.fields_by_name.get(name) or desc.fields_by_camelcase_name.get(name)
        if field is None:
            return None
        fields.append(field)
        if i < len(path) - 1:
            if field.type != FD.TYPE_MESSAGE or field.is_repeated:
                raise ParamError(f"invalid path: {'.'.join(path)!r} is not a message")
            desc = field.message_type  # type: ignore[assignment]
    return fields


def set_param(message: Message, path: Sequence[str], values: Sequence[str]) -> bool:
    """Set the field at `path` from `values`; False when no such field exists."""
    fields = _resolve(descriptor_of(message), path)
    if fields is None:
        return False
    leaf = fields[-1]
    name = ".".join(f.name for f in fields)
    if leaf.message_type is not None and leaf.message_type.GetOptions().map_entry:
        raise ParamError(f'parsing field "{name}": map fields are not supported in parameters')
    try:
        if leaf.is_repeated:
            value: Any = [_scalar(leaf, v) for v in values]
        elif len(values) > 1:
            raise ParamError(f'too many values for field "{name}": {", ".join(values)}')
        else:
            value = _scalar(leaf, values[0])
        for field in reversed(fields):
            value = {field.json_name: value}
        json_format.ParseDict(value, message)
    except (ValueError, TypeError, json_format.ParseError) as e:
        if isinstance(e, ParamError):
            raise
        raise ParamError(f'parsing field "{name}": {e}') from None
    return True


def set_path_params(message: Message, params: Mapping[tuple[str, ...], str]) -> None:
    for path, value in params.items():
        try:
            found = set_param(message, path, [value])
        except ParamError as e:
            raise ParamError(f"type mismatch, parameter: {'.'.join(path)}, error: {e}") from None
        if not found:
            raise ParamError(f"no field {'.'.join(path)!r} in {message.DESCRIPTOR.full_name}")


def set_query_params(
    message: Message,
    query: Iterable[tuple[str, str]],
    skip: set[tuple[str, ...]],
) -> None:
    """The query string's parameters, except those for the fields in `skip` (bound by
    the path) and those naming no field."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        path = tuple(key.split("."))
        fields = _resolve(descriptor_of(message), path)
        if fields is None or tuple(f.name for f in fields) in skip:
            continue
        set_param(message, path, values)
