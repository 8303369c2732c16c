"""Request validation at the edge, with Temporal's error messages."""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf.message import Message

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur_seconds
from pytemporal.history import tokens
from pytemporal.history.workflow import cron, durations, standalone

MAX_ID_LENGTH = 1000


def require(value: str, what: str) -> None:
    if not value:
        raise InvalidArgument(f"{what} is not set on request.")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(f"{what} exceeds length limit.")


TOKEN_NAMESPACE_MISMATCH = "Operation requested with a token from a different namespace."


def token_namespace(task_token: bytes, namespace_id: str) -> None:
    # A standalone activity's token names its hidden row namespace (standalone.py).
    if standalone.owner_namespace(tokens.decode(task_token).namespace_id) != namespace_id:
        raise InvalidArgument(TOKEN_NAMESPACE_MISMATCH)


# Temporal words it differently for update refs and activities named by id.
RUN_ID_NOT_UUID = "RunId is not valid UUID."


def run_id(value: str, message: str = "Invalid RunId.") -> None:
    """A run id, when given, is a UUID (as Temporal checks before any lookup)."""
    if not value:
        return
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(message) from None


# Temporal's MinRetentionLocal: a namespace keeps closed workflows at least an hour.
MIN_RETENTION_SECONDS = 3600


def retention(msg: Message, field: str) -> float:
    """A namespace's retention: set, valid, at least an hour; capped like any duration."""
    found = durations.check_and_cap(msg, field) if msg.HasField(field) else "unset"
    seconds = dur_seconds(getattr(msg, field))
    if found is not None or seconds < MIN_RETENTION_SECONDS:
        raise InvalidArgument("A valid retention period is not set on request.")
    return seconds


def blob(msg: Message | None, limit: int) -> None:
    if msg is not None and msg.ByteSize() > limit:
        raise InvalidArgument("Blob data size exceeds limit.")


def search_attributes(ns: Any, attrs: Any) -> None:
    unknown = ns.unknown_search_attribute(attrs.indexed_fields)
    if unknown is not None:
        raise InvalidArgument(ns.no_mapping(unknown))


def start_request(req: Any, blob_limit: int) -> None:
    require(req.workflow_id, "WorkflowId")
    require(req.workflow_type.name, "WorkflowType")
    if not req.task_queue.name:
        raise InvalidArgument("missing task queue name")
    if not req.request_id:
        # As Temporal's validateRequestId: a direct call (the HTTP API, curl) need not
        # make one up; SDKs send theirs so that retries are deduplicated.
        req.request_id = str(uuid.uuid4())
    durations.check_request(req)
    blob(req.input, blob_limit)
    blob(req.memo, blob_limit)
    if req.cron_schedule:
        try:
            cron.parse(req.cron_schedule)
        except cron.CronError as e:
            raise InvalidArgument(f"Invalid CronSchedule: {e}") from e
        if req.HasField("workflow_start_delay"):
            raise InvalidArgument("CronSchedule and WorkflowStartDelay may not be used together.")
