"""Search-attribute payloads as Temporal's history service hands them out.

Workflows and untyped clients may send search attributes without the payload's `type`
metadata; Temporal stores them as sent and stamps the namespace's registered type on
the way out (`ProcessOutgoingSearchAttributes` in `service/history/api/get_history_util.go`,
`ApplyTypeMap` for describe and list). The SDKs need it: without `type`, sdk-python
decodes a Datetime attribute as a plain string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from temporalio.api.common.v1 import SearchAttributes
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

TypeOf = Callable[[str], str | None]

_FIELD_BY_TYPE = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow_execution_started_event_attributes",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: (
        "workflow_execution_continued_as_new_event_attributes"
    ),
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: (
        "start_child_workflow_execution_initiated_event_attributes"
    ),
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: (
        "upsert_workflow_search_attributes_event_attributes"
    ),
}


def apply_types(attrs: SearchAttributes, type_of: TypeOf) -> None:
    """Set `type` on each payload that has none and whose attribute is known."""
    for name, payload in attrs.indexed_fields.items():
        if "type" in payload.metadata:
            continue
        typ = type_of(name)
        if typ:
            payload.metadata["type"] = typ.encode()


def apply_types_to_events(events: Iterable[HistoryEvent], type_of: TypeOf) -> None:
    for ev in events:
        field = _FIELD_BY_TYPE.get(ev.event_type)
        if field is not None:
            attrs = getattr(ev, field)
            if attrs.HasField("search_attributes"):
                apply_types(attrs.search_attributes, type_of)
