"""Server and namespace descriptions the SDKs read at connect time."""

from __future__ import annotations

from temporalio.api.enums.v1 import ArchivalState, NamespaceState
from temporalio.api.namespace.v1 import (
    NamespaceConfig,
    NamespaceInfo,
)
from temporalio.api.replication.v1 import ClusterReplicationConfig, NamespaceReplicationConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceResponse,
    GetSystemInfoResponse,
)

from pytemporal import __version__
from pytemporal.common.protoutil import dur, ts
from pytemporal.namespaces import Namespace


def system_info() -> GetSystemInfoResponse:
    caps = GetSystemInfoResponse.Capabilities(
        signal_and_query_header=True,
        internal_error_differentiation=True,
        activity_failure_include_heartbeat=True,
        supports_schedules=True,
        encoded_failure_attributes=True,
        upsert_memo=True,
        eager_workflow_start=True,
        sdk_metadata=True,
        # The deprecated build-id sets; worker deployments have no capability flag.
        build_id_based_versioning=False,
        count_group_by_execution_status=False,
        nexus=False,
    )
    return GetSystemInfoResponse(server_version=f"pytemporal-{__version__}", capabilities=caps)


# The one cluster a namespace lives in, as Temporal's single-cluster servers name it.
CLUSTER_NAME = "active"


def describe_namespace(ns: Namespace, blob_limit: int) -> DescribeNamespaceResponse:
    info = NamespaceInfo(
        name=ns.name,
        state=NamespaceState.ValueType(ns.state),
        description=ns.description,
        owner_email=ns.owner_email,
        id=ns.id,
        data=ns.data,
    )
    info.capabilities.eager_workflow_start = True
    info.capabilities.sync_update = True
    info.capabilities.async_update = True
    info.capabilities.worker_heartbeats = True
    info.limits.blob_size_limit_error = blob_limit
    info.limits.memo_size_limit_error = blob_limit
    config = NamespaceConfig(
        workflow_execution_retention_ttl=dur(ns.retention_seconds),
        history_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
        visibility_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
    )
    # Temporal always sends these, and the `temporal` CLI dereferences them when it
    # prints a namespace (it crashed on a reply without bad_binaries).
    config.bad_binaries.SetInParent()
    for checksum, bad in ns.bad_binaries.items():
        entry = config.bad_binaries.binaries[checksum]
        entry.reason = str(bad.get("reason", ""))
        entry.operator = str(bad.get("operator", ""))
        entry.create_time.CopyFrom(ts(float(bad.get("create_time", 0.0))))  # type: ignore[arg-type]
    config.custom_search_attribute_aliases.update(ns.custom_search_attribute_aliases)
    replication = NamespaceReplicationConfig(
        active_cluster_name=CLUSTER_NAME,
        clusters=[ClusterReplicationConfig(cluster_name=CLUSTER_NAME)],
    )
    return DescribeNamespaceResponse(
        namespace_info=info, config=config, replication_config=replication
    )
