"""Pure pieces of the sdk-python conformance fixes: run ids, outgoing search-attribute
types, command payload limits, the standalone activities' visibility names."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.command.v1 import (
    Command,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import Payload, Payloads, SearchAttributes
from temporalio.api.enums.v1 import CommandType, EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import (
    HistoryEvent,
    UpsertWorkflowSearchAttributesEventAttributes,
)

from pytemporal.common.ids import uuid7
from pytemporal.frontend.activity_execution_rpcs import activity_query
from pytemporal.history import outgoing
from pytemporal.history.workflow import size_checks
from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.limits import WorkflowLimits


def test_uuid7_has_version_7_and_sorts_by_time() -> None:
    early, late = uuid7(1_700_000_000.000), uuid7(1_700_000_000.002)
    assert uuid.UUID(early).version == 7
    assert uuid.UUID(early).variant == uuid.RFC_4122
    assert early < late
    assert uuid.UUID(early).int >> 80 == 1_700_000_000_000


def _typed(name: str, payload: Payload) -> HistoryEvent:
    return HistoryEvent(
        event_type=EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        upsert_workflow_search_attributes_event_attributes=UpsertWorkflowSearchAttributesEventAttributes(
            search_attributes=SearchAttributes(indexed_fields={name: payload})
        ),
    )


def test_outgoing_types_fill_only_what_is_missing() -> None:
    types = {"When": "Datetime", "Tag": "Keyword"}.get
    untyped = Payload(metadata={"encoding": b"json/plain"}, data=b'"2001-02-03T04:05:06Z"')
    already = Payload(metadata={"encoding": b"json/plain", "type": b"Text"}, data=b'"x"')
    unknown = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    events = [_typed("When", untyped), _typed("Tag", already), _typed("Other", unknown)]
    outgoing.apply_types_to_events(events, types)
    fields = [
        next(
            iter(
                e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields.values()
            )
        )
        for e in events
    ]
    assert [f.metadata.get("type") for f in fields] == [b"Datetime", b"Text", None]


def _schedule(size: int) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            input=Payloads(payloads=[Payload(data=b"x" * size)])
        ),
    )


def test_a_payload_over_both_limits_terminates() -> None:
    limits = WorkflowLimits(blob_size_error=1000, blob_size_warn=100)
    size_checks.check(_schedule(900), limits)  # over warn only: accepted
    with pytest.raises(BadCommand) as err:
        size_checks.check(_schedule(1000), limits)
    assert err.value.terminate
    assert (
        err.value.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    )
    assert err.value.message == "ScheduleActivityTaskCommandAttributes.Input exceeds size limit."
    timer = Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(timer_id="t"),
    )
    size_checks.check(timer, WorkflowLimits(blob_size_error=0, blob_size_warn=0))


def test_activity_query_names_become_workflow_columns_outside_literals() -> None:
    assert activity_query("ActivityId = \"ActivityId\" AND ActivityType = 'x'") == (
        "WorkflowId = \"ActivityId\" AND WorkflowType = 'x'"
    )
    assert activity_query("GROUP BY ExecutionStatus") == "GROUP BY ExecutionStatus"
