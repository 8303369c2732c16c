"""Each public API's scope and access level, as Temporal's ``common/api/metadata.go``.

The default authorizer (``frontend/authorization.py``) compares these with the roles
of a caller's claims. The tables list every method Temporal lists, not only those
pytemporal serves, so a method added later is classified the way Temporal does; a
method missing from them has an unknown scope and is refused to everybody.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
OPERATOR_SERVICE = "/temporal.api.operatorservice.v1.OperatorService/"
ADMIN_SERVICE = "/temporal.server.api.adminservice.v1.AdminService/"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


class Scope(enum.Enum):
    UNKNOWN = 0
    NAMESPACE = 1  # the request's `namespace` field names the namespace
    CLUSTER = 2


class Access(enum.Enum):
    UNKNOWN = 0
    READ_ONLY = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class MethodMetadata:
    scope: Scope
    access: Access


UNKNOWN = MethodMetadata(Scope.UNKNOWN, Access.UNKNOWN)


def _table(groups: dict[tuple[Scope, Access], str]) -> dict[str, MethodMetadata]:
    return {
        name: MethodMetadata(scope, access)
        for (scope, access), names in groups.items()
        for name in names.split()
    }


_WORKFLOW_SERVICE = _table(
    {
        (Scope.NAMESPACE, Access.ADMIN): "RegisterNamespace UpdateNamespace DeprecateNamespace",
        (Scope.CLUSTER, Access.READ_ONLY): """
            ListNamespaces GetSearchAttributes GetClusterInfo GetSystemInfo""",
        (Scope.NAMESPACE, Access.READ_ONLY): """
            DescribeNamespace GetWorkflowExecutionHistory GetWorkflowExecutionHistoryReverse
            CountActivityExecutions CountNexusOperationExecutions DescribeActivityExecution
            DescribeNexusOperationExecution PollActivityExecution PollNexusOperationExecution
            ListActivityExecutions ListNexusOperationExecutions ListOpenWorkflowExecutions
            ListClosedWorkflowExecutions ListWorkflowExecutions ListArchivedWorkflowExecutions
            ScanWorkflowExecutions CountWorkflowExecutions QueryWorkflow
            DescribeWorkflowExecution DescribeTaskQueue ListTaskQueuePartitions
            DescribeSchedule ListScheduleMatchingTimes ListSchedules CountSchedules
            GetWorkerBuildIdCompatibility GetWorkerVersioningRules GetWorkerTaskReachability
            PollWorkflowExecutionUpdate PollWorkflowExecutionTimeSkipping
            DescribeBatchOperation ListBatchOperations DescribeDeployment ListDeployments
            GetDeploymentReachability GetCurrentDeployment DescribeWorkerDeploymentVersion
            DescribeWorkerDeployment ValidateWorkerDeploymentVersionComputeConfig
            ListWorkerDeployments DescribeWorkflowRule ListWorkflowRules ListWorkers
            CountWorkers DescribeWorker FetchWorkerConfig""",
        (Scope.NAMESPACE, Access.WRITE): """
            StartWorkflowExecution PollWorkflowTaskQueue RespondWorkflowTaskCompleted
            RespondWorkflowTaskFailed PollActivityTaskQueue RecordActivityTaskHeartbeat
            RecordActivityTaskHeartbeatById RespondActivityTaskCompleted
            RespondActivityTaskCompletedById RespondActivityTaskFailed
            RespondActivityTaskFailedById RespondActivityTaskCanceled
            RespondActivityTaskCanceledById DeleteActivityExecution
            DeleteNexusOperationExecution RequestCancelActivityExecution
            RequestCancelNexusOperationExecution StartActivityExecution
            StartNexusOperationExecution TerminateActivityExecution
            TerminateNexusOperationExecution PollNexusTaskQueue RespondNexusTaskCompleted
            RespondNexusTaskFailed RequestCancelWorkflowExecution SignalWorkflowExecution
            SignalWithStartWorkflowExecution ResetWorkflowExecution TerminateWorkflowExecution
            DeleteWorkflowExecution RespondQueryTaskCompleted ResetStickyTaskQueue
            ShutdownWorker ExecuteMultiOperation CreateSchedule UpdateSchedule PatchSchedule
            DeleteSchedule UpdateWorkerBuildIdCompatibility UpdateWorkerVersioningRules
            UpdateWorkflowExecution StartBatchOperation StopBatchOperation
            UpdateActivityOptions PauseActivity UnpauseActivity ResetActivity
            UpdateActivityExecutionOptions PauseActivityExecution UnpauseActivityExecution
            ResetActivityExecution UpdateWorkflowExecutionOptions SetCurrentDeployment
            SetWorkerDeploymentCurrentVersion SetWorkerDeploymentRampingVersion
            SetWorkerDeploymentManager CreateWorkerDeployment DeleteWorkerDeployment
            CreateWorkerDeploymentVersion UpdateWorkerDeploymentVersionComputeConfig
            DeleteWorkerDeploymentVersion UpdateWorkerDeploymentVersionMetadata
            CreateWorkflowRule DeleteWorkflowRule TriggerWorkflowRule RecordWorkerHeartbeat
            UpdateTaskQueueConfig UpdateWorkerConfig PauseWorkflowExecution
            UnpauseWorkflowExecution""",
    }
)

_OPERATOR_SERVICE = _table(
    {
        (
            Scope.NAMESPACE,
            Access.ADMIN,
        ): "AddSearchAttributes RemoveSearchAttributes DeleteNamespace",
        (Scope.NAMESPACE, Access.READ_ONLY): "ListSearchAttributes",
        (Scope.CLUSTER, Access.ADMIN): """
            AddOrUpdateRemoteCluster RemoveRemoteCluster ListClusters CreateNexusEndpoint
            UpdateNexusEndpoint DeleteNexusEndpoint GetNexusEndpoint ListNexusEndpoints""",
    }
)


# What a worker process calls (pytemporal's opt-in meaning of the `worker` role:
# Temporal's default authorizer grants that role alone nothing).
WORKER_APIS = frozenset(
    WORKFLOW_SERVICE + name
    for name in [
        "PollWorkflowTaskQueue",
        "PollActivityTaskQueue",
        "PollNexusTaskQueue",
        "RespondWorkflowTaskCompleted",
        "RespondWorkflowTaskFailed",
        "RespondQueryTaskCompleted",
        "RespondActivityTaskCompleted",
        "RespondActivityTaskCompletedById",
        "RespondActivityTaskFailed",
        "RespondActivityTaskFailedById",
        "RespondActivityTaskCanceled",
        "RespondActivityTaskCanceledById",
        "RecordActivityTaskHeartbeat",
        "RecordActivityTaskHeartbeatById",
        "RespondNexusTaskCompleted",
        "RespondNexusTaskFailed",
        "ResetStickyTaskQueue",
        "ShutdownWorker",
        "RecordWorkerHeartbeat",
        "DescribeNamespace",
    ]
)


def method_metadata(full_method: str) -> MethodMetadata:
    """Metadata of a full gRPC method name (``/package.Service/Method``)."""
    service, _, method = full_method.rpartition("/")
    service += "/"
    if service == WORKFLOW_SERVICE:
        return _WORKFLOW_SERVICE.get(method, UNKNOWN)
    if service == OPERATOR_SERVICE:
        return _OPERATOR_SERVICE.get(method, UNKNOWN)
    if service == ADMIN_SERVICE:
        return MethodMetadata(Scope.CLUSTER, Access.ADMIN)
    return UNKNOWN


def is_health_check(full_method: str) -> bool:
    """APIs everybody may call: they reveal nothing sensitive (Temporal's list)."""
    return full_method in (HEALTH_CHECK, WORKFLOW_SERVICE + "GetSystemInfo")
