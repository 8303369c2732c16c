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
