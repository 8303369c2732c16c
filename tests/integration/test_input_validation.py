"""Validation as Temporal does it: durations, retention, command types and attributes.

Statuses and messages are Temporal's; with PYTEMPORAL_TEST_SERVER=reference the same
tests run against its dev server (where it differs on purpose, the test says so).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    ContinueAsNewWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import RetryPolicy, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    UpdateWorkflowExecutionLifecycleStage,
    WorkflowIdConflictPolicy,
    WorkflowTaskFailedCause,
)
from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure
from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.update.v1 import Input, Meta, WaitPolicy
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    ExecuteMultiOperationRequest,
    RegisterNamespaceRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
    UpdateNamespaceRequest,
    UpdateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from . import raw
from .harness import REFERENCE, ServerProcess, unique, wait_for

C = CommandType
Cause = WorkflowTaskFailedCause
HUNDRED_YEARS = 3_153_600_000
MAX_PROTO_SECONDS = 315_576_000_000


def _start(**fields: object) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=unique("validation"),
        workflow_type=WorkflowType(name="RawWorkflow"),
        task_queue=TaskQueue(name=unique("tq")),
        request_id=str(uuid.uuid4()),
        **fields,  # type: ignore[arg-type]
    )


NEG = Duration(seconds=-1)
MIXED = Duration(seconds=1, nanos=-5)
NEGATIVE = "negative duration"
MIXED_SIGNS = "duration has seconds and nanos with different signs"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workflow_execution_timeout", NEG, f"WorkflowExecutionTimeoutSeconds {NEGATIVE}"),
        ("workflow_execution_timeout", MIXED, f"WorkflowExecutionTimeoutSeconds {MIXED_SIGNS}"),
        ("workflow_run_timeout", NEG, f"WorkflowRunTimeoutSeconds {NEGATIVE}"),
        ("workflow_run_timeout", MIXED, f"WorkflowRunTimeoutSeconds {MIXED_SIGNS}"),
        ("workflow_task_timeout", NEG, f"WorkflowTaskTimeoutSeconds {NEGATIVE}"),
        ("workflow_start_delay", NEG, f"WorkflowStartDelaySeconds {NEGATIVE}"),
        ("workflow_start_delay", MIXED, f"WorkflowStartDelaySeconds {MIXED_SIGNS}"),
    ],
)
async def test_bad_start_duration(
    client: Client, field: str, value: Duration, message: str
) -> None:
    name, cause = message.split(" ", 1)
    call = client.workflow_service.start_workflow_execution(_start(**{field: value}))
    assert await raw.refused(call) == (
        RPCStatusCode.INVALID_ARGUMENT,
        f"An invalid {name} is set on request. cause: {cause}",
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            RetryPolicy(initial_interval=NEG),
            f"invalid InitialInterval set on retry policy: {NEGATIVE}",
        ),
        (
            RetryPolicy(maximum_interval=MIXED),
            f"invalid MaximumInterval set on retry policy: {MIXED_SIGNS}",
        ),
    ],
)
async def test_bad_retry_interval_at_start(
    client: Client, policy: RetryPolicy, message: str
) -> None:
    call = client.workflow_service.start_workflow_execution(_start(retry_policy=policy))
    assert await raw.refused(call) == (RPCStatusCode.INVALID_ARGUMENT, message)


async def _describe_config(client: Client, workflow_id: str) -> tuple[int, int]:
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    config = desc.execution_config
    return config.workflow_execution_timeout.seconds, config.workflow_run_timeout.seconds


async def test_largest_valid_execution_timeout_is_capped(client: Client) -> None:
    req = _start(workflow_execution_timeout=Duration(seconds=MAX_PROTO_SECONDS, nanos=999_999_999))
    await client.workflow_service.start_workflow_execution(req)
    assert await _describe_config(client, req.workflow_id) == (HUNDRED_YEARS, HUNDRED_YEARS)


async def test_huge_run_timeout_is_capped_and_readable(client: Client) -> None:
    req = _start(workflow_run_timeout=Duration(seconds=10**15))
    await client.workflow_service.start_workflow_execution(req)
    assert await _describe_config(client, req.workflow_id) == (0, HUNDRED_YEARS)


async def test_huge_start_delay_is_accepted_and_readable(client: Client) -> None:
    req = _start(workflow_start_delay=Duration(seconds=10**15))
    await client.workflow_service.start_workflow_execution(req)
    assert await _describe_config(client, req.workflow_id) == (0, 0)


# -- retention --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retention",
    [None, Duration(seconds=-86400), Duration(seconds=86400, nanos=-1), Duration(seconds=3599)],
    ids=["unset", "negative", "mixed-signs", "under-an-hour"],
)
async def test_bad_retention_is_refused(client: Client, retention: Duration | None) -> None:
    req = RegisterNamespaceRequest(namespace=unique("retention"))
    if retention is not None:
        req.workflow_execution_retention_period.CopyFrom(retention)
    assert await raw.refused(client.workflow_service.register_namespace(req)) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "A valid retention period is not set on request.",
    )


async def test_huge_retention_is_accepted(client: Client) -> None:
    req = RegisterNamespaceRequest(
        namespace=unique("retention"),
        workflow_execution_retention_period=Duration(seconds=10**15),
    )
    await client.workflow_service.register_namespace(req)


@pytest.mark.parametrize(
    "retention",
    [Duration(seconds=-86400), Duration(seconds=86400, nanos=-1), Duration(seconds=60)],
    ids=["negative", "mixed-signs", "under-an-hour"],
)
async def test_bad_retention_update_is_refused(client: Client, retention: Duration) -> None:
    name = await raw.register_namespace(client, "retention")
    req = UpdateNamespaceRequest(
        namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=retention)
    )
    assert await raw.refused(client.workflow_service.update_namespace(req)) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "A valid retention period is not set on request.",
    )


async def test_retention_update(client: Client) -> None:
    name = await raw.register_namespace(client, "retention")
    week = Duration(seconds=7 * 86400)
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=name,
            update_info=UpdateNamespaceInfo(description="kept a week"),
            config=NamespaceConfig(workflow_execution_retention_ttl=week),
        )
    )

    async def updated() -> bool:
        desc = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=name)
        )
        return (
            desc.config.workflow_execution_retention_ttl == week
            and desc.namespace_info.description == "kept a week"
        )

    await wait_for(updated, within=30, message="namespace updated")


# -- commands ---------------------------------------------------------------------------


async def _fresh_task(client: Client) -> tuple[raw.Run, bytes]:
    run = await raw.start(client)
    return run, await raw.poll_workflow_task(client, run)


@pytest.mark.parametrize("command_type", [999, 0], ids=["999", "unspecified"])
async def test_unknown_command_type_is_refused_and_nothing_is_written(
    client: Client, command_type: int
) -> None:
    run, token = await _fresh_task(client)
    before = await raw.history(client, run)
    call = raw.complete_workflow_task(client, run, token, Command(command_type=command_type))  # type: ignore[arg-type]
    shown = "Unspecified" if command_type == 0 else str(command_type)
    assert await raw.refused(call) == (
        RPCStatusCode.INVALID_ARGUMENT,
        f"unknown command type: {shown}",
    )
    assert await raw.history(client, run) == before


def _missing(command_type: int) -> str:
    if command_type == C.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION:
        return "empty ScheduleNexusOperationCommandAttributes"
    if command_type == C.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION:
        return "empty CancelNexusOperationCommandAttributes"
    attrs = Command().DESCRIPTOR.fields_by_name
    name = C.Name(command_type)[len("COMMAND_TYPE_") :].lower()  # type: ignore[arg-type]
    field = next(f for f in attrs if f == f"{name}_command_attributes")
    type_name = attrs[field].message_type.name
    return f"{type_name} is not set on {type_name.removesuffix('Attributes')}."


def _camel(cause: int) -> str:
    name = Cause.Name(cause)[len("WORKFLOW_TASK_FAILED_CAUSE_") :]  # type: ignore[arg-type]
    return "".join(p.capitalize() for p in name.split("_"))


async def _fails_task(
    client: Client, run: raw.Run, token: bytes, command: Command, cause: int, message: str
) -> None:
    """Temporal's behaviour for a bad command: INVALID_ARGUMENT, WorkflowTaskFailed with
    the cause and message, and a new workflow task scheduled."""
    expected = f"{_camel(cause)}: {message}"
    call = raw.complete_workflow_task(client, run, token, command)
    assert await raw.refused(call) == (RPCStatusCode.INVALID_ARGUMENT, expected)
    events = await raw.history(client, run)
    failed, scheduled = events[-2], events[-1]
    assert failed.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    assert failed.workflow_task_failed_event_attributes.cause == cause
    assert failed.workflow_task_failed_event_attributes.failure.message == expected
    assert scheduled.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED


CAUSES = {
    C.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
    C.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
    C.COMMAND_TYPE_START_TIMER: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
    C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_CANCEL_TIMER: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
    C.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_RECORD_MARKER: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
    C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
    C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
    C.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
    C.COMMAND_TYPE_PROTOCOL_MESSAGE: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
    C.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES,
    C.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES,
    C.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES,
}


@pytest.mark.parametrize("command_type", sorted(CAUSES), ids=lambda t: C.Name(t))
async def test_command_without_its_attributes_fails_the_task(
    client: Client, server: ServerProcess, command_type: int
) -> None:
    if server.kind == REFERENCE and command_type == C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        pytest.skip("Temporal 1.32 answers INTERNAL here (a nil dereference); we fail the task")
    run, token = await _fresh_task(client)
    command = Command(command_type=command_type)  # type: ignore[arg-type]
    await _fails_task(client, run, token, command, CAUSES[command_type], _missing(command_type))


def _timer(duration: Duration | None) -> Command:
    attrs = StartTimerCommandAttributes(timer_id="t")
    if duration is not None:
        attrs.start_to_fire_timeout.CopyFrom(duration)
    return Command(command_type=C.COMMAND_TYPE_START_TIMER, start_timer_command_attributes=attrs)


@pytest.mark.parametrize("duration", [Duration(), None], ids=["zero", "unset"])
async def test_zero_timer_is_accepted(client: Client, duration: Duration | None) -> None:
    run, token = await _fresh_task(client)
    await raw.complete_workflow_task(client, run, token, _timer(duration))
    types = [e.event_type for e in await raw.history(client, run)]
    assert EventType.EVENT_TYPE_TIMER_STARTED in types


async def test_huge_timer_is_capped(client: Client) -> None:
    run, token = await _fresh_task(client)
    await raw.complete_workflow_task(client, run, token, _timer(Duration(seconds=10**15)))
    started = [
        e for e in await raw.history(client, run) if e.HasField("timer_started_event_attributes")
    ]
    assert started[0].timer_started_event_attributes.start_to_fire_timeout.seconds == HUNDRED_YEARS


@pytest.mark.parametrize(
    ("duration", "problem"), [(NEG, NEGATIVE), (MIXED, MIXED_SIGNS)], ids=["negative", "mixed"]
)
async def test_bad_timer_duration_fails_the_task(
    client: Client, duration: Duration, problem: str
) -> None:
    run, token = await _fresh_task(client)
    message = f"An invalid StartToFireTimeout is set on StartTimerCommand: {problem}. TimerId=t"
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES
    await _fails_task(client, run, token, _timer(duration), cause, message)


@pytest.mark.parametrize(
    "field",
    [
        "schedule_to_close_timeout",
        "schedule_to_start_timeout",
        "start_to_close_timeout",
        "heartbeat_timeout",
    ],
)
async def test_bad_activity_timeout_fails_the_task(client: Client, field: str) -> None:
    run, token = await _fresh_task(client)
    name = "".join(p.capitalize() for p in field.split("_"))
    command = raw.schedule_activity(run.task_queue, **{field: NEG})
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    await _fails_task(client, run, token, command, cause, f"invalid {name}: {NEGATIVE}")


async def test_bad_activity_retry_interval_fails_the_task(client: Client) -> None:
    run, token = await _fresh_task(client)
    command = raw.schedule_activity(run.task_queue)
    command.schedule_activity_task_command_attributes.retry_policy.CopyFrom(
        RetryPolicy(initial_interval=NEG)
    )
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    message = f"invalid InitialInterval set on retry policy: {NEGATIVE}"
    await _fails_task(client, run, token, command, cause, message)


async def test_huge_activity_timeout_is_capped_and_readable(client: Client) -> None:
    run, token = await _fresh_task(client)
    command = raw.schedule_activity(
        run.task_queue, schedule_to_close_timeout=Duration(seconds=10**15)
    )
    await raw.complete_workflow_task(client, run, token, command)
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in await raw.history(client, run)
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled[0].schedule_to_close_timeout.seconds == HUNDRED_YEARS
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=run.execution)
    )
    assert len(desc.pending_activities) == 1


@pytest.mark.parametrize(
    "field", ["workflow_run_timeout", "workflow_task_timeout", "backoff_start_interval"]
)
async def test_bad_continue_as_new_duration_fails_the_task(client: Client, field: str) -> None:
    run, token = await _fresh_task(client)
    attrs = ContinueAsNewWorkflowExecutionCommandAttributes(
        workflow_type=WorkflowType(name="RawWorkflow"), task_queue=TaskQueue(name=run.task_queue)
    )
    getattr(attrs, field).CopyFrom(NEG)
    command = Command(
        command_type=C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
        continue_as_new_workflow_execution_command_attributes=attrs,
    )
    name = "".join(p.capitalize() for p in field.split("_"))
    message = (
        f"Invalid {name} on ContinueAsNewWorkflowExecutionCommand: {NEGATIVE}. "
        f'WorkflowType=RawWorkflow TaskQueue=name:"{run.task_queue}"  kind:TASK_QUEUE_KIND_NORMAL'
    )
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES
    await _fails_task(client, run, token, command, cause, message)


@pytest.mark.parametrize(
    "field", ["workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout"]
)
async def test_bad_child_duration_fails_the_task(client: Client, field: str) -> None:
    run, token = await _fresh_task(client)
    attrs = StartChildWorkflowExecutionCommandAttributes(
        workflow_id="child",
        workflow_type=WorkflowType(name="RawWorkflow"),
        task_queue=TaskQueue(name=run.task_queue),
    )
    getattr(attrs, field).CopyFrom(MIXED)
    command = Command(
        command_type=C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
        start_child_workflow_execution_command_attributes=attrs,
    )
    name = "".join(p.capitalize() for p in field.split("_"))
    message = (
        f"Invalid {name} on StartChildWorkflowExecutionCommand: {MIXED_SIGNS}. "
        "WorkflowId=child WorkflowType=RawWorkflow Namespace=default"
    )
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES
    await _fails_task(client, run, token, command, cause, message)


# -- what is stored stays readable ----------------------------------------------------


async def test_huge_durations_stay_readable_across_a_crash(
    server_kind: str, tmp_path: Path
) -> None:
    server = ServerProcess(server_kind, db_filename=str(tmp_path / "huge.db"))
    client = await server.start()
    try:
        huge = Duration(seconds=10**15)
        run = await raw.start(client, workflow_run_timeout=huge, workflow_execution_timeout=huge)
        token = await raw.poll_workflow_task(client, run)
        await raw.complete_workflow_task(
            client,
            run,
            token,
            raw.schedule_activity(
                run.task_queue, start_to_close_timeout=huge, heartbeat_timeout=huge
            ),
            _timer(huge),
        )
        delayed = await raw.start(client, workflow_start_delay=huge)
        before = {r.workflow_id: await raw.history(client, r) for r in (run, delayed)}
        server.kill()
        client = await server.restart()
        for r in (run, delayed):
            desc = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(namespace="default", execution=r.execution)
            )
            assert desc.workflow_execution_info.execution.run_id == r.run_id
            assert await raw.history(client, r) == before[r.workflow_id]
        desc = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace="default", execution=run.execution)
        )
        assert desc.execution_config.workflow_run_timeout.seconds == HUNDRED_YEARS
        assert len(desc.pending_activities) == 1
    finally:
        server.kill()


async def test_bad_duration_in_update_with_start(client: Client) -> None:
    start = _start(
        workflow_run_timeout=NEG,
        workflow_id_conflict_policy=WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    )
    update = UpdateWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id=start.workflow_id),
        request=UpdateRequest(meta=Meta(update_id="u1"), input=Input(name="u")),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
        ),
    )
    Operation = ExecuteMultiOperationRequest.Operation
    request = ExecuteMultiOperationRequest(
        namespace="default",
        operations=[Operation(start_workflow=start), Operation(update_workflow=update)],
    )
    with pytest.raises(RPCError) as info:
        await client.workflow_service.execute_multi_operation(request)
    assert info.value.status == RPCStatusCode.INVALID_ARGUMENT
    failure = MultiOperationExecutionFailure()
    assert info.value.grpc_status.details[0].Unpack(failure)
    assert [(s.code, s.message) for s in failure.statuses] == [
        (3, f"An invalid WorkflowRunTimeoutSeconds is set on request. cause: {NEGATIVE}"),
        (10, "Operation was aborted."),
    ]


async def test_bad_continue_as_new_retry_policy_fails_the_task(client: Client) -> None:
    run, token = await _fresh_task(client)
    attrs = ContinueAsNewWorkflowExecutionCommandAttributes(
        workflow_type=WorkflowType(name="RawWorkflow"),
        task_queue=TaskQueue(name=run.task_queue),
        retry_policy=RetryPolicy(initial_interval=NEG),
    )
    command = Command(
        command_type=C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
        continue_as_new_workflow_execution_command_attributes=attrs,
    )
    message = (
        "invalid WorkflowRetryPolicy on ContinueAsNewWorkflowExecutionCommand: invalid "
        f"InitialInterval set on retry policy: {NEGATIVE}. WorkflowType=RawWorkflow "
        f'TaskQueue=name:"{run.task_queue}"  kind:TASK_QUEUE_KIND_NORMAL'
    )
    cause = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES
    await _fails_task(client, run, token, command, cause, message)


@pytest.mark.parametrize("seconds", [-1, 10**15], ids=["negative", "huge"])
async def test_any_sticky_schedule_to_start_is_accepted(client: Client, seconds: int) -> None:
    run, token = await _fresh_task(client)
    await client.workflow_service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace="default",
            task_token=token,
            sticky_attributes=StickyExecutionAttributes(
                worker_task_queue=TaskQueue(name=unique("sticky")),
                schedule_to_start_timeout=Duration(seconds=seconds),
            ),
        )
    )
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=run.execution)
    )
    assert desc.workflow_execution_info.execution.run_id == run.run_id
