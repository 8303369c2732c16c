"""UpdateNamespace, as Temporal's namespace handler applies it. A mixin of
`WorkflowService`, which provides `namespaces` and `blob_limit`."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, NamespaceInvalidState
from pytemporal.frontend import system, validation
from pytemporal.frontend.errors import handled
from pytemporal.namespaces import DELETED, DEPRECATED, REGISTERED, Namespace, NamespaceRegistry

# Temporal's validateStateUpdate: from each state, the states an update may set.
_STATE_CHANGES = {
    REGISTERED: {REGISTERED, DEPRECATED, DELETED},
    DEPRECATED: {DEPRECATED, DELETED},
    DELETED: {DELETED},
}


def require_registered(ns: Namespace) -> None:
    """As Temporal's namespace validator for StartWorkflowExecution and
    SignalWithStartWorkflowExecution: a deprecated namespace (or a deleted one, still
    known by its new name until purged) starts nothing new."""
    if ns.state != REGISTERED:
        raise NamespaceInvalidState(ns.name, ns.state, [REGISTERED])


def apply_update(ns: Namespace, request: Any, now: float) -> Namespace:
    """The namespace after `request` (an UpdateNamespaceRequest); InvalidArgument as
    Temporal. As in Temporal, an empty field leaves the setting as it is."""
    changes: dict[str, Any] = {}
    info = request.update_info
    if info.description:
        changes["description"] = info.description
    if info.owner_email:
        changes["owner_email"] = info.owner_email
    if info.data:
        changes["data"] = {**ns.data, **info.data}
    if info.state and info.state != ns.state:
        if info.state not in _STATE_CHANGES.get(ns.state, set()):
            raise InvalidArgument("Invalid namespace state update.")
        changes["state"] = info.state
    if request.HasField("config"):
        changes.update(_config_changes(ns, request.config, now))
    if request.delete_bad_binary:
        binaries = dict(changes.get("bad_binaries", ns.bad_binaries))
        if request.delete_bad_binary not in binaries:
            raise InvalidArgument(
                f"Bad binary checksum {request.delete_bad_binary} doesn't exists."
            )
        del binaries[request.delete_bad_binary]
        changes["bad_binaries"] = binaries
    active = request.replication_config.active_cluster_name
    if active and active != system.CLUSTER_NAME:
        raise InvalidArgument(f"Invalid cluster name: {active}")
    return dataclasses.replace(ns, **changes) if changes else ns


def _config_changes(ns: Namespace, config: Any, now: float) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if config.HasField("workflow_execution_retention_ttl"):
        changes["retention_seconds"] = validation.retention(
            config, "workflow_execution_retention_ttl"
        )
    if config.bad_binaries.binaries:
        binaries = dict(ns.bad_binaries)
        for checksum, bad in config.bad_binaries.binaries.items():
            binaries[checksum] = {
                "reason": bad.reason,
                "operator": bad.operator,
                "create_time": now,
            }
        changes["bad_binaries"] = binaries
    if config.custom_search_attribute_aliases:
        changes["custom_search_attribute_aliases"] = {
            **ns.custom_search_attribute_aliases,
            **config.custom_search_attribute_aliases,
        }
    # Archival is not supported: its states stay disabled, as on a Temporal server
    # whose archival is not configured.
    return changes


class NamespaceRpcs:
    namespaces: NamespaceRegistry

    @property
    def blob_limit(self) -> int:
        raise NotImplementedError  # WorkflowService's

    @handled
    async def UpdateNamespace(self, request: Any, context: Any) -> rr.UpdateNamespaceResponse:
        if not request.namespace:
            raise InvalidArgument("Namespace not set on request.")
        ns = self.namespaces.get(request.namespace)
        updated = apply_update(ns, request, time.time())
        if updated is not ns:
            await self.namespaces.update(updated)
        described = system.describe_namespace(updated, self.blob_limit)
        return rr.UpdateNamespaceResponse(
            namespace_info=described.namespace_info,
            config=described.config,
            replication_config=described.replication_config,
        )
