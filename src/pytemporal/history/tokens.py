"""Task tokens: opaque to SDKs, they name one attempt of one task."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pytemporal.common.errors import InvalidArgument


@dataclass(frozen=True)
class TaskToken:
    namespace_id: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int = 0
    started_event_id: int = 0
    attempt: int = 0
    activity_id: str = ""
    query_id: str = ""

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @property
    def key(self) -> tuple[str, str, str]:
        return self.namespace_id, self.workflow_id, self.run_id


def decode(data: bytes) -> TaskToken:
    if not data:
        raise InvalidArgument("Task token not set on request.")
    try:
        return TaskToken(**json.loads(data))
    except (ValueError, TypeError) as e:
        raise InvalidArgument("Error deserializing task token.") from e
