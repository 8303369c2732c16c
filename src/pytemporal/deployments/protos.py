"""The API messages that describe a deployment and its versions (pure)."""

from __future__ import annotations

import base64

from temporalio.api.common.v1 import Payload
from temporalio.api.deployment.v1 import (
    RoutingConfig,
    VersionDrainageInfo,
    VersionMetadata,
    WorkerDeploymentInfo,
    WorkerDeploymentVersion,
    WorkerDeploymentVersionInfo,
)
from temporalio.api.enums.v1 import RoutingConfigUpdateState
from temporalio.api.workflowservice.v1 import ListWorkerDeploymentsResponse

from pytemporal.common.protoutil import ts
from pytemporal.deployments.model import UNVERSIONED, Deployment, Version, v31_string


def deployment_version(d: Deployment, build_id: str) -> WorkerDeploymentVersion | None:
    return WorkerDeploymentVersion(deployment_name=d.name, build_id=build_id) if build_id else None


def _version(d: Deployment, build_id: str) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(deployment_name=d.name, build_id=build_id)


def routing_config(d: Deployment) -> RoutingConfig:
    rc = RoutingConfig(
        current_version=v31_string(d.name, d.current) if d.current else UNVERSIONED,
        ramping_version_percentage=d.ramp_percentage,
        revision_number=d.revision,
    )
    if d.current:
        rc.current_deployment_version.CopyFrom(_version(d, d.current))
    if d.ramping_set:
        rc.ramping_version = v31_string(d.name, d.ramping) if d.ramping else UNVERSIONED
        if d.ramping:
            rc.ramping_deployment_version.CopyFrom(_version(d, d.ramping))
    for name, t in (
        ("current_version_changed_time", d.current_changed),
        ("ramping_version_changed_time", d.ramping_changed),
        ("ramping_version_percentage_changed_time", d.ramp_percentage_changed),
    ):
        if t:
            getattr(rc, name).CopyFrom(ts(t))
    return rc


def _drainage(v: Version) -> VersionDrainageInfo | None:
    if not v.drainage_status:
        return None
    info = VersionDrainageInfo(status=v.drainage_status)  # type: ignore[arg-type]
    info.last_changed_time.CopyFrom(ts(v.drainage_changed))
    info.last_checked_time.CopyFrom(ts(v.drainage_checked))
    return info


_VERSION_TIMES = (
    ("current_since_time", "current_since"),
    ("ramping_since_time", "ramping_since"),
    ("first_activation_time", "first_activation_time"),
    ("last_current_time", "last_current_time"),
    ("last_deactivation_time", "last_deactivation_time"),
)


def version_summary(
    d: Deployment, v: Version
) -> WorkerDeploymentInfo.WorkerDeploymentVersionSummary:
    s = WorkerDeploymentInfo.WorkerDeploymentVersionSummary(
        version=v31_string(d.name, v.build_id),
        status=v.status,  # type: ignore[arg-type]
        deployment_version=deployment_version(d, v.build_id),
        create_time=ts(v.create_time),
        drainage_status=v.drainage_status,  # type: ignore[arg-type]
    )
    if (drainage := _drainage(v)) is not None:
        s.drainage_info.CopyFrom(drainage)
    if v.routing_update_time:
        s.routing_update_time.CopyFrom(ts(v.routing_update_time))
    for field, attr in _VERSION_TIMES:
        if t := getattr(v, attr):
            getattr(s, field).CopyFrom(ts(t))
    return s


def deployment_info(d: Deployment) -> WorkerDeploymentInfo:
    return WorkerDeploymentInfo(
        name=d.name,
        version_summaries=[
            version_summary(d, v) for v in sorted(d.versions.values(), key=lambda v: v.create_time)
        ],
        create_time=ts(d.create_time),
        routing_config=routing_config(d),
        last_modifier_identity=d.last_modifier_identity,
        manager_identity=d.manager_identity,
        # Routing is applied at once here: there is no propagation to wait for.
        routing_config_update_state=RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED,
    )


def deployment_summary(d: Deployment) -> ListWorkerDeploymentsResponse.WorkerDeploymentSummary:
    s = ListWorkerDeploymentsResponse.WorkerDeploymentSummary(
        name=d.name, create_time=ts(d.create_time), routing_config=routing_config(d)
    )
    if d.versions:
        latest = max(d.versions.values(), key=lambda v: v.create_time)
        s.latest_version_summary.CopyFrom(version_summary(d, latest))
    if d.current in d.versions:
        s.current_version_summary.CopyFrom(version_summary(d, d.versions[d.current]))
    if d.ramping in d.versions:
        s.ramping_version_summary.CopyFrom(version_summary(d, d.versions[d.ramping]))
    return s


def metadata(v: Version) -> VersionMetadata:
    return VersionMetadata(
        entries={k: Payload.FromString(base64.b64decode(b)) for k, b in v.metadata.items()}
    )


def version_info(d: Deployment, v: Version) -> WorkerDeploymentVersionInfo:
    info = WorkerDeploymentVersionInfo(
        version=v31_string(d.name, v.build_id),
        status=v.status,  # type: ignore[arg-type]
        deployment_version=deployment_version(d, v.build_id),
        deployment_name=d.name,
        create_time=ts(v.create_time),
        ramp_percentage=v.ramp_percentage,
        task_queue_infos=[
            WorkerDeploymentVersionInfo.VersionTaskQueueInfo(name=name, type=qtype)  # type: ignore[arg-type]
            for name, qtype in v.task_queues
        ],
        last_modifier_identity=v.last_modifier_identity,
    )
    if (drainage := _drainage(v)) is not None:
        info.drainage_info.CopyFrom(drainage)
    if v.routing_update_time:
        info.routing_changed_time.CopyFrom(ts(v.routing_update_time))
    for field, attr in _VERSION_TIMES:
        if t := getattr(v, attr):
            getattr(info, field).CopyFrom(ts(t))
    if v.metadata:
        info.metadata.CopyFrom(metadata(v))
    return info
