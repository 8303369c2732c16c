"""The store contract every backend implements (SQLite now, PostgreSQL later).

A workflow mutation is one `Mutation`: the run's whole mutable state (an opaque
blob owned by the history role), the new event batches, and the change to the
workflow id's current-run pointer. `Store.commit` applies a list of mutations
atomically, so a start that terminates the previous run, or a close that starts
the next one, is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pytemporal.visibility.query import Expr, OrderItem


@dataclass(frozen=True)
class NamespaceRecord:
    id: str
    name: str
    # JSON document: description, retention, owner email, custom search attributes...
    data: str


@dataclass(frozen=True)
class CurrentRun:
    run_id: str
    create_request_id: str
    status: int  # temporal.api.enums.v1.WorkflowExecutionStatus
    first_execution_run_id: str


@dataclass(frozen=True)
class ExecutionRow:
    namespace_id: str
    workflow_id: str
    run_id: str
    db_version: int
    next_event_id: int
    status: int
    state: bytes
    # The run's timer-task row (None: nothing due), read with the state.
    timer: float | None = None


@dataclass(frozen=True)
class TaskRow:
    """A workflow or activity task in a task queue's backlog (scheduled, not started)."""

    namespace_id: str
    task_queue: str
    kind: str  # "workflow" | "activity"
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    attempt: int
    normal_queue: str
    task_id: int = 0  # assigned by the store; queue order


@dataclass(frozen=True)
class TimerRow:
    namespace_id: str
    workflow_id: str
    run_id: str
    shard_id: int
    fire_time: float


@dataclass(frozen=True)
class HistoryBatch:
    first_event_id: int
    last_event_id: int
    data: bytes  # serialized temporal.api.history.v1.History


@dataclass(frozen=True)
class ShardLease:
    shard_id: int
    owner: str
    range_id: int
    lease_until: float


@dataclass(frozen=True)
class Member:
    member_id: str
    address: str
    heartbeat: float


class CurrentMode(Enum):
    CREATE = "create"  # the workflow id must have no current run
    REPLACE = "replace"  # the current run must be `expected_run_id`; point at this run
    UPDATE = "update"  # this run is current; refresh its status


@dataclass(frozen=True)
class CurrentUpdate:
    mode: CurrentMode
    create_request_id: str
    status: int
    first_execution_run_id: str
    expected_run_id: str = ""


@dataclass
class Mutation:
    namespace_id: str
    workflow_id: str
    run_id: str
    # 1 creates the row; N > 1 requires the stored version to be N - 1.
    db_version: int
    next_event_id: int
    status: int
    state: bytes
    # Open, or closed with cross-workflow work still to deliver.
    active: bool = True
    # History shard of the workflow id; with range_id > 0 the commit is fenced: it fails
    # with ShardOwnershipLost unless the shard's stored range_id is still range_id.
    shard_id: int = 0
    range_id: int = 0
    workflow_type: str = ""
    start_time: float = 0.0
    close_time: float | None = None
    task_queue: str = ""
    execution_time: float = 0.0
    # JSON object of the run's search attributes (decoded values), for visibility.
    search_attributes: str = "{}"
    # Visibility columns as Temporal's SQL visibility has them (schema version 3).
    parent_workflow_id: str | None = None
    parent_run_id: str | None = None
    root_workflow_id: str = ""
    root_run_id: str = ""
    history_size_bytes: int = 0
    batches: list[HistoryBatch] = field(default_factory=list)
    current: CurrentUpdate | None = None
    # The run's timer-task row: with set_timer, written as `timer` (None deletes it).
    set_timer: bool = False
    timer: float | None = None
    # Backlog rows for the tasks this mutation scheduled (an existing row of the same
    # run, kind and scheduled event is replaced: a retry's new attempt).
    new_tasks: list[TaskRow] = field(default_factory=list)
    # When not None: the run's backlog rows other than these (kind, scheduled event id)
    # are deleted, so the backlog holds exactly the run's pending tasks.
    keep_tasks: list[tuple[str, int]] | None = None


@dataclass(frozen=True)
class VisibilityCursor:
    """Where a visibility page ended: its last row's sort key."""

    close_time: float | None
    start_time: float
    run_id: str
    # With a query's ORDER BY, pages go by position instead: rows to skip.
    offset: int = 0


