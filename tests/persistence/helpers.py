"""Builders for the rows the contract suite writes."""

from __future__ import annotations

import uuid

from pytemporal.persistence.api import CurrentMode, CurrentUpdate, HistoryBatch, Mutation

RUNNING = 1  # WORKFLOW_EXECUTION_STATUS_RUNNING
COMPLETED = 2
NS = "ns-id-1"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def batch(first: int, last: int) -> HistoryBatch:
    # Bytes a text column would mangle: a NUL and a non-UTF-8 byte.
    return HistoryBatch(first, last, f"events {first}..{last}".encode() + b"\x00\xff")


def current(
    mode: CurrentMode, *, run_id: str, status: int = RUNNING, expected: str = ""
) -> CurrentUpdate:
    return CurrentUpdate(
        mode=mode,
        create_request_id=f"req-{run_id}",
        status=status,
        first_execution_run_id=run_id,
        expected_run_id=expected,
    )


def create(
    workflow_id: str, run_id: str, *, mode: CurrentMode | None = CurrentMode.CREATE, **kw: object
) -> Mutation:
    """The mutation that starts a run: version 1, its first batch, a current pointer."""
    m = Mutation(
        namespace_id=NS,
        workflow_id=workflow_id,
        run_id=run_id,
        db_version=1,
        next_event_id=3,
        status=RUNNING,
        state=b"state v1 " + run_id.encode(),
        workflow_type="Greeter",
        start_time=1000.0,
        batches=[batch(1, 2)],
    )
    if mode is not None:
        expected = str(kw.pop("expected", ""))
        m.current = current(mode, run_id=run_id, expected=expected)
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def update(
    workflow_id: str,
    run_id: str,
    version: int,
    *,
    first_event_id: int,
    last_event_id: int,
    status: int = RUNNING,
    active: bool | None = None,
    with_current: bool = False,
) -> Mutation:
    """Version `version` of a run, appending events first..last.

    `active` defaults to whether the run is open (closed with nothing left to deliver).
    """
    return Mutation(
        namespace_id=NS,
        workflow_id=workflow_id,
        run_id=run_id,
        db_version=version,
        next_event_id=last_event_id + 1,
        status=status,
        state=f"state v{version}".encode(),
        active=status == RUNNING if active is None else active,
        close_time=2000.0 if status != RUNNING else None,
        batches=[batch(first_event_id, last_event_id)],
        current=current(CurrentMode.UPDATE, run_id=run_id, status=status) if with_current else None,
    )
