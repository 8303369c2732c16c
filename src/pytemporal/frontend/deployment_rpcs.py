"""The worker deployment RPCs (Temporal's current worker versioning API).

Pollers that declare a deployment version register it (`_poller_version`); operators
read deployments and versions and choose the current and ramping version. The state
is `deployments.registry.Deployments`, which `server.py` sets on the service.
"""

from __future__ import annotations

import base64
import contextlib
import time
from typing import Any

from temporalio.api.enums.v1 import TaskQueueKind, VersionDrainageStatus
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus as VS
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, NotFound
from pytemporal.deployments import protos
from pytemporal.deployments.model import (
    UNVERSIONED,
    Deployment,
    parse_version,
    v31_string,
    version_string,
)
from pytemporal.deployments.registry import Deployments
from pytemporal.frontend import validation
from pytemporal.frontend.errors import handled
from pytemporal.frontend.visibility_service import VisibilityStore, parse_filter
from pytemporal.history.workflow.versioning import poller_version
from pytemporal.namespaces import Namespace, NamespaceRegistry

VERSION_NOT_FOUND = "Worker Deployment Version not found"
# Temporal names its system workflows when there is none to update.
NO_DEPLOYMENT_WORKFLOW = "workflow not found for ID: temporal-sys-worker-deployment:{}"
NO_VERSION_WORKFLOW = "workflow not found for ID: temporal-sys-worker-deployment-version:{}:{}"


def _requested_version(version: str, deployment_version: Any) -> tuple[str, str]:
    """(deployment, build id) named by a request's `deployment_version` or its
    deprecated `version` string."""
    if deployment_version.deployment_name or deployment_version.build_id:
        return deployment_version.deployment_name, deployment_version.build_id
    if not version:
        raise InvalidArgument("deployment version cannot be empty")
    return parse_version(version)


