"""The valid requests the fuzz mutates: one per implemented RPC (for test_fuzz).

`Handles` are real ids and task tokens in the fuzz namespace, so that a template is
a request the server accepts and a mutation changes one thing about it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.batch.v1 import BatchOperationSignal
from temporalio.api.command.v1 import (
    Command,
    RecordMarkerCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
    UpsertWorkflowSearchAttributesCommandAttributes,
)
from temporalio.api.common.v1 import (
    ActivityType,
    Header,
    Memo,
    Payload,
    Payloads,
    Priority,
    RetryPolicy,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import CommandType, IndexedValueType, QueryResultType
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.filter.v1 import StartTimeFilter, WorkflowExecutionFilter
from temporalio.api.namespace.v1 import message_pb2 as nsmsg
from temporalio.api.operatorservice.v1 import request_response_pb2 as orr
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.schedule.v1 import message_pb2 as sched
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import Input, Meta, UpdateRef, WaitPolicy
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.api.worker.v1 import WorkerHeartbeat
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

FUZZ_NS, OTHER_NS = "fuzz", "fuzz-other"
ACTIVITY_SLOTS = 7  # activity RPCs that consume a task: 3 by token, 3 by id, 1 spare

# -- the valid requests the mutations start from --------------------------------------


@dataclass
class Handles:
    """Real handles in the fuzz namespace, so mutations start from requests that work."""

    workflow_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    workflow_tokens: list[bytes] = field(default_factory=list)
    activity_tokens: list[bytes] = field(default_factory=list)
    activity_ids: list[tuple[str, str, str]] = field(default_factory=list)  # wf, run, act
    task_queue: str = "fuzz-tq"
    activity_queue: str = "fuzz-atq"


def _payloads(*values: bytes) -> Payloads:
    return Payloads(
        payloads=[Payload(metadata={"encoding": b"json/plain"}, data=v) for v in values]
    )


def timestamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def duration(seconds: int) -> Duration:
    return Duration(seconds=seconds)


def _failure() -> Failure:
    return Failure(
        message="boom",
        application_failure_info=ApplicationFailureInfo(type="Fuzz", non_retryable=True),
    )


def commands(h: Handles, activities: int = 1) -> list[Command]:
    return [
        Command(
            command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
            schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
                activity_id=f"act-{uuid.uuid4()}",
                activity_type=ActivityType(name="fuzz_activity"),
                task_queue=TaskQueue(name=h.activity_queue),
                input=_payloads(b'"in"'),
                start_to_close_timeout=duration(60),
                retry_policy=RetryPolicy(initial_interval=duration(1), maximum_attempts=3),
            ),
        )
        for _ in range(activities)
    ] + [
        Command(
            command_type=CommandType.COMMAND_TYPE_START_TIMER,
            start_timer_command_attributes=StartTimerCommandAttributes(
                timer_id=f"t-{uuid.uuid4()}", start_to_fire_timeout=duration(3600)
            ),
        ),
        Command(
            command_type=CommandType.COMMAND_TYPE_RECORD_MARKER,
            record_marker_command_attributes=RecordMarkerCommandAttributes(
                marker_name="fuzz", details={"d": _payloads(b"1")}
            ),
        ),
        Command(
            command_type=CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
            upsert_workflow_search_attributes_command_attributes=(
                UpsertWorkflowSearchAttributesCommandAttributes(
                    search_attributes=SearchAttributes(
                        indexed_fields={"FuzzKeyword": Payload(
                            metadata={"encoding": b"json/plain"}, data=b'"k"'
                        )}
                    )
                )
            ),
        ),
    ]  # fmt: skip


def start_request(h: Handles, ns: str = FUZZ_NS) -> rr.StartWorkflowExecutionRequest:
    return rr.StartWorkflowExecutionRequest(
        namespace=ns,
        workflow_id=f"fuzz-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="FuzzWorkflow"),
        task_queue=TaskQueue(name=h.task_queue),
        input=_payloads(b'"x"'),
        workflow_execution_timeout=duration(7200),
        workflow_run_timeout=duration(3600),
        workflow_task_timeout=duration(10),
        identity="fuzzer",
        request_id=str(uuid.uuid4()),
        retry_policy=RetryPolicy(initial_interval=duration(1), backoff_coefficient=2.0),
        memo=Memo(fields={"m": Payload(metadata={"encoding": b"json/plain"}, data=b"1")}),
        header=Header(fields={"h": Payload(metadata={"encoding": b"json/plain"}, data=b"1")}),
        search_attributes=SearchAttributes(
            indexed_fields={"FuzzKeyword": Payload(
                metadata={"encoding": b"json/plain"}, data=b'"v"'
            )}
        ),
    )  # fmt: skip


def _schedule(h: Handles, i: int) -> sched.Schedule:
    start = start_request(h)
    return sched.Schedule(
        spec=sched.ScheduleSpec(
            interval=[sched.IntervalSpec(interval=duration(3600), phase=duration(60))],
            cron_string=["0 9 * * MON-FRI"],
            calendar=[sched.CalendarSpec(hour="9", day_of_week="1-5")],
            structured_calendar=[
                sched.StructuredCalendarSpec(hour=[sched.Range(start=9, end=17, step=2)])
            ],
            timezone_name="Europe/Berlin",
            jitter=duration(5),
        ),
        action=sched.ScheduleAction(
            start_workflow=NewWorkflowExecutionInfo(
                workflow_id=f"fuzz-sched-wf-{i}",
                workflow_type=start.workflow_type,
                task_queue=start.task_queue,
                input=start.input,
                workflow_run_timeout=duration(3600),
            )
        ),
        policies=sched.SchedulePolicies(overlap_policy=1, catchup_window=duration(3600)),
        state=sched.ScheduleState(notes="n", paused=i % 2 == 0),
    )


def _schedule_id(i: int) -> str:
    # A handful of ids, so that describe/update/patch/delete find some of them.
    return f"fuzz-schedule-{i % 4}"


def _update(h: Handles, i: int) -> rr.UpdateWorkflowExecutionRequest:
    return rr.UpdateWorkflowExecutionRequest(
        namespace=FUZZ_NS,
        workflow_execution=WorkflowExecution(workflow_id=h.workflow_ids[i % 2]),
        wait_policy=WaitPolicy(lifecycle_stage=2),
        request=UpdateRequest(
            meta=Meta(update_id=f"u-{i}", identity="fuzzer"),
            input=Input(name="fuzz_update", args=_payloads(b"1")),
        ),
    )


def templates(h: Handles) -> dict[str, Callable[[int], Message]]:
    """A valid request per RPC (`i` varies ids so that not all collide)."""
    wf = lambda i: h.workflow_ids[i % len(h.workflow_ids)]  # noqa: E731
    execution = lambda i: WorkflowExecution(workflow_id=wf(i))  # noqa: E731
    # Slots: which of a round's tasks an RPC consumes (see _handles).
    wtok = lambda i, slot: h.workflow_tokens[(2 * i + slot) % len(h.workflow_tokens)]  # noqa: E731
    atok = lambda i, slot: h.activity_tokens[(ACTIVITY_SLOTS * i + slot) % len(h.activity_tokens)]  # noqa: E731
    act = lambda i, slot: h.activity_ids[(ACTIVITY_SLOTS * i + slot) % len(h.activity_ids)]  # noqa: E731
    tq = TaskQueue(name=h.task_queue)
    return {
        "GetSystemInfo": lambda i: rr.GetSystemInfoRequest(),
        "GetClusterInfo": lambda i: rr.GetClusterInfoRequest(),
        "DescribeNamespace": lambda i: rr.DescribeNamespaceRequest(namespace=FUZZ_NS),
        "ListNamespaces": lambda i: rr.ListNamespacesRequest(page_size=10),
        "RegisterNamespace": lambda i: rr.RegisterNamespaceRequest(
            namespace=f"fuzz-new-{i}",
            description="d",
            owner_email="a@b.c",
            workflow_execution_retention_period=duration(86400),
        ),
        "UpdateNamespace": lambda i: rr.UpdateNamespaceRequest(
            namespace=FUZZ_NS,
            update_info=nsmsg.UpdateNamespaceInfo(description=f"d{i}", owner_email="a@b.c"),
            config=nsmsg.NamespaceConfig(workflow_execution_retention_ttl=duration(86400)),
        ),
        "CreateSchedule": lambda i: rr.CreateScheduleRequest(
            namespace=FUZZ_NS,
            schedule_id=_schedule_id(i),
            schedule=_schedule(h, i),
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
        ),
        "DescribeSchedule": lambda i: rr.DescribeScheduleRequest(
            namespace=FUZZ_NS, schedule_id=_schedule_id(i)
        ),
        "UpdateSchedule": lambda i: rr.UpdateScheduleRequest(
            namespace=FUZZ_NS,
            schedule_id=_schedule_id(i),
            schedule=_schedule(h, i),
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
        ),
        "PatchSchedule": lambda i: rr.PatchScheduleRequest(
            namespace=FUZZ_NS,
            schedule_id=_schedule_id(i),
            patch=sched.SchedulePatch(
                trigger_immediately=sched.TriggerImmediatelyRequest(overlap_policy=1),
                backfill_request=[
                    sched.BackfillRequest(
                        start_time=timestamp(1_700_000_000),
                        end_time=timestamp(1_700_036_000),
                        overlap_policy=1,
                    )
                ],
                pause="p" if i % 2 else "",
                unpause="" if i % 2 else "u",
            ),
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
        ),
        "DeleteSchedule": lambda i: rr.DeleteScheduleRequest(
            namespace=FUZZ_NS, schedule_id=_schedule_id(i + 3), identity="fuzzer"
        ),
        "ListSchedules": lambda i: rr.ListSchedulesRequest(
            namespace=FUZZ_NS, maximum_page_size=10, query="ScheduleId = 'fuzz-schedule-1'"
        ),
        "ListScheduleMatchingTimes": lambda i: rr.ListScheduleMatchingTimesRequest(
            namespace=FUZZ_NS,
            schedule_id=_schedule_id(i),
            start_time=timestamp(1_700_000_000),
            end_time=timestamp(1_700_600_000),
        ),
        "StartWorkflowExecution": lambda i: start_request(h),
        "SignalWithStartWorkflowExecution": lambda i: rr.SignalWithStartWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_id=f"fuzz-sws-{i}",
            workflow_type=WorkflowType(name="FuzzWorkflow"),
            task_queue=tq,
            input=_payloads(b"1"),
            workflow_run_timeout=duration(3600),
            request_id=str(uuid.uuid4()),
            signal_name="sig",
            signal_input=_payloads(b"1"),
            workflow_start_delay=duration(1),
        ),
        "SignalWorkflowExecution": lambda i: rr.SignalWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=execution(i),
            signal_name="sig",
            input=_payloads(b"1"),
            request_id=str(uuid.uuid4()),
        ),
        "RequestCancelWorkflowExecution": lambda i: rr.RequestCancelWorkflowExecutionRequest(
            namespace=FUZZ_NS, workflow_execution=execution(i), reason="fuzz"
        ),
        "TerminateWorkflowExecution": lambda i: rr.TerminateWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=WorkflowExecution(workflow_id=f"fuzz-sws-{i}"),
            reason="fuzz",
            details=_payloads(b"1"),
        ),
        "GetWorkflowExecutionHistory": lambda i: rr.GetWorkflowExecutionHistoryRequest(
            namespace=FUZZ_NS, execution=execution(i), maximum_page_size=5
        ),
        "DescribeWorkflowExecution": lambda i: rr.DescribeWorkflowExecutionRequest(
            namespace=FUZZ_NS, execution=execution(i)
        ),
        "QueryWorkflow": lambda i: rr.QueryWorkflowRequest(
            namespace=FUZZ_NS,
            execution=execution(i),
            query=WorkflowQuery(query_type="q", query_args=_payloads(b"1")),
        ),
        "UpdateWorkflowExecution": lambda i: _update(h, i),
        "PollWorkflowExecutionUpdate": lambda i: rr.PollWorkflowExecutionUpdateRequest(
            namespace=FUZZ_NS,
            update_ref=UpdateRef(workflow_execution=execution(i), update_id=f"u-{i}"),
            wait_policy=WaitPolicy(lifecycle_stage=2),
        ),
        "ResetWorkflowExecution": lambda i: rr.ResetWorkflowExecutionRequest(
            namespace=FUZZ_NS,
            workflow_execution=WorkflowExecution(workflow_id=wf(i), run_id=h.run_ids[0]),
            workflow_task_finish_event_id=4,
            reason="fuzz",
            request_id=str(uuid.uuid4()),
        ),
        "ExecuteMultiOperation": lambda i: rr.ExecuteMultiOperationRequest(
            namespace=FUZZ_NS,
            operations=[
                rr.ExecuteMultiOperationRequest.Operation(start_workflow=start_request(h)),
                rr.ExecuteMultiOperationRequest.Operation(update_workflow=_update(h, i)),
            ],
        ),
        "PollWorkflowTaskQueue": lambda i: rr.PollWorkflowTaskQueueRequest(
            namespace=FUZZ_NS, task_queue=tq, identity="fuzzer"
        ),
        "RespondWorkflowTaskCompleted": lambda i: rr.RespondWorkflowTaskCompletedRequest(
            namespace=FUZZ_NS, task_token=wtok(i, 0), commands=commands(h), identity="fuzzer"
        ),
        "RespondWorkflowTaskFailed": lambda i: rr.RespondWorkflowTaskFailedRequest(
            namespace=FUZZ_NS, task_token=wtok(i, 1), cause=1, failure=_failure()
        ),
        "RespondQueryTaskCompleted": lambda i: rr.RespondQueryTaskCompletedRequest(
            namespace=FUZZ_NS,
            task_token=wtok(i, 0),
            completed_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
            query_result=_payloads(b"1"),
        ),
        "ResetStickyTaskQueue": lambda i: rr.ResetStickyTaskQueueRequest(
            namespace=FUZZ_NS, execution=execution(i)
        ),
        "ShutdownWorker": lambda i: rr.ShutdownWorkerRequest(
            namespace=FUZZ_NS, sticky_task_queue=f"sticky-{i}", identity="fuzzer"
        ),
        "PollActivityTaskQueue": lambda i: rr.PollActivityTaskQueueRequest(
            namespace=FUZZ_NS, task_queue=TaskQueue(name=h.activity_queue), identity="fuzzer"
        ),
        # Activity control, on the spare slot's activity (no other template uses it).
        "PauseActivity": lambda i: rr.PauseActivityRequest(
            namespace=FUZZ_NS,
            execution=WorkflowExecution(workflow_id=act(i, 6)[0], run_id=act(i, 6)[1]),
            id=act(i, 6)[2],
            identity="fuzzer",
            reason="fuzz",
            request_id=f"pause-{i}",
        ),
        "UnpauseActivity": lambda i: rr.UnpauseActivityRequest(
            namespace=FUZZ_NS,
            execution=WorkflowExecution(workflow_id=act(i, 6)[0], run_id=act(i, 6)[1]),
            id=act(i, 6)[2],
            reset_attempts=True,
            jitter=duration(1),
        ),
        "ResetActivity": lambda i: rr.ResetActivityRequest(
            namespace=FUZZ_NS,
            execution=WorkflowExecution(workflow_id=act(i, 6)[0], run_id=act(i, 6)[1]),
            id=act(i, 6)[2],
            reset_heartbeat=True,
            keep_paused=True,
        ),
        "UpdateActivityOptions": lambda i: rr.UpdateActivityOptionsRequest(
            namespace=FUZZ_NS,
            execution=WorkflowExecution(workflow_id=act(i, 6)[0], run_id=act(i, 6)[1]),
            id=act(i, 6)[2],
            activity_options=ActivityOptions(
                start_to_close_timeout=duration(30),
                retry_policy=RetryPolicy(maximum_attempts=5),
            ),
            update_mask=FieldMask(
                paths=["start_to_close_timeout", "retry_policy.maximum_attempts"]
            ),
        ),
        "PauseActivityExecution": lambda i: rr.PauseActivityExecutionRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
            reason="fuzz",
        ),
        "UnpauseActivityExecution": lambda i: rr.UnpauseActivityExecutionRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
        ),
        "ResetActivityExecution": lambda i: rr.ResetActivityExecutionRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
            keep_paused=True,
        ),
        "UpdateActivityExecutionOptions": lambda i: rr.UpdateActivityExecutionOptionsRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
            activity_options=ActivityOptions(heartbeat_timeout=duration(10)),
            update_mask=FieldMask(paths=["heartbeat_timeout"]),
        ),
        # Batch operations (signals only: the other templates need their workflows).
        "StartBatchOperation": lambda i: rr.StartBatchOperationRequest(
            namespace=FUZZ_NS,
            job_id=f"fuzz-batch-{i}",
            reason="fuzz",
            executions=[execution(i)],
            signal_operation=BatchOperationSignal(signal="fuzz", identity="fuzzer"),
        ),
        "DescribeBatchOperation": lambda i: rr.DescribeBatchOperationRequest(
            namespace=FUZZ_NS, job_id=f"fuzz-batch-{i}"
        ),
        "StopBatchOperation": lambda i: rr.StopBatchOperationRequest(
            namespace=FUZZ_NS, job_id=f"fuzz-batch-{i}", reason="fuzz"
        ),
        "ListBatchOperations": lambda i: rr.ListBatchOperationsRequest(
            namespace=FUZZ_NS, page_size=5
        ),
        # Worker heartbeats.
        "RecordWorkerHeartbeat": lambda i: rr.RecordWorkerHeartbeatRequest(
            namespace=FUZZ_NS,
            identity="fuzzer",
            worker_heartbeat=[
                WorkerHeartbeat(
                    worker_instance_key=f"fuzz-worker-{i}",
                    worker_identity="fuzzer",
                    task_queue=h.task_queue,
                    sdk_name="fuzz",
                    status=1,
                    start_time=timestamp(1_700_000_000),
                )
            ],
        ),
        "ListWorkers": lambda i: rr.ListWorkersRequest(
            namespace=FUZZ_NS, page_size=5, query=f"TaskQueue = '{h.task_queue}'"
        ),
        "CountWorkers": lambda i: rr.CountWorkersRequest(
            namespace=FUZZ_NS, query="StartTime > '2020-01-01T00:00:00Z'"
        ),
        "DescribeWorker": lambda i: rr.DescribeWorkerRequest(
            namespace=FUZZ_NS, worker_instance_key=f"fuzz-worker-{i}"
        ),
        # Task queues.
        "DescribeTaskQueue": lambda i: rr.DescribeTaskQueueRequest(
            namespace=FUZZ_NS,
            task_queue=tq,
            task_queue_type=1 + i % 2,
            report_stats=True,
            include_task_queue_status=True,
            api_mode=i % 2,
            report_pollers=True,
        ),
        "ListTaskQueuePartitions": lambda i: rr.ListTaskQueuePartitionsRequest(
            namespace=FUZZ_NS, task_queue=tq
        ),
        "RecordActivityTaskHeartbeat": lambda i: rr.RecordActivityTaskHeartbeatRequest(
            namespace=FUZZ_NS, task_token=atok(i, 0), details=_payloads(b"1")
        ),
        "RecordActivityTaskHeartbeatById": lambda i: rr.RecordActivityTaskHeartbeatByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 0)[0],
            run_id=act(i, 0)[1],
            activity_id=act(i, 0)[2],
            details=_payloads(b"1"),
        ),
        "RespondActivityTaskCompleted": lambda i: rr.RespondActivityTaskCompletedRequest(
            namespace=FUZZ_NS, task_token=atok(i, 1), result=_payloads(b"1")
        ),
        "RespondActivityTaskCompletedById": lambda i: rr.RespondActivityTaskCompletedByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 4)[0],
            run_id=act(i, 4)[1],
            activity_id=act(i, 4)[2],
            result=_payloads(b"1"),
        ),
        "RespondActivityTaskFailed": lambda i: rr.RespondActivityTaskFailedRequest(
            namespace=FUZZ_NS, task_token=atok(i, 2), failure=_failure()
        ),
        "RespondActivityTaskFailedById": lambda i: rr.RespondActivityTaskFailedByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 5)[0],
            run_id=act(i, 5)[1],
            activity_id=act(i, 5)[2],
            failure=_failure(),
        ),
        "RespondActivityTaskCanceled": lambda i: rr.RespondActivityTaskCanceledRequest(
            namespace=FUZZ_NS, task_token=atok(i, 3), details=_payloads(b"1")
        ),
        "RespondActivityTaskCanceledById": lambda i: rr.RespondActivityTaskCanceledByIdRequest(
            namespace=FUZZ_NS,
            workflow_id=act(i, 6)[0],
            run_id=act(i, 6)[1],
            activity_id=act(i, 6)[2],
            details=_payloads(b"1"),
        ),
        "ListWorkflowExecutions": lambda i: rr.ListWorkflowExecutionsRequest(
            namespace=FUZZ_NS, page_size=5, query="WorkflowType = 'FuzzWorkflow'"
        ),
        "ScanWorkflowExecutions": lambda i: rr.ScanWorkflowExecutionsRequest(
            namespace=FUZZ_NS, page_size=5, query="ExecutionStatus = 'Running'"
        ),
        "CountWorkflowExecutions": lambda i: rr.CountWorkflowExecutionsRequest(
            namespace=FUZZ_NS, query="GROUP BY ExecutionStatus"
        ),
        "ListOpenWorkflowExecutions": lambda i: rr.ListOpenWorkflowExecutionsRequest(
            namespace=FUZZ_NS,
            maximum_page_size=5,
            start_time_filter=StartTimeFilter(),
            execution_filter=WorkflowExecutionFilter(workflow_id=wf(i)),
        ),
        "ListClosedWorkflowExecutions": lambda i: rr.ListClosedWorkflowExecutionsRequest(
            namespace=FUZZ_NS, maximum_page_size=5, start_time_filter=StartTimeFilter()
        ),
        "StartActivityExecution": lambda i: rr.StartActivityExecutionRequest(
            namespace=FUZZ_NS,
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
            activity_id=f"fuzz-activity-{i}",
            activity_type=ActivityType(name="FuzzActivity"),
            task_queue=TaskQueue(name=f"fuzz-activities-{i}"),
            start_to_close_timeout=Duration(seconds=60),
            input=Payloads(payloads=[Payload(data=b"1")]),
            retry_policy=RetryPolicy(maximum_attempts=2),
        ),
        "DescribeActivityExecution": lambda i: rr.DescribeActivityExecutionRequest(
            namespace=FUZZ_NS,
            activity_id=f"fuzz-activity-{i}",
            include_input=True,
            include_outcome=True,
        ),
        "PollActivityExecution": lambda i: rr.PollActivityExecutionRequest(
            namespace=FUZZ_NS, activity_id=f"fuzz-activity-{i}"
        ),
        "RequestCancelActivityExecution": lambda i: rr.RequestCancelActivityExecutionRequest(
            namespace=FUZZ_NS,
            activity_id=f"fuzz-activity-{i}",
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
        ),
        "TerminateActivityExecution": lambda i: rr.TerminateActivityExecutionRequest(
            namespace=FUZZ_NS,
            activity_id=f"fuzz-activity-{i}",
            identity="fuzzer",
            request_id=str(uuid.uuid4()),
            reason="fuzz",
        ),
        "ListActivityExecutions": lambda i: rr.ListActivityExecutionsRequest(
            namespace=FUZZ_NS, page_size=5, query='ActivityType = "FuzzActivity"'
        ),
        "CountActivityExecutions": lambda i: rr.CountActivityExecutionsRequest(
            namespace=FUZZ_NS, query="GROUP BY ExecutionStatus"
        ),
        "ListSearchAttributes": lambda i: orr.ListSearchAttributesRequest(namespace=FUZZ_NS),
        "ListClusters": lambda i: orr.ListClustersRequest(page_size=5),
        # Worker deployments (the fuzz namespace has none: most answer NOT_FOUND).
        "DescribeWorkerDeployment": lambda i: rr.DescribeWorkerDeploymentRequest(
            namespace=FUZZ_NS, deployment_name=f"fuzz-deployment-{i}"
        ),
        "ListWorkerDeployments": lambda i: rr.ListWorkerDeploymentsRequest(
            namespace=FUZZ_NS, page_size=5
        ),
        "DescribeWorkerDeploymentVersion": lambda i: rr.DescribeWorkerDeploymentVersionRequest(
            namespace=FUZZ_NS, deployment_version=_deployment_version(i)
        ),
        "SetWorkerDeploymentCurrentVersion": lambda i: rr.SetWorkerDeploymentCurrentVersionRequest(
            namespace=FUZZ_NS,
            deployment_name=f"fuzz-deployment-{i}",
            build_id="b1",
            identity="fuzzer",
        ),
        "SetWorkerDeploymentRampingVersion": lambda i: rr.SetWorkerDeploymentRampingVersionRequest(
            namespace=FUZZ_NS,
            deployment_name=f"fuzz-deployment-{i}",
            build_id="b1",
            percentage=25,
            identity="fuzzer",
        ),
        "DeleteWorkerDeploymentVersion": lambda i: rr.DeleteWorkerDeploymentVersionRequest(
            namespace=FUZZ_NS, deployment_version=_deployment_version(i), identity="fuzzer"
        ),
        "DeleteWorkerDeployment": lambda i: rr.DeleteWorkerDeploymentRequest(
            namespace=FUZZ_NS, deployment_name=f"fuzz-deployment-{i}", identity="fuzzer"
        ),
        "UpdateWorkerDeploymentVersionMetadata": lambda i: (
            rr.UpdateWorkerDeploymentVersionMetadataRequest(
                namespace=FUZZ_NS,
                deployment_version=_deployment_version(i),
                upsert_entries={"k": Payload(data=b"1")},
                identity="fuzzer",
            )
        ),
        "AddSearchAttributes": lambda i: orr.AddSearchAttributesRequest(
            namespace=FUZZ_NS,
            search_attributes={f"FuzzAttr{i}": IndexedValueType.INDEXED_VALUE_TYPE_INT},
        ),
        "RemoveSearchAttributes": lambda i: orr.RemoveSearchAttributesRequest(
            namespace=FUZZ_NS, search_attributes=[f"FuzzAttr{i}"]
        ),
        # By an id no namespace has: a name could be mutated into the fuzz namespaces
        # themselves, whose deletion would end the run (the id takes precedence).
        "DeleteNamespace": lambda i: orr.DeleteNamespaceRequest(
            namespace_id=f"00000000-0000-4000-8000-{i:012d}"
        ),
        "GetWorkflowExecutionHistoryReverse": lambda i: (
            rr.GetWorkflowExecutionHistoryReverseRequest(
                namespace=FUZZ_NS, execution=execution(i), maximum_page_size=5
            )
        ),
        "DeleteWorkflowExecution": lambda i: rr.DeleteWorkflowExecutionRequest(
            namespace=FUZZ_NS, workflow_execution=execution(i)
        ),
        "UpdateWorkflowExecutionOptions": lambda i: rr.UpdateWorkflowExecutionOptionsRequest(
            namespace=FUZZ_NS,
            workflow_execution=execution(i),
            workflow_execution_options=WorkflowExecutionOptions(
                priority=Priority(priority_key=1 + i % 5)
            ),
            update_mask=FieldMask(paths=["priority"]),
            identity="fuzzer",
        ),
    }


def _deployment_version(i: int) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(deployment_name=f"fuzz-deployment-{i}", build_id="b1")
