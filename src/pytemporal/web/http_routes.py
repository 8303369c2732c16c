"""The HTTP API's routes, read from the `google.api.http` annotations of the services.

Temporal's HTTP API is grpc-gateway over the same annotations: every binding of every
annotated method (its `additional_bindings` too) is a route. A template is a path of
literal segments and variables (`{namespace}`, `{execution.workflow_id}`: a field path
in the request), each variable one segment (`{name=**}`, the rest of the path, is
accepted for completeness; the API has none today).

When two templates match one path, the one with a literal earlier wins (a literal is
more specific than a variable), so `/workflows/{id}/history` never reads as a variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message

# Importing the service modules registers their descriptors (and, through
# google.api.annotations, the `http` option) in the default pool.
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service

_VERBS = ("get", "put", "post", "delete", "patch")


class RouteTemplateError(ValueError):
    """A `google.api.http` template this router does not understand."""


@dataclass(frozen=True)
class Variable:
    # Field path in the request message, e.g. ("execution", "workflow_id").
    field_path: tuple[str, ...]
    # True: `{name=**}`, the rest of the path.
    rest: bool = False


Segment = str | Variable


@dataclass(frozen=True)
class Route:
    service: str  # full name, temporal.api.workflowservice.v1.WorkflowService
    method: str  # RPC name
    verb: str  # upper case
    template: str
    segments: tuple[Segment, ...]
    body: str  # "" (no body), "*" (the whole request) or a field name
    request_type: type[Message]
    response_type: type[Message]

    @property
    def full_method(self) -> str:
        return f"/{self.service}/{self.method}"

    @property
    def path_fields(self) -> set[tuple[str, ...]]:
        return {s.field_path for s in self.segments if isinstance(s, Variable)}


@dataclass(frozen=True)
class Match:
    route: Route
    # Field path -> the decoded path segment(s).
    params: dict[tuple[str, ...], str]


class MethodNotAllowed(Exception):
    """The path names a route, but not with this HTTP method."""


def parse_template(template: str) -> tuple[Segment, ...]:
    if not template.startswith("/") or ":" in template.rsplit("/", 1)[-1].split("}")[-1]:
        raise RouteTemplateError(f"unsupported template {template!r}")
    segments: list[Segment] = []
    parts = template[1:].split("/")
    for i, part in enumerate(parts):
        if not (part.startswith("{") and part.endswith("}")):
            if "{" in part or "}" in part or not part:
                raise RouteTemplateError(f"unsupported segment {part!r} in {template!r}")
            segments.append(part)
            continue
        name, _, pattern = part[1:-1].partition("=")
        if pattern not in ("", "*", "**") or (pattern == "**" and i != len(parts) - 1):
            raise RouteTemplateError(f"unsupported variable {part!r} in {template!r}")
        segments.append(Variable(tuple(name.split(".")), rest=pattern == "**"))
    return tuple(segments)


def _bindings(rule: http_pb2.HttpRule) -> Iterable[tuple[str, str, str]]:
    for binding in (rule, *rule.additional_bindings):
        kind = binding.WhichOneof("pattern")
        if kind in _VERBS:
            yield kind.upper(), getattr(binding, kind), binding.body
        elif kind == "custom":
            yield binding.custom.kind.upper(), binding.custom.path, binding.body


def service_routes(service: descriptor.ServiceDescriptor) -> list[Route]:
    routes = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        rule = options.Extensions[annotations_pb2.http]
        for verb, template, body in _bindings(rule):
            routes.append(
                Route(
                    service=service.full_name,
                    method=method.name,
                    verb=verb,
                    template=template,
                    segments=parse_template(template),
                    body=body,
                    request_type=message_factory.GetMessageClass(method.input_type),
                    response_type=message_factory.GetMessageClass(method.output_type),
                )
            )
    return routes


def temporal_routes() -> list[Route]:
    """Every route of WorkflowService and OperatorService."""
    return [
        *service_routes(workflow_service.DESCRIPTOR.services_by_name["WorkflowService"]),
        *service_routes(operator_service.DESCRIPTOR.services_by_name["OperatorService"]),
    ]


def _bind(segments: Sequence[Segment], parts: Sequence[str]) -> list[Any] | None:
    """The segments' values for `parts` (raw, still percent-encoded), or None."""
    values: list[Any] = []
    for i, segment in enumerate(segments):
        if isinstance(segment, Variable) and segment.rest:
            if i >= len(parts):
                return None
            values.append("/".join(unquote(p) for p in parts[i:]))
            return values
        if i >= len(parts):
            return None
        if isinstance(segment, str):
            if segment != parts[i]:
                return None
            continue
        if not parts[i]:
            return None
        values.append(unquote(parts[i]))
    return values if len(parts) == len(segments) else None


def _specificity(route: Route) -> tuple[int, ...]:
    # Literals before variables, position by position; sorted descending.
    return tuple(1 if isinstance(s, str) else 0 for s in route.segments)


def _open_ended(route: Route) -> bool:
    return any(isinstance(s, Variable) and s.rest for s in route.segments)


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = sorted(routes, key=_specificity, reverse=True)
        # A path is only compared with the templates of its length (and any with a
        # rest-of-path variable): a tenth of the table.
        self._by_length: dict[int, list[Route]] = {}
        self._open_ended = [r for r in self._routes if _open_ended(r)]
        for route in self._routes:
            if not _open_ended(route):
                self._by_length.setdefault(len(route.segments), []).append(route)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def match(self, verb: str, path: str) -> Match | None:
        """The route for `verb` and the raw (percent-encoded) `path`; None when no
        template matches, MethodNotAllowed when one does for another verb.

        Each segment is decoded after the split, so an encoded slash (%2F) stays
        inside its segment: a workflow id `orders/42` is `orders%2F42` in a path."""
        parts = path[1:].split("/") if path.startswith("/") else path.split("/")
        other_verb = False
        candidates = [*self._by_length.get(len(parts), ()), *self._open_ended]
        for route in candidates:
            values = _bind(route.segments, parts)
            if values is None:
                continue
            if route.verb != verb.upper():
                other_verb = True
                continue
            fields = [s.field_path for s in route.segments if isinstance(s, Variable)]
            return Match(route, dict(zip(fields, values, strict=True)))
        if other_verb:
            raise MethodNotAllowed(path)
        return None
