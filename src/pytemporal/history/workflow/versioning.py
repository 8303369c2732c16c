"""A run's worker versioning (pure): its behaviour, version and override.

As in Temporal: the worker that completes a workflow task says which deployment
version it is and how the workflow behaves (PINNED: it stays on that version;
AUTO_UPGRADE: it moves to the deployment's current version at its next task). An
override (at start, or later with UpdateWorkflowExecutionOptions) takes precedence.
The run's tasks carry the version they are pinned to (`pinned_version`) so matching
routes them to that version's pollers.
"""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.deployment.v1 import WorkerDeploymentOptions, WorkerDeploymentVersion
from temporalio.api.enums.v1 import (
    ContinueAsNewVersioningBehavior,
    VersioningBehavior,
    WorkerVersioningMode,
)
from temporalio.api.history.v1 import (
    WorkflowExecutionStartedEventAttributes,
    WorkflowTaskCompletedEventAttributes,
)
from temporalio.api.workflow.v1 import (
    VersioningOverride,
    WorkflowExecutionOptions,
    WorkflowExecutionVersioningInfo,
)

from pytemporal.common.errors import InvalidArgument
from pytemporal.history.workflow.state import MutableState

PINNED = VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
AUTO_UPGRADE = VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
CAN_AUTO_UPGRADE = ContinueAsNewVersioningBehavior.CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_AUTO_UPGRADE
CAN_USE_RAMPING = (
    ContinueAsNewVersioningBehavior.CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_USE_RAMPING_VERSION
)
SEARCH_ATTRIBUTES = (
    "TemporalWorkerDeployment",
    "TemporalWorkerDeploymentVersion",
    "TemporalWorkflowVersioningBehavior",
    "TemporalUsedWorkerDeploymentVersions",
)
# The values of TemporalWorkflowVersioningBehavior (Go's enum String()).
BEHAVIOR_NAMES: dict[int, str] = {PINNED: "Pinned", AUTO_UPGRADE: "AutoUpgrade"}


def version_string(v: WorkerDeploymentVersion) -> str:
    return f"{v.deployment_name}:{v.build_id}" if v.deployment_name or v.build_id else ""


def poller_version(options: WorkerDeploymentOptions) -> str:
    """The version a poller serves ("" for an unversioned poller)."""
    if options.worker_versioning_mode != WorkerVersioningMode.WORKER_VERSIONING_MODE_VERSIONED:
        return ""
    return version_string(
        WorkerDeploymentVersion(deployment_name=options.deployment_name, build_id=options.build_id)
    )


def normalized_override(o: VersioningOverride) -> VersioningOverride:
    """The override in its current form (`pinned` / `auto_upgrade`), with the deprecated
    fields Temporal also fills in; INVALID_ARGUMENT as Temporal for a bad one."""
    out = VersioningOverride()
    out.CopyFrom(o)
    if o.HasField("pinned"):
        v = o.pinned.version
        if not v.deployment_name or not v.build_id:
            raise InvalidArgument("must provide version if override is pinned.")
        out.behavior = PINNED
        out.pinned_version = f"{v.deployment_name}.{v.build_id}"
    elif o.auto_upgrade:
        out.behavior = AUTO_UPGRADE
    elif o.behavior == PINNED:
        if not o.pinned_version:
            raise InvalidArgument("must provide pinned_version if behavior is PINNED.")
        name, build = _parse(o.pinned_version)
        out.pinned.version.CopyFrom(WorkerDeploymentVersion(deployment_name=name, build_id=build))
        out.pinned.behavior = VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED
    elif o.behavior == AUTO_UPGRADE:
        out.auto_upgrade = True
    else:
        raise InvalidArgument("override behavior is required")
    return out


def _parse(version: str) -> tuple[str, str]:
    """A version string in either form ("deployment:build", "deployment.build")."""
    cuts = [i for i in (version.find(":"), version.find(".")) if i >= 0]
    if not cuts or not version[: min(cuts)] or not version[min(cuts) + 1 :]:
        raise InvalidArgument(f"invalid version string {version}")
    return version[: min(cuts)], version[min(cuts) + 1 :]


def override(ms: MutableState) -> VersioningOverride | None:
    """The run's override: set at start (seeded by `seed_options`) or by
    UpdateWorkflowExecutionOptions, both kept in the run's execution options."""
    if not ms.execution_options:
        return None
    opts = WorkflowExecutionOptions.FromString(ms.execution_options)
    return opts.versioning_override if opts.HasField("versioning_override") else None


def seed_options(ms: MutableState) -> None:
    """A new run's execution options hold the override its Started event carries."""
    if ms.started.HasField("versioning_override"):
        opts = WorkflowExecutionOptions(versioning_override=ms.started.versioning_override)
        ms.execution_options = opts.SerializeToString()


def _info(ms: MutableState) -> WorkflowExecutionVersioningInfo:
    if ms.versioning is None:
        ms.versioning = WorkflowExecutionVersioningInfo()
    return ms.versioning


def _pinned_by(o: VersioningOverride) -> str:
    if o.HasField("pinned"):
        return version_string(o.pinned.version)
    if o.behavior == PINNED and o.pinned_version:  # the deprecated form
        name, build = _parse(o.pinned_version)
        return f"{name}:{build}"
    return ""


def behavior(ms: MutableState) -> int:
    o = override(ms)
    if o is not None:
        return PINNED if _pinned_by(o) else AUTO_UPGRADE
    return ms.versioning.behavior if ms.versioning is not None else 0


