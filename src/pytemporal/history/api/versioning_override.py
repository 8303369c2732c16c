"""A run's versioning override, set or removed (UpdateWorkflowExecutionOptions).

`apply` is the one entry point: the RPC (or any caller that changes a run's options)
hands it the new override, or None to remove it.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import WorkflowExecutionOptionsUpdatedEventAttributes
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions

from pytemporal.common.errors import NotFound
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.history.workflow import versioning


async def apply(
    engine: HistoryEngine, key: Key, override: VersioningOverride | None, identity: str
) -> WorkflowExecutionOptions:
    """Set (or with None remove) the run's override; the run's options afterwards. A
    workflow task waiting in a queue is offered again, to the version it now goes to."""
    async with engine.locked(key) as entry:
        ms = entry.ms
        if not ms.is_open:
            raise NotFound("workflow execution already completed")
        before = versioning.override(ms)
        versioning.set_override(ms, override)
        after = versioning.override(ms)
        if before != after:
            attrs = WorkflowExecutionOptionsUpdatedEventAttributes(identity=identity)
            if after is None:
                attrs.unset_versioning_override = True
            else:
                attrs.versioning_override.CopyFrom(after)
            ev = ms.add_event(
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED, attrs, bufferable=True
            )
            # As Temporal: SDKs that do not know the event skip it when replaying.
            ev.worker_may_ignore = True
        ms.dirty = True
        await engine.commit_one(entry)
        wft = ms.wft
        if wft is not None and not wft.started_event_id and not wft.speculative:
            engine.tasks.dispatch(
                entry, "workflow", wft.scheduled_event_id, wft.attempt, ms.task_queue, False
            )
        options = WorkflowExecutionOptions()
        if after is not None:
            options.versioning_override.CopyFrom(after)
        return options