class DeploymentRpcs:
    namespaces: NamespaceRegistry
    visibility: VisibilityStore
    # Set by server.py; without it the RPCs answer as for an unknown deployment.
    deployments: Deployments | None = None

    def _deployments(self) -> Deployments:
        if self.deployments is None:
            raise NotFound("worker deployments are not enabled")
        return self.deployments

    async def _poller_version(self, ns: Namespace, request: Any, kind: str) -> tuple[str, bool]:
        """(the poller's version, whether it polls a sticky queue); a versioned poller
        of a normal queue registers its version (Temporal's RegisterTaskQueueWorker)."""
        sticky = request.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
        version = poller_version(request.deployment_options)
        if version and not sticky and self.deployments is not None:
            opts = request.deployment_options
            await self.deployments.register(
                ns.id, opts.deployment_name, opts.build_id, request.task_queue.name, kind
            )
        return version, sticky

    async def _check_drainage(self, ns: Namespace, d: Deployment) -> Deployment:
        """A draining version is drained once no open run is pinned to it (Temporal
        counts them in visibility, as here)."""
        draining = [
            b
            for b, v in d.versions.items()
            if v.drainage_status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING
        ]
        if not draining:
            return d
        drained = []
        for build in draining:
            q = parse_filter(
                ns,
                f"TemporalWorkerDeploymentVersion = '{version_string(d.name, build)}' AND "
                "TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'",
            )
            if (await self.visibility.count_executions(ns.id, q.filter())).total == 0:
                drained.append(build)
        now = time.time()

        def mark(d: Deployment) -> None:
            for build in drained:
                v = d.versions.get(build)
                if v is not None and v.drainage_status == 1:
                    v.drainage_status = VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED
                    v.status = VS.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED
                    v.drainage_changed = now
                v_checked = d.versions.get(build)
                if v_checked is not None:
                    v_checked.drainage_checked = now

        if drained:
            d, _ = await self._deployments().change(ns.id, d.name, mark)
        return d

    # -- reads -----------------------------------------------------------------------

    @handled
    async def DescribeWorkerDeployment(
        self, request: Any, context: Any
    ) -> rr.DescribeWorkerDeploymentResponse:
        ns = self.namespaces.get(request.namespace)
        validation.require(request.deployment_name, "DeploymentName")
        d = self._deployments().get(ns.id, request.deployment_name)
        d = await self._check_drainage(ns, d)
        return rr.DescribeWorkerDeploymentResponse(
            conflict_token=d.conflict_token, worker_deployment_info=protos.deployment_info(d)
        )

    @handled
    async def ListWorkerDeployments(
        self, request: Any, context: Any
    ) -> rr.ListWorkerDeploymentsResponse:
        ns = self.namespaces.get(request.namespace)
        found = self._deployments().list(ns.id) if self.deployments is not None else []
        size = request.page_size if request.page_size > 0 else 1000
        try:
            start = int(request.next_page_token or b"0")
        except ValueError as e:
            raise InvalidArgument("Invalid NextPageToken.") from e
        if start < 0:
            raise InvalidArgument("Invalid NextPageToken.")
        page = found[start : start + size]
        token = str(start + size).encode() if start + size < len(found) else b""
        return rr.ListWorkerDeploymentsResponse(
            next_page_token=token,
            worker_deployments=[protos.deployment_summary(d) for d in page],
        )

    @handled
    async def DescribeWorkerDeploymentVersion(
        self, request: Any, context: Any
    ) -> rr.DescribeWorkerDeploymentVersionResponse:
        ns = self.namespaces.get(request.namespace)
        name, build = _requested_version(request.version, request.deployment_version)
        try:
            d = self._deployments().get(ns.id, name)
        except NotFound:
            raise NotFound(VERSION_NOT_FOUND) from None
        if build not in d.versions:
            raise NotFound(VERSION_NOT_FOUND)
        d = await self._check_drainage(ns, d)
        v = d.versions[build]
        resp = rr.DescribeWorkerDeploymentVersionResponse(
            worker_deployment_version_info=protos.version_info(d, v)
        )
        for queue, qtype in v.task_queues:
            resp.version_task_queues.add(name=queue, type=qtype)  # type: ignore[arg-type]
        return resp

    # -- writes ----------------------------------------------------------------------

    @handled
    async def SetWorkerDeploymentCurrentVersion(
        self, request: Any, context: Any
    ) -> rr.SetWorkerDeploymentCurrentVersionResponse:
        ns = self.namespaces.get(request.namespace)
        if not request.deployment_name:
            raise InvalidArgument("deployment name cannot be empty")
        build = request.build_id
        if request.version and request.version != UNVERSIONED:
            name, build = parse_version(request.version)
            if name != request.deployment_name:
                raise InvalidArgument(
                    f"version {request.version} is not in deployment {request.deployment_name}"
                )
        now = time.time()
        _, result = await self._deployments().change(
            ns.id,
            request.deployment_name,
            lambda d: d.set_current(
                build,
                request.conflict_token,
                request.identity,
                request.ignore_missing_task_queues,
                now,
            ),
        )
        token, previous = result
        resp = rr.SetWorkerDeploymentCurrentVersionResponse(
            conflict_token=token,
            previous_version=v31_string(request.deployment_name, previous)
            if previous
            else UNVERSIONED,
        )
        if previous:
            resp.previous_deployment_version.deployment_name = request.deployment_name
            resp.previous_deployment_version.build_id = previous
        return resp

    @handled
    async def SetWorkerDeploymentRampingVersion(
        self, request: Any, context: Any
    ) -> rr.SetWorkerDeploymentRampingVersionResponse:
        ns = self.namespaces.get(request.namespace)
        if not request.deployment_name:
            raise InvalidArgument("deployment name cannot be empty")
        if request.percentage < 0 or request.percentage > 100:
            raise InvalidArgument("Percentage must be between 0 and 100 (inclusive)")
        build = request.build_id
        if request.version and request.version != UNVERSIONED:
            _, build = parse_version(request.version)
        now = time.time()
        _, result = await self._deployments().change(
            ns.id,
            request.deployment_name,
            lambda d: d.set_ramping(
                build,
                request.percentage,
                request.conflict_token,
                request.identity,
                request.ignore_missing_task_queues,
                now,
            ),
        )
        token, prev_build, prev_pct = result
        resp = rr.SetWorkerDeploymentRampingVersionResponse(
            conflict_token=token,
            previous_version=v31_string(request.deployment_name, prev_build)
            if prev_build
            else (UNVERSIONED if prev_pct else ""),
            previous_percentage=prev_pct,
        )
        if prev_build:
            resp.previous_deployment_version.deployment_name = request.deployment_name
            resp.previous_deployment_version.build_id = prev_build
        return resp

    @handled
    async def DeleteWorkerDeploymentVersion(
        self, request: Any, context: Any
    ) -> rr.DeleteWorkerDeploymentVersionResponse:
        ns = self.namespaces.get(request.namespace)
        name, build = _requested_version(request.version, request.deployment_version)
        registry = self._deployments()
        try:
            d = registry.get(ns.id, name)
        except NotFound:
            raise NotFound(NO_DEPLOYMENT_WORKFLOW.format(name)) from None
        await self._check_drainage(ns, d)
        pollers = registry.has_pollers(ns.id, version_string(name, build))
        await registry.change(
            ns.id, name, lambda d: d.delete_version(build, request.skip_drainage, pollers)
        )
        return rr.DeleteWorkerDeploymentVersionResponse()

    @handled
    async def DeleteWorkerDeployment(
        self, request: Any, context: Any
    ) -> rr.DeleteWorkerDeploymentResponse:
        ns = self.namespaces.get(request.namespace)
        if not request.deployment_name:
            raise InvalidArgument("deployment name cannot be empty")
        with contextlib.suppress(NotFound):  # already gone: Temporal answers OK
            await self._deployments().change(ns.id, request.deployment_name, Deployment.delete)
        return rr.DeleteWorkerDeploymentResponse()

    @handled
    async def UpdateWorkerDeploymentVersionMetadata(
        self, request: Any, context: Any
    ) -> rr.UpdateWorkerDeploymentVersionMetadataResponse:
        ns = self.namespaces.get(request.namespace)
        if not request.upsert_entries and not request.remove_entries:
            raise InvalidArgument(
                "At least one of remove_entries or upsert_entries must be provided"
            )
        name, build = _requested_version(request.version, request.deployment_version)
        upserts = {
            k: base64.b64encode(p.SerializeToString()).decode()
            for k, p in request.upsert_entries.items()
        }
        removes = list(request.remove_entries)

        missing = NO_VERSION_WORKFLOW.format(name, build)

        def update(d: Deployment) -> None:
            v = d.versions.get(build)
            if v is None:
                raise NotFound(missing)
            v.metadata.update(upserts)
            for k in removes:
                v.metadata.pop(k, None)

        registry = self._deployments()
        try:
            d, _ = await registry.change(ns.id, name, update)
        except NotFound:
            raise NotFound(missing) from None
        return rr.UpdateWorkerDeploymentVersionMetadataResponse(
            metadata=protos.metadata(d.versions[build])
        )
