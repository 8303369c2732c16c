"""Durations a client sends and the command checker: Temporal's refusals and its cap."""

from __future__ import annotations

import json

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    ContinueAsNewWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import RetryPolicy, WorkflowType
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur, ts
from pytemporal.history.api import read
from pytemporal.history.workflow import command_checker, durations, retry
from pytemporal.history.workflow.activities import BadCommand

C = CommandType
Cause = WorkflowTaskFailedCause
MAX_PROTO_SECONDS = 315_576_000_000


@pytest.mark.parametrize(
    ("seconds", "nanos", "problem"),
    [
        (-1, 0, durations.NEGATIVE),
        (0, -1, durations.NEGATIVE),
        (1, -5, durations.MIXED_SIGNS),
        (-1, 5, durations.MIXED_SIGNS),
        (0, 0, None),
        (MAX_PROTO_SECONDS, 999_999_999, None),
    ],
)
def test_problem(seconds: int, nanos: int, problem: str | None) -> None:
    assert durations.problem(Duration(seconds=seconds, nanos=nanos)) == problem


def test_huge_durations_are_capped_at_a_hundred_years() -> None:
    req = StartWorkflowExecutionRequest(
        workflow_execution_timeout=Duration(seconds=MAX_PROTO_SECONDS, nanos=999_999_999),
        workflow_run_timeout=Duration(seconds=10**15),
        workflow_start_delay=Duration(seconds=5),
    )
    durations.check_request(req)
    assert req.workflow_execution_timeout == Duration(seconds=3_153_600_000)
    assert req.workflow_run_timeout == Duration(seconds=3_153_600_000)
    assert req.workflow_start_delay == Duration(seconds=5)
    assert not req.HasField("workflow_task_timeout")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "workflow_execution_timeout",
            Duration(seconds=-1),
            "An invalid WorkflowExecutionTimeoutSeconds is set on request. cause: negative duration",
        ),
        (
            "workflow_run_timeout",
            Duration(seconds=-1, nanos=5),
            "An invalid WorkflowRunTimeoutSeconds is set on request. cause: duration has seconds "
            "and nanos with different signs",
        ),
        (
            "workflow_start_delay",
            Duration(seconds=-3),
            "An invalid WorkflowStartDelaySeconds is set on request. cause: negative duration",
        ),
    ],
)
def test_start_request_refusals(field: str, value: Duration, message: str) -> None:
    req = StartWorkflowExecutionRequest()
    getattr(req, field).CopyFrom(value)
    with pytest.raises(InvalidArgument) as info:
        durations.check_request(req)
    assert info.value.message == message


def test_out_of_range_conversions_clamp_instead_of_raising() -> None:
    # A deadline derived from a timeout stored before the cap must stay readable.
    assert ts(1e15).seconds >= 253402300798
    assert dur(1e15).seconds == MAX_PROTO_SECONDS


def test_retry_policy_intervals() -> None:
    with pytest.raises(InvalidArgument) as info:
        retry.normalize(RetryPolicy(maximum_interval=Duration(seconds=1, nanos=-1)))
    assert info.value.message == (
        "invalid MaximumInterval set on retry policy: duration has seconds and nanos with "
        "different signs"
    )
    huge = retry.normalize(RetryPolicy(initial_interval=Duration(seconds=10**15)))
    assert huge.initial_interval.seconds == durations.MAX_SECONDS
    assert huge.maximum_interval.seconds == durations.MAX_SECONDS


