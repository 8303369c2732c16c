"""UpdateWorkflowExecutionOptions: merge the requested options into the run's under
the update mask, as Temporal does (`service/history/api/updateworkflowoptions`).

The options are stored and described; a WorkflowExecutionOptionsUpdated event records
each change. The versioning override routes the run's tasks (worker deployments,
docs/architecture/versioning.md); task priorities are not used by matching.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import Priority
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import WorkflowExecutionOptionsUpdatedEventAttributes
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    UpdateWorkflowExecutionOptionsRequest,
    UpdateWorkflowExecutionOptionsResponse,
)

from pytemporal.common.errors import FailedPrecondition, InvalidArgument, NotFound
from pytemporal.history.engine import HistoryEngine, Key
from pytemporal.history.workflow import versioning
from pytemporal.history.workflow.state import MutableState

_CLOSED = "workflow execution already completed"
_APPLYING = "error applying update_options: "
_OVERRIDE = "versioningOverride"
_TOGETHER = ("versioningOverride.deployment", "versioningOverride.behavior")
_PRIORITY_FIELDS = {
    "priority.priorityKey": "priority_key",
    "priority.fairnessKey": "fairness_key",
    "priority.fairnessWeight": "fairness_weight",
}


def _camel(path: str) -> str:
    """A mask path as Temporal's ParseFieldMask keys it: each part in lowerCamelCase."""
    parts = []
    for part in path.split("."):
        head, *rest = part.split("_")
        parts.append(head + "".join(w[:1].upper() + w[1:] for w in rest))
    return ".".join(parts)


def current_options(ms: MutableState) -> WorkflowExecutionOptions:
    return WorkflowExecutionOptions.FromString(ms.execution_options)


def merge(
    into: WorkflowExecutionOptions, src: WorkflowExecutionOptions, mask: FieldMask
) -> WorkflowExecutionOptions:
    """Temporal's mergeWorkflowExecutionOptions."""
    merged = WorkflowExecutionOptions()
    merged.CopyFrom(into)
    paths = {_camel(p) for p in mask.paths}
    together = [p for p in _TOGETHER if p in paths]
    if len(together) == 1:
        raise InvalidArgument(f"{_APPLYING}versioning_override fields must be updated together")
    if _OVERRIDE in paths or together:
        _replace(merged, src, "versioning_override")
    if any(p.startswith(_OVERRIDE + ".") and p not in _TOGETHER for p in paths):
        raise InvalidArgument(f"{_APPLYING}versioning_override doesn't support partial updates")
    if "priority" in paths:
        _replace(merged, src, "priority")
    for path, field in _PRIORITY_FIELDS.items():
        if path in paths:
            if not merged.HasField("priority"):
                merged.priority.CopyFrom(Priority())
            setattr(merged.priority, field, getattr(src.priority, field))
    if "timeSkippingConfig" in paths:
        _replace(merged, src, "time_skipping_config")
    if any(p.startswith("timeSkippingConfig.") for p in paths):
        raise InvalidArgument(f"{_APPLYING}time_skipping_config doesn't support partial update")
    return merged


_Field = Literal["versioning_override", "priority", "time_skipping_config"]


def _check_versions(
    ms: MutableState,
    requested: WorkflowExecutionOptions,
    present: Callable[[str, str, str], bool] | None,
) -> None:
    """Temporal checks that an override's version is present in the workflow's task
    queue: `present(namespace id, "deployment:build", task queue)` (worker deployments,
    `engine.version_present`)."""
    if not requested.HasField("versioning_override"):
        return
    override = requested.versioning_override
    if override.HasField("pinned"):
        pinned = override.pinned
        if not pinned.HasField("version"):
            if pinned.behavior:
                raise FailedPrecondition(
                    "must specify a specific pinned override version because workflow with"
                    f" id {ms.workflow_id} has behavior VERSIONING_BEHAVIOR_UNSPECIFIED and is"
                    " not yet pinned to any version"
                )
            return
        version = pinned.version
    elif override.HasField("one_time"):
        version = override.one_time.target_deployment_version
    else:
        return
    name = f"{version.deployment_name}:{version.build_id}"
    if present is not None and present(ms.namespace_id, name, ms.task_queue):
        return
    raise FailedPrecondition(
        f"Pinned version '{version.deployment_name}:{version.build_id}' is not present in"
        f" task queue '{ms.task_queue}' of type 'Workflow'"
    )


def _replace(into: WorkflowExecutionOptions, src: WorkflowExecutionOptions, field: _Field) -> None:
    if src.HasField(field):
        getattr(into, field).CopyFrom(getattr(src, field))
    else:
        into.ClearField(field)


async def update_options(
    engine: HistoryEngine, key: Key, req: UpdateWorkflowExecutionOptionsRequest
) -> UpdateWorkflowExecutionOptionsResponse:
    async with engine.locked(key) as entry:
        ms = entry.ms
        if not ms.is_open:
            raise NotFound(_CLOSED)
        _check_versions(ms, req.workflow_execution_options, engine.version_present)
        pinned = versioning.pinned_version(ms)
        before = current_options(ms)
        merged = merge(before, req.workflow_execution_options, req.update_mask)
        resp = UpdateWorkflowExecutionOptionsResponse(workflow_execution_options=merged)
        if merged == before:
            return resp
        attrs = WorkflowExecutionOptionsUpdatedEventAttributes(
            unset_versioning_override=not merged.HasField("versioning_override"),
            identity=req.identity,
        )
        if merged.HasField("versioning_override"):
            attrs.versioning_override.CopyFrom(merged.versioning_override)
        if merged.HasField("priority"):
            attrs.priority.CopyFrom(merged.priority)
        event = ms.add_event(
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED, attrs, bufferable=True
        )
        # As Temporal: an SDK replaying history skips it (sdk-core fails the task on it
        # otherwise).
        event.worker_may_ignore = True
        ms.execution_options = merged.SerializeToString()
        versioning.options_changed(ms)
        ms.dirty = True
        await engine.commit_one(entry)
        wft = ms.wft
        waiting = wft is not None and not wft.started_event_id and not wft.speculative
        if waiting and versioning.pinned_version(ms) != pinned:
            assert wft is not None
            # The waiting task goes to the version the run is now pinned to.
            engine.tasks.dispatch(
                entry, "workflow", wft.scheduled_event_id, wft.attempt, ms.task_queue, False
            )
        return resp
