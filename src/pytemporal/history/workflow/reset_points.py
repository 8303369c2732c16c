"""Auto-reset points: where `workflow reset` may go back to, one per worker build.

As Temporal (`addResetPointFromCompletion`): at each workflow task completion whose
(binary checksum, build id) pair the run has not recorded yet, a point naming that
WorkflowTaskCompleted event is added; the newest 20 are kept. A point is resettable
unless, when it was recorded, the run had children or external signal/cancel
requests pending (Temporal's CheckResettable).
"""

from __future__ import annotations

from temporalio.api.workflow.v1 import ResetPointInfo, ResetPoints

from pytemporal.common.protoutil import ts
from pytemporal.history.workflow.state import MutableState

# history.historyMaxAutoResetPoints
MAX_RESET_POINTS = 20


def points(ms: MutableState) -> ResetPoints:
    return ResetPoints.FromString(ms.auto_reset_points)


def roll_over(ms: MutableState, retention: float) -> None:
    """A new run of a chain (continue-as-new, retry, cron) keeps the previous runs'
    unexpired points; those of the run it continues expire after the retention from
    now (Temporal's rolloverAutoResetPointsWithExpiringTime)."""
    s = ms.started
    if not s.HasField("prev_auto_reset_points"):
        return
    kept = []
    for p in s.prev_auto_reset_points.points:
        if p.HasField("expire_time") and p.expire_time.ToNanoseconds() / 1e9 < ms.start_time:
            continue
        point = ResetPointInfo()
        point.CopyFrom(p)
        if point.run_id == s.continued_execution_run_id:
            point.expire_time.CopyFrom(ts(ms.start_time + retention))
        kept.append(point)
    ms.auto_reset_points = ResetPoints(points=kept).SerializeToString() if kept else b""


def record(ms: MutableState, binary_checksum: str, build_id: str, event_id: int) -> bool:
    """Add a point for this completion if its build is new to the run."""
    current = points(ms)
    for p in current.points:
        if p.binary_checksum == binary_checksum and p.build_id == build_id:
            return False
    point = ResetPointInfo(
        binary_checksum=binary_checksum,
        build_id=build_id,
        run_id=ms.run_id,
        first_workflow_task_completed_id=event_id,
        create_time=ts(ms.now),
        resettable=not ms.children and not ms.externals,
    )
    kept = [*current.points, point][-MAX_RESET_POINTS:]
    ms.auto_reset_points = ResetPoints(points=kept).SerializeToString()
    return True