def pinned_version(ms: MutableState) -> str:
    """The version the run's tasks must go to ("": matching picks the current one)."""
    o = override(ms)
    if o is not None:
        return _pinned_by(o)
    v = ms.versioning
    if v is not None and v.deployment_version.build_id:
        return version_string(v.deployment_version) if v.behavior == PINNED else ""
    # Not yet run by a versioned worker: pinned to what its predecessor was pinned to.
    return version_string(ms.started.inherited_pinned_version)


def use_ramping(ms: MutableState) -> bool:
    """A run continued-as-new with USE_RAMPING_VERSION, before its first task is done:
    its tasks go to the deployment's ramping version whatever the ramp percentage."""
    v = ms.versioning
    return (
        v is not None
        and not v.deployment_version.build_id
        and v.continue_as_new_initial_versioning_behavior == CAN_USE_RAMPING
    )


def continue_as_new(
    ms: MutableState, attrs: WorkflowExecutionStartedEventAttributes, initial: int
) -> WorkflowExecutionVersioningInfo | None:
    """The next run of `ms` (continue-as-new, retry, cron), as Temporal: a pinned run's
    successor on the same task queue stays pinned to its version, unless the command's
    `initial_versioning_behavior` says AUTO_UPGRADE or USE_RAMPING_VERSION. Returns the
    new run's versioning info."""
    for name in SEARCH_ATTRIBUTES:
        attrs.search_attributes.indexed_fields.pop(name, None)
    attrs.ClearField("inherited_pinned_version")
    # The next run keeps the override the run has now (set at start or since).
    current = override(ms)
    if current is None:
        attrs.ClearField("versioning_override")
    else:
        attrs.versioning_override.CopyFrom(current)
    pinned = pinned_version(ms) if current is None else ""
    if initial == CAN_USE_RAMPING:
        return WorkflowExecutionVersioningInfo(continue_as_new_initial_versioning_behavior=initial)  # type: ignore[arg-type]
    if initial != CAN_AUTO_UPGRADE and pinned and attrs.task_queue.name == ms.task_queue:
        name, build = _parse(pinned)
        attrs.inherited_pinned_version.CopyFrom(
            WorkerDeploymentVersion(deployment_name=name, build_id=build)
        )
    return None


def target_changed(ms: MutableState, target: str) -> bool:
    """Whether a run pinned by its behaviour runs on another version than the one its
    deployment now sends new runs to (the SDK may then continue-as-new)."""
    v = ms.versioning
    if override(ms) is not None or v is None or v.behavior != PINNED:
        return False
    pinned = version_string(v.deployment_version)
    return bool(target) and target != pinned


def accepts(ms: MutableState, poller: str) -> bool:
    """Whether a poller of version `poller` may start one of the run's tasks: a pinned
    run's only on its version, when the poller is of the same deployment (matching
    gives it to unversioned pollers, or to another deployment's, only when its
    version does not serve the queue)."""
    pinned = pinned_version(ms)
    if not pinned or not poller or poller == pinned:
        return True
    return _parse(poller)[0] != _parse(pinned)[0]


def task_completed(
    ms: MutableState,
    options: WorkerDeploymentOptions,
    declared: int,
    attrs: WorkflowTaskCompletedEventAttributes,
) -> None:
    """The worker that completed a task tells its version and the workflow's behaviour:
    record them on the event and the run (and its search attributes)."""
    if options.build_id and not attrs.worker_version.build_id:
        attrs.worker_version.build_id = options.build_id
    version = poller_version(options)
    if not version:
        return
    dv = WorkerDeploymentVersion(deployment_name=options.deployment_name, build_id=options.build_id)
    attrs.versioning_behavior = declared  # type: ignore[assignment]
    attrs.deployment_version.CopyFrom(dv)
    attrs.worker_deployment_name = options.deployment_name
    attrs.worker_deployment_version = version
    attrs.worker_version.use_versioning = True
    info = _info(ms)
    info.behavior = declared  # type: ignore[assignment]
    info.deployment_version.CopyFrom(dv)
    info.version = f"{options.deployment_name}.{options.build_id}"
    _search_attributes(ms)


def options_changed(ms: MutableState) -> None:
    """UpdateWorkflowExecutionOptions changed the override: the search attributes follow."""
    if override(ms) is not None or ms.versioning is not None:
        _search_attributes(ms)


def describe(ms: MutableState) -> WorkflowExecutionVersioningInfo | None:
    """`versioning_info` of DescribeWorkflowExecution, but its override (read.py adds
    that from the execution options)."""
    return ms.versioning


def _search_attributes(ms: MutableState) -> None:
    fields = ms.started.search_attributes.indexed_fields
    info = ms.versioning or WorkflowExecutionVersioningInfo()
    version = pinned_version(ms) or version_string(info.deployment_version)
    if version:
        fields["TemporalWorkerDeploymentVersion"].CopyFrom(_keyword(version))
        fields["TemporalWorkerDeployment"].CopyFrom(_keyword(version.partition(":")[0]))
        used = _keyword_list(fields, "TemporalUsedWorkerDeploymentVersions")
        if version not in used:
            fields["TemporalUsedWorkerDeploymentVersions"].CopyFrom(
                _payload(json.dumps([*used, version]), "KeywordList")
            )
    name = BEHAVIOR_NAMES.get(behavior(ms))
    if name:
        fields["TemporalWorkflowVersioningBehavior"].CopyFrom(_keyword(name))


def _keyword(value: str) -> Payload:
    return _payload(json.dumps(value), "Keyword")


def _payload(data: str, typ: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "type": typ.encode()}, data=data.encode())


def _keyword_list(fields: Any, name: str) -> list[str]:
    if name not in fields:
        return []
    try:
        value = json.loads(fields[name].data)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