@pytest.mark.parametrize(
    ("command_type", "shown"),
    [(999, "999"), (C.COMMAND_TYPE_UNSPECIFIED, "Unspecified")],
)
def test_unknown_command_type(command_type: int, shown: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        command_checker.check_types([Command(command_type=command_type)])  # type: ignore[arg-type]
    assert info.value.message == f"unknown command type: {shown}"


@pytest.mark.parametrize("command_type", sorted(command_checker.ATTRIBUTES))
def test_every_command_type_without_attributes_fails_the_task(command_type: int) -> None:
    with pytest.raises(BadCommand) as info:
        command_checker.check(Command(command_type=command_type), "default")  # type: ignore[arg-type]
    assert info.value.cause == command_checker.ATTRIBUTES[command_type][1]
    assert info.value.message


def test_every_command_type_is_known_to_the_checker() -> None:
    assert set(command_checker.ATTRIBUTES) == set(C.values()) - {C.COMMAND_TYPE_UNSPECIFIED}


def test_missing_continue_as_new_attributes_message() -> None:
    with pytest.raises(BadCommand) as info:
        command_checker.check(
            Command(command_type=C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION), "default"
        )
    assert info.value.cause == Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES
    assert info.value.message == (
        "ContinueAsNewWorkflowExecutionCommandAttributes is not set on "
        "ContinueAsNewWorkflowExecutionCommand."
    )


def _timer(seconds: int, nanos: int = 0) -> Command:
    return Command(
        command_type=C.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id="t", start_to_fire_timeout=Duration(seconds=seconds, nanos=nanos)
        ),
    )


def test_timer_durations() -> None:
    command_checker.check(_timer(0), "default")  # zero is allowed, as in Temporal
    huge = _timer(10**15)
    command_checker.check(huge, "default")
    assert huge.start_timer_command_attributes.start_to_fire_timeout.seconds == 3_153_600_000
    with pytest.raises(BadCommand) as info:
        command_checker.check(_timer(-1), "default")
    assert info.value.message == (
        "An invalid StartToFireTimeout is set on StartTimerCommand: negative duration. TimerId=t"
    )


def test_continue_as_new_and_child_durations() -> None:
    can = Command(
        command_type=C.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
        continue_as_new_workflow_execution_command_attributes=(
            ContinueAsNewWorkflowExecutionCommandAttributes(
                workflow_type=WorkflowType(name="W"),
                task_queue=TaskQueue(name="q"),
                backoff_start_interval=Duration(seconds=-1),
            )
        ),
    )
    with pytest.raises(BadCommand) as info:
        command_checker.check(can, "default")
    assert info.value.message == (
        "Invalid BackoffStartInterval on ContinueAsNewWorkflowExecutionCommand: negative "
        'duration. WorkflowType=W TaskQueue=name:"q"  kind:TASK_QUEUE_KIND_NORMAL'
    )
    child = Command(
        command_type=C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
        start_child_workflow_execution_command_attributes=(
            StartChildWorkflowExecutionCommandAttributes(
                workflow_id="c",
                workflow_type=WorkflowType(name="W"),
                retry_policy=RetryPolicy(initial_interval=Duration(seconds=-1)),
            )
        ),
    )
    with pytest.raises(BadCommand) as info:
        command_checker.check(child, "default")
    assert info.value.message == (
        "invalid WorkflowRetryPolicy on StartChildWorkflowExecutionCommand: invalid "
        "InitialInterval set on retry policy: negative duration. WorkflowId=c WorkflowType=W "
        "Namespace=default"
    )


@pytest.mark.parametrize(
    "token",
    [
        {"run": "r", "next": 10**30},
        {"run": "r", "next": 0},
        {"run": "r", "next": 2, "last": -1},
        {"run": "r", "next": 2, "last": 2**63},
        {"run": "other", "next": 2},
    ],
)
def test_history_page_token_out_of_range_is_invalid(token: dict[str, object]) -> None:
    # A crafted token must not reach the store with an id it cannot hold.
    with pytest.raises(InvalidArgument) as info:
        read._parse_token(json.dumps(token).encode(), "r")
    assert info.value.message == "Invalid NextPageToken."


def test_a_sequence_with_an_unknown_type_after_a_close_is_named() -> None:
    from pytemporal.history.workflow import commands

    sequence = [
        Command(command_type=C.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION),
        Command(command_type=99),  # type: ignore[arg-type]
    ]
    with pytest.raises(commands.InvalidCommandSequence) as info:
        commands.check_sequence(sequence)
    assert "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, 99" in str(info.value)
