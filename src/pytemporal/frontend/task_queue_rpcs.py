"""DescribeTaskQueue and ListTaskQueuePartitions: what matching knows of a queue.

A mixin of `WorkflowService`. In a cluster the call is forwarded whole to the queue's
owner (`routing.QUEUE_ROUTES`), so the local matching always holds the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkerVersionCapabilities
from temporalio.api.enums.v1 import (
    DescribeTaskQueueMode,
    TaskQueueKind,
    TaskQueueType,
)
from temporalio.api.taskqueue.v1 import (
    PollerInfo,
    TaskIdBlock,
    TaskQueuePartitionMetadata,
    TaskQueueStats,
    TaskQueueStatus,
    TaskQueueTypeInfo,
    TaskQueueVersionInfo,
    TaskQueueVersioningInfo,
)
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument
from pytemporal.frontend.errors import handled
from pytemporal.matching.stats import Poller, QueueStats

if TYPE_CHECKING:
    from pytemporal.matching.client import TaskQueuePolls
    from pytemporal.namespaces import NamespaceRegistry

_WORKFLOW = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
_ACTIVITY = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
_KINDS = {_WORKFLOW: "workflow", _ACTIVITY: "activity"}
_ENHANCED = DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED
# Temporal's default priority key: every task here has it (no priorities yet).
DEFAULT_PRIORITY_KEY = 3
# What Temporal's unversioned queue reports as its versioning: a sentinel version and
# Go's zero time.
_UNVERSIONED = "__unversioned__"
_GO_ZERO_TIME = Timestamp(seconds=-62135596800)


def poller_of(request: Any) -> Poller:
    """Who a PollWorkflowTaskQueue/PollActivityTaskQueue request comes from."""
    rate = 0.0
    metadata = getattr(request, "task_queue_metadata", None)
    if metadata is not None and metadata.HasField("max_tasks_per_second"):
        rate = metadata.max_tasks_per_second.value
    build_id = request.worker_version_capabilities.build_id or request.deployment_options.build_id
    return Poller(request.identity, rate, build_id)


def validate_task_queue(request: Any) -> None:
    if not request.HasField("task_queue"):
        raise InvalidArgument("taskQueue is not set")
    if not request.task_queue.name:
        raise InvalidArgument("missing task queue name")


def _pollers(stats: QueueStats) -> list[PollerInfo]:
    out = []
    for p in stats.pollers:
        info = PollerInfo(identity=p.identity, rate_per_second=p.rate_per_second)
        info.last_access_time.FromNanoseconds(int(p.last_access * 1e9))
        if p.build_id:
            info.worker_version_capabilities.CopyFrom(
                WorkerVersionCapabilities(build_id=p.build_id)
            )
        out.append(info)
    return out


def _stats(stats: QueueStats) -> TaskQueueStats:
    age = Duration()
    age.FromNanoseconds(int(stats.backlog_age * 1e9))
    return TaskQueueStats(
        approximate_backlog_count=stats.backlog_count,
        approximate_backlog_age=age,
        tasks_add_rate=stats.add_rate,
        tasks_dispatch_rate=stats.dispatch_rate,
    )


class TaskQueueRpcs:
    namespaces: NamespaceRegistry
    matching: TaskQueuePolls
    # The address ListTaskQueuePartitions names as the owner: set by `server.py`.
    host_address: str = ""

    @handled
    async def DescribeTaskQueue(self, request: Any, context: Any) -> rr.DescribeTaskQueueResponse:
        ns = self.namespaces.get(request.namespace)
        validate_task_queue(request)
        name = request.task_queue.name
        if request.api_mode == _ENHANCED:
            if request.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY:
                raise InvalidArgument(
                    "Enhanced DescribeTaskQueue is not valid for a sticky queue, use "
                    "api_mode=UNSPECIFIED or a normal queue."
                )
            return await self._describe_enhanced(ns.id, name, request)
        kind = _KINDS.get(request.task_queue_type or _WORKFLOW)
        resp = rr.DescribeTaskQueueResponse(
            versioning_info=TaskQueueVersioningInfo(
                current_version=_UNVERSIONED, update_time=_GO_ZERO_TIME
            )
        )
        if kind is None:  # Nexus: no such tasks here
            return resp
        stats = await self.matching.describe(ns.id, name, kind)
        resp.pollers.extend(_pollers(stats))
        if request.report_stats:
            resp.stats.CopyFrom(_stats(stats))
            resp.stats_by_priority_key[DEFAULT_PRIORITY_KEY].CopyFrom(_stats(stats))
        if request.include_task_queue_status:
            resp.task_queue_status.CopyFrom(
                TaskQueueStatus(
                    backlog_count_hint=stats.backlog_count,
                    task_id_block=TaskIdBlock(start_id=1, end_id=100000),
                )
            )
        return resp

    async def _describe_enhanced(
        self, namespace_id: str, name: str, request: Any
    ) -> rr.DescribeTaskQueueResponse:
        types = list(request.task_queue_types) or [_WORKFLOW, _ACTIVITY]
        version = TaskQueueVersionInfo()
        for t in types:
            kind = _KINDS.get(t)
            info = TaskQueueTypeInfo()
            if kind is not None:
                stats = await self.matching.describe(namespace_id, name, kind)
                if request.report_pollers:
                    info.pollers.extend(_pollers(stats))
                if request.report_stats:
                    info.stats.CopyFrom(_stats(stats))
            version.types_info[t].CopyFrom(info)
        resp = rr.DescribeTaskQueueResponse()
        # Only the unversioned queue exists here (no build-id versioning).
        resp.versions_info[""].CopyFrom(version)
        return resp

    @handled
    async def ListTaskQueuePartitions(
        self, request: Any, context: Any
    ) -> rr.ListTaskQueuePartitionsResponse:
        self.namespaces.get(request.namespace)
        validate_task_queue(request)
        # One partition per queue: a queue lives whole on its owner.
        partition = TaskQueuePartitionMetadata(
            key=request.task_queue.name, owner_host_name=self.host_address
        )
        return rr.ListTaskQueuePartitionsResponse(
            activity_task_queue_partitions=[partition],
            workflow_task_queue_partitions=[partition],
        )
