"""The frontend's Protocol for the administrative workflow RPCs, and its in-process
implementation: reverse history, deletion, execution options.

Kept apart from `public.py` (the daily workflow calls) so each stays small; the same
rules hold: a call for another process's workflow has been forwarded to its owner by
`frontend/routing.py` before it reaches this.
"""

from __future__ import annotations

from typing import Protocol

from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryReverseRequest,
    GetWorkflowExecutionHistoryReverseResponse,
    UpdateWorkflowExecutionOptionsRequest,
    UpdateWorkflowExecutionOptionsResponse,
)

from pytemporal.history.api import delete, options, reverse
from pytemporal.history.engine import HistoryEngine, Key


class WorkflowAdmin(Protocol):
    async def get_history_reverse(
        self, key: Key, request: GetWorkflowExecutionHistoryReverseRequest
    ) -> GetWorkflowExecutionHistoryReverseResponse: ...

    async def delete(self, key: Key) -> None:
        """Terminate the run if it is open, then delete it and its history."""

    async def update_options(
        self, key: Key, request: UpdateWorkflowExecutionOptionsRequest
    ) -> UpdateWorkflowExecutionOptionsResponse: ...


class LocalWorkflowAdmin:
    def __init__(self, engine: HistoryEngine) -> None:
        self.engine = engine

    async def get_history_reverse(
        self, key: Key, request: GetWorkflowExecutionHistoryReverseRequest
    ) -> GetWorkflowExecutionHistoryReverseResponse:
        return await reverse.get_history_reverse(self.engine, key, request)

    async def delete(self, key: Key) -> None:
        await delete.delete(self.engine, key)

    async def update_options(
        self, key: Key, request: UpdateWorkflowExecutionOptionsRequest
    ) -> UpdateWorkflowExecutionOptionsResponse:
        return await options.update_options(self.engine, key, request)
