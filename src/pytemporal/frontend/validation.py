"""Request validation at the edge, with Temporal's error messages."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur_seconds
from pytemporal.history.workflow import cron

MAX_ID_LENGTH = 1000


def require(value: str, what: str) -> None:
    if not value:
        raise InvalidArgument(f"{what} is not set on request.")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(f"{what} exceeds length limit.")


def blob(msg: Message | None, limit: int) -> None:
    if msg is not None and msg.ByteSize() > limit:
        raise InvalidArgument("Blob data size exceeds limit.")


def non_negative(req: Message, *fields: str) -> None:
    for f in fields:
        if req.HasField(f) and dur_seconds(getattr(req, f)) < 0:
            name = "".join(p.capitalize() for p in f.split("_"))
            raise InvalidArgument(f"Invalid {name.replace('Timeout', 'Timeout')}.")


def search_attributes(ns: Any, attrs: Any) -> None:
    unknown = ns.unknown_search_attribute(attrs.indexed_fields)
    if unknown is not None:
        raise InvalidArgument(ns.no_mapping(unknown))


def start_request(req: Any, blob_limit: int) -> None:
    require(req.workflow_id, "WorkflowId")
    require(req.workflow_type.name, "WorkflowType")
    if not req.task_queue.name:
        raise InvalidArgument("missing task queue name")
    require(req.request_id, "RequestId")
    non_negative(req, "workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout")
    blob(req.input, blob_limit)
    blob(req.memo, blob_limit)
    if req.cron_schedule:
        try:
            cron.parse(req.cron_schedule)
        except cron.CronError as e:
            raise InvalidArgument(f"Invalid CronSchedule: {e}") from e
        if req.HasField("workflow_start_delay"):
            raise InvalidArgument("CronSchedule and WorkflowStartDelay may not be used together.")
