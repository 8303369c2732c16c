"""What ``temporal operator cluster describe|list`` read: WorkflowService's
``GetClusterInfo`` and OperatorService's ``ListClusters``, for the one cluster a
pytemporal database is (Temporal's single-cluster servers call it "active").

The services inherit the mixins below and read a :class:`ClusterInfo` that
``server.py`` fills in (the addresses are known only once the listeners are bound).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
from temporalio.api.operatorservice.v1 import request_response_pb2 as orr
from temporalio.api.workflowservice.v1 import request_response_pb2 as wrr

from pytemporal import __version__
from pytemporal.frontend.errors import handled
from pytemporal.frontend.system import CLUSTER_NAME

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

# The client versions Temporal's server 1.x declares it supports
# (common/headers/version_checker.go), so version-checking clients accept us alike.
SUPPORTED_CLIENTS = {
    "temporal-go": "<2.0.0",
    "temporal-java": "<2.0.0",
    "temporal-cli": "<2.0.0",
    "temporal-server": "<2.0.0",
    "temporal-typescript": "<2.0.0",
    "temporal-php": "<2.0.0",
    "temporal-ui": "<3.0.0",
    "Nexus-go-sdk": "<2.0.0",
}
# What Temporal's dev server reports for its one cluster.
INITIAL_FAILOVER_VERSION = 1
FAILOVER_VERSION_INCREMENT = 10
# Cluster ids derive from a database's own identity (see cluster_id).
_CLUSTER_ID_NAMESPACE = uuid.UUID("5a0d4f0c-3e47-4f7e-9a55-1c2f3f0b7d21")


def cluster_id(anchor: str) -> str:
    """A cluster id that stays the same for as long as the database does.

    Temporal records a random one in its cluster_metadata table; pytemporal derives it
    from the id of the database's ``default`` namespace (random, made once with the
    database), so it needs no table of its own. It changes only if that namespace is
    removed and made again.
    """
    return str(uuid.uuid5(_CLUSTER_ID_NAMESPACE, anchor))


def store_name(dialect: str) -> str:
    """The persistence/visibility store name GetClusterInfo reports."""
    return "postgres" if dialect.startswith("postgres") else dialect


@dataclass
class ClusterInfo:
    cluster_id: str = ""
    history_shard_count: int = 1
    persistence_store: str = "sqlite"
    visibility_store: str = "sqlite"
    # The public gRPC and HTTP addresses, filled in once the listeners are bound.
    address: str = ""
    http_address: str = ""
    server_version: str = f"pytemporal-{__version__}"


class ClusterInfoRpcs:
    """WorkflowService.GetClusterInfo."""

    cluster_info: ClusterInfo = ClusterInfo()

    @handled
    async def GetClusterInfo(self, request: Any, context: Ctx) -> wrr.GetClusterInfoResponse:
        info = self.cluster_info
        return wrr.GetClusterInfoResponse(
            supported_clients=SUPPORTED_CLIENTS,
            server_version=info.server_version,
            cluster_id=info.cluster_id,
            cluster_name=CLUSTER_NAME,
            history_shard_count=info.history_shard_count,
            persistence_store=info.persistence_store,
            visibility_store=info.visibility_store,
            initial_failover_version=INITIAL_FAILOVER_VERSION,
            failover_version_increment=FAILOVER_VERSION_INCREMENT,
        )


class ListClustersRpcs:
    """OperatorService.ListClusters: the one cluster (no pages: it always fits)."""

    cluster_info: ClusterInfo = ClusterInfo()

    @handled
    async def ListClusters(self, request: Any, context: Ctx) -> orr.ListClustersResponse:
        info = self.cluster_info
        cluster = orr.ClusterMetadata(
            cluster_name=CLUSTER_NAME,
            cluster_id=info.cluster_id,
            address=info.address,
            http_address=info.http_address,
            initial_failover_version=INITIAL_FAILOVER_VERSION,
            history_shard_count=info.history_shard_count,
            is_connection_enabled=True,
            is_replication_enabled=False,
        )
        return orr.ListClustersResponse(clusters=[cluster])
