"""The web UI's pure parts: payload decoding, names, the history view; and that every
template and static file is declared as package data (a wheel without them serves
error pages)."""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)

from pytemporal.web.ui import decode, history_view

ROOT = Path(__file__).parents[2]


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def test_payloads_decode_by_their_encoding() -> None:
    assert decode.payload_value(json_payload('{"a": [1, 2]}')) == {"a": [1, 2]}
    assert decode.payload_value(Payload(metadata={"encoding": b"binary/null"})) is None
    binary = Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\xff")
    assert decode.payload_value(binary) == {"encoding": "binary/plain", "base64": "AP8="}
    # A payload that is not what its encoding says is shown as bytes, not guessed at.
    broken = Payload(metadata={"encoding": b"json/plain"}, data=b"{nope")
    assert decode.payload_value(broken) == {"encoding": "json/plain", "base64": "e25vcGU="}
    encrypted = Payload(metadata={"encoding": b"binary/encrypted"}, data=b"xyz")
    assert decode.payload_value(encrypted)["encoding"] == "binary/encrypted"


def test_payloads_inside_messages_are_decoded() -> None:
    attributes = WorkflowExecutionSignaledEventAttributes(
        signal_name="approve", input=Payloads(payloads=[json_payload('"alice"')])
    )
    assert decode.message_value(attributes) == {"signalName": "approve", "input": "alice"}
    two = Payloads(payloads=[json_payload("1"), json_payload("2")])
    assert decode.message_value(WorkflowExecutionSignaledEventAttributes(input=two)) == {
        "input": [1, 2]
    }


def test_names_and_formats() -> None:
    assert decode.event_type_name(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == (
        "WorkflowExecutionStarted"
    )
    assert decode.status_name(6) == "ContinuedAsNew"
    assert decode.format_duration(0.25) == "250 ms"
    assert decode.format_duration(3725) == "1h 2m 5s"
    moment = datetime(2026, 12, 6, 17, 0, 1, 5000, tzinfo=UTC)
    assert decode.format_time(moment) == "2026-12-06 17:00:01.005 UTC"
    assert decode.format_time(Timestamp()) == ""
    assert decode.compact({"k": "v" * 300}, 20).endswith("…")


def _event(event_id: int, at: datetime, event_type: int, **attributes: object) -> HistoryEvent:
    ts = Timestamp()
    ts.FromDatetime(at)
    return HistoryEvent(event_id=event_id, event_time=ts, event_type=event_type, **attributes)  # type: ignore[arg-type]


def test_history_view_spans_relatives_and_close() -> None:
    t0 = datetime(2026, 12, 6, tzinfo=UTC)
    E = EventType
    events = [
        _event(
            1,
            t0,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                input=Payloads(payloads=[json_payload('{"id": 7}')]),
                first_execution_run_id="first",
                continued_execution_run_id="previous",
                parent_workflow_namespace="other",
                parent_workflow_execution=WorkflowExecution(workflow_id="p", run_id="pr"),
            ),
        ),
        _event(4, t0 + timedelta(seconds=1), E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        _event(
            5,
            t0 + timedelta(seconds=1),
            E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                activity_id="1", activity_type=ActivityType(name="charge")
            ),
        ),
        _event(
            7,
            t0 + timedelta(seconds=3),
            E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
                scheduled_event_id=5
            ),
        ),
        _event(
            9,
            t0 + timedelta(seconds=4),
            E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            workflow_execution_failed_event_attributes=WorkflowExecutionFailedEventAttributes(
                failure=Failure(message="boom"), new_execution_run_id="retry"
            ),
        ),
    ]
    view = history_view.build(events, now=t0 + timedelta(hours=1))
    assert view.input == {"id": 7} and view.has_input
    assert (view.first_run_id, view.previous_run_id, view.next_run_id) == (
        "first",
        "previous",
        "retry",
    )
    assert (view.parent_namespace, view.parent_workflow_id, view.parent_run_id) == (
        "other",
        "p",
        "pr",
    )
    assert view.reset_points == [4]
    assert view.close_type == "WorkflowExecutionFailed"
    assert view.close["failure"]["message"] == "boom"
    [span] = view.spans
    assert (span.label, span.outcome) == ("charge (1)", "completed")
    # A closed run's axis ends at its last event, not at `now`.
    assert (span.left, span.width) == (25.0, 50.0)


def test_an_open_activity_runs_to_now() -> None:
    t0 = datetime(2026, 12, 6, tzinfo=UTC)
    events = [
        _event(1, t0, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        _event(
            2,
            t0 + timedelta(seconds=5),
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                activity_id="a", activity_type=ActivityType(name="slow")
            ),
        ),
    ]
    view = history_view.build(events, now=t0 + timedelta(seconds=10))
    [span] = view.spans
    assert span.end is None and span.outcome == "pending"
    assert (span.left, span.width) == (50.0, 50.0)


def test_templates_and_static_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["pytemporal.web.ui"]
    ui = ROOT / "src" / "pytemporal" / "web" / "ui"
    files = [
        p.relative_to(ui).as_posix() for d in ("templates", "static") for p in (ui / d).iterdir()
    ]
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
