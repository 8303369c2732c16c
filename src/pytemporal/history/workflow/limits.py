"""Per-workflow limits Temporal enforces (dynamic config `limit.*`), pure data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class WorkflowLimits:
    pending_activities: int = 2000
    pending_children: int = 2000
    pending_signals: int = 2000
    pending_cancels: int = 2000
    history_count_error: int = 51_200
    history_size_error: int = 50 * MIB
    history_count_warn: int = 10_240
    history_size_warn: int = 10 * MIB
    suggest_can_events: int = 4096
    suggest_can_bytes: int = 4 * MIB
    # limit.blobSize.error / .warn: a command payload over both terminates the run.
    blob_size_error: int = 2 * MIB
    blob_size_warn: int = 512 * 1024
    # Returns a problem message for unknown search attributes (None: accept all).
    check_search_attribute: Callable[[list[str]], str | None] | None = None
