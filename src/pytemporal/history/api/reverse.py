"""GetWorkflowExecutionHistoryReverse: a run's events newest first, a page at a time.

As Temporal, a page holds whole history batches (the events one commit wrote), from
the newest back, until it has at least the page size; the next page token names the
last event id still to read. A running run is read as of the first page: events
written later are not part of this traversal.
"""

from __future__ import annotations

import json

from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryReverseRequest,
    GetWorkflowExecutionHistoryReverseResponse,
)

from pytemporal.common.errors import InvalidArgument
from pytemporal.history.engine import HistoryEngine, Key

PAGE_SIZE = 256
_MAX_EVENT_ID = 2**63


def _token(run_id: str, last_event_id: int) -> bytes:
    return json.dumps({"run": run_id, "rev": last_event_id}).encode()


def _parse(data: bytes, run_id: str) -> int:
    try:
        tok = json.loads(data)
        if tok["run"] != run_id:
            raise ValueError
        last = int(tok["rev"])
        if not 0 < last < _MAX_EVENT_ID:
            raise ValueError
        return last
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidArgument("Invalid NextPageToken.") from e


async def get_history_reverse(
    engine: HistoryEngine, key: Key, req: GetWorkflowExecutionHistoryReverseRequest
) -> GetWorkflowExecutionHistoryReverseResponse:
    if req.next_page_token:
        last = _parse(req.next_page_token, key[2])
    else:
        async with engine.reading(key) as entry:
            last = entry.ms.next_event_id - 1
    page = req.maximum_page_size if req.maximum_page_size > 0 else PAGE_SIZE
    # Batches that hold or follow event `last - page + 1`: together at least a page.
    batches = await engine.store.read_history(*key, max(1, last - page + 1), last)
    events: list[HistoryEvent] = []
    first = last + 1
    for batch in reversed(batches):
        if len(events) >= page:
            break
        chunk = [e for e in History.FromString(batch.data).events if e.event_id <= last]
        events.extend(reversed(chunk))
        first = batch.first_event_id
    resp = GetWorkflowExecutionHistoryReverseResponse(history=History(events=events))
    if first > 1 and events:
        resp.next_page_token = _token(key[2], first - 1)
    return resp