@dataclass(frozen=True)
class VisibilityRow:
    workflow_id: str
    run_id: str
    status: int
    start_time: float
    close_time: float | None
    state: bytes  # the run's mutable state, as in ExecutionRow

    @property
    def cursor(self) -> VisibilityCursor:
        return VisibilityCursor(self.close_time, self.start_time, self.run_id)


@dataclass(frozen=True)
class VisibilityCounts:
    total: int
    by_status: dict[int, int] = field(default_factory=dict)  # only when grouped


class Store(Protocol):
    async def close(self) -> None: ...

    async def create_namespace(self, ns: NamespaceRecord) -> None:
        """Raises NamespaceAlreadyExists if the name is taken."""

    async def update_namespace(self, ns: NamespaceRecord) -> None: ...

    async def get_namespace(self, *, name: str = "", id: str = "") -> NamespaceRecord | None: ...

    async def list_namespaces(self) -> list[NamespaceRecord]: ...

    async def get_current_run(self, namespace_id: str, workflow_id: str) -> CurrentRun | None: ...

    async def get_execution(
        self, namespace_id: str, workflow_id: str, run_id: str
    ) -> ExecutionRow | None: ...

    async def read_history(
        self,
        namespace_id: str,
        workflow_id: str,
        run_id: str,
        min_event_id: int = 1,
        max_event_id: int | None = None,
    ) -> list[HistoryBatch]:
        """Batches whose events include or follow `min_event_id` (and start at or before
        `max_event_id`, when given), in order."""

    async def read_timers(
        self,
        shard_ids: Sequence[int] | None,
        until: float,
        limit: int,
        *,
        after: TimerRow | None = None,
    ) -> list[TimerRow]:
        """Timer-task rows due at or before `until` (of the given shards, when given),
        in (fire time, namespace, workflow, run) order, at most `limit`, starting after
        the row `after` (a page's last row) when given."""

    async def read_tasks(
        self, namespace_id: str, task_queue: str, kind: str, after_task_id: int, limit: int
    ) -> list[TaskRow]:
        """A task queue's backlog rows after `after_task_id`, in queue order."""

    async def commit(self, mutations: Sequence[Mutation]) -> None:
        """Apply all or nothing. Raises ConditionFailed on a version or current-run race."""

    async def delete_execution(self, namespace_id: str, workflow_id: str, run_id: str) -> None:
        """Delete a run: its row (and so its visibility record), history, timer and
        backlog rows, and the current-run pointer if it names this run. Idempotent."""

    async def delete_namespace_data(self, namespace_ids: Sequence[str]) -> None:
        """Delete every run, history, timer, backlog row and current-run pointer stored
        under these namespace ids (a namespace's own, and those of its hidden schedule
        and standalone-activity rows). Idempotent."""

    async def delete_namespace(self, namespace_id: str) -> None:
        """Delete the namespace record. Idempotent."""

    async def list_executions(
        self,
        namespace_id: str,
        where: Expr | None,
        *,
        page_size: int,
        after: VisibilityCursor | None = None,
        order_by: Sequence[OrderItem] = (),
    ) -> list[VisibilityRow]:
        """Runs matching `where` (a validated list filter), at most `page_size` of them,
        open runs first, then by close time, start time (both newest first) and run id;
        `after` continues from a previous page's last row. With `order_by`, in that
        order first, and `after.offset` rows skipped."""

    async def count_executions(
        self, namespace_id: str, where: Expr | None, *, group_by_status: bool = False
    ) -> VisibilityCounts: ...

    # -- cluster: members and shard leases (several processes on one database) ------

    async def heartbeat_member(self, member_id: str, address: str, now: float) -> None: ...

    async def list_members(self) -> list[Member]: ...

    async def list_shards(self) -> list[ShardLease]: ...

    async def acquire_shard(
        self, shard_id: int, member_id: str, now: float, ttl: float
    ) -> int | None:
        """Take the shard if its lease expired (or is ours): the new range_id, or None."""

    async def renew_shards(
        self, member_id: str, ranges: dict[int, int], now: float, ttl: float
    ) -> set[int]:
        """Extend our leases whose range_id is unchanged; the shards still ours."""

    async def release_shard(self, shard_id: int, member_id: str, range_id: int) -> None: ...
