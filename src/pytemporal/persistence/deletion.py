"""The statements that delete a run, or all of a namespace's data, for both dialects.

One plan, two placeholder styles: the stores differ only in how they run it. Deletes
are idempotent, so a store may retry them after a lost reply.
"""

from __future__ import annotations

from pytemporal.visibility.sql import DialectName

# Every table keyed by a run: (namespace_id, workflow_id, run_id).
_RUN_TABLES = ("executions", "history", "timer_tasks", "tasks")


def _marks(dialect: DialectName, n: int) -> list[str]:
    return ["?"] * n if dialect == "sqlite" else [f"${i}" for i in range(1, n + 1)]


def run_statements(dialect: DialectName) -> list[str]:
    """Statements taking (namespace_id, workflow_id, run_id): the run's row (which is
    also its visibility record), history, timer and backlog rows, and the current-run
    pointer when it names this run."""
    ns, wf, run = _marks(dialect, 3)
    where = f"namespace_id = {ns} AND workflow_id = {wf} AND run_id = {run}"
    return [f"DELETE FROM {t} WHERE {where}" for t in (*_RUN_TABLES, "current_executions")]


def namespace_statements(dialect: DialectName, count: int) -> list[str]:
    """Statements taking `count` namespace ids: every row stored under them (the
    namespace records themselves stay)."""
    where = f"namespace_id IN ({', '.join(_marks(dialect, count))})"
    return [f"DELETE FROM {t} WHERE {where}" for t in (*_RUN_TABLES, "current_executions")]
