"""Schedule RPC errors: the statuses and messages of Temporal's dev server.

Run with PYTEMPORAL_TEST_SERVER=pytemporal,reference to check them against Temporal.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.schedule.v1 import (
    IntervalSpec,
    Schedule,
    ScheduleAction,
    SchedulePatch,
    ScheduleSpec,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeScheduleRequest,
    GetSystemInfoRequest,
    ListScheduleMatchingTimesRequest,
    ListSchedulesRequest,
    ListWorkflowExecutionsRequest,
    PatchScheduleRequest,
    UpdateScheduleRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .harness import unique, wait_for

NS = "default"


def schedule(**action: Any) -> Schedule:
    info = NewWorkflowExecutionInfo(
        workflow_id="wf", workflow_type={"name": "W"}, task_queue=TaskQueue(name="tq")
    )
    for k, v in action.items():
        if k == "workflow_type":
            info.workflow_type.name = v
        elif k == "task_queue":
            info.task_queue.name = v
        else:
            setattr(info, k, v)
    return Schedule(
        spec=ScheduleSpec(interval=[IntervalSpec(interval=timedelta(days=365))]),
        action=ScheduleAction(start_workflow=info),
    )


async def error(call: Awaitable[Any]) -> tuple[RPCStatusCode, str]:
    with pytest.raises(RPCError) as e:
        await call
    return e.value.status, e.value.message


async def test_create_errors(client: Client) -> None:
    svc = client.workflow_service
    sid = unique("sched")
    create = CreateScheduleRequest(
        namespace=NS, schedule_id=sid, schedule=schedule(), request_id="r1"
    )
    first = await svc.create_schedule(create)
    assert first.conflict_token == (1).to_bytes(8, "big")
    # The same request again: the same answer.
    assert (await svc.create_schedule(create)).conflict_token == first.conflict_token
    create.request_id = "r2"
    assert await error(svc.create_schedule(create)) == (
        RPCStatusCode.ALREADY_EXISTS,
        f'schedule "{sid}" is already registered',
    )

    def req(sid: str = "x", request_id: str = "r", **action: Any) -> CreateScheduleRequest:
        return CreateScheduleRequest(
            namespace=NS, schedule_id=sid, schedule=schedule(**action), request_id=request_id
        )

    invalid = RPCStatusCode.INVALID_ARGUMENT
    cases = [
        (req(sid=""), "Can't load workflow execution.  WorkflowId not set."),
        (req(request_id=""), "RequestId is not set on request."),
        (req(workflow_type=""), "WorkflowType is not set on request."),
        (req(task_queue=""), "missing task queue name"),
        (req(cron_schedule="* * * * *"), "Scheduled workflow must not contain CronSchedule"),
    ]
    for request, message in cases:
        assert await error(svc.create_schedule(request)) == (invalid, message)
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))


async def test_missing_and_deleted_schedules(client: Client) -> None:
    svc = client.workflow_service
    missing = unique("missing")
    not_found = (
        RPCStatusCode.NOT_FOUND,
        f"workflow not found for ID: temporal-sys-scheduler:{missing}",
    )
    assert (
        await error(
            svc.describe_schedule(DescribeScheduleRequest(namespace=NS, schedule_id=missing))
        )
        == not_found
    )
    assert (
        await error(
            svc.update_schedule(
                UpdateScheduleRequest(
                    namespace=NS, schedule_id=missing, schedule=schedule(), request_id="u"
                )
            )
        )
        == not_found
    )
    patch = PatchScheduleRequest(
        namespace=NS, schedule_id=missing, patch=SchedulePatch(pause="p"), request_id="p"
    )
    assert await error(svc.patch_schedule(patch)) == not_found
    assert (
        await error(svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=missing)))
        == not_found
    )
    assert (
        await error(
            svc.list_schedule_matching_times(
                ListScheduleMatchingTimesRequest(namespace=NS, schedule_id=missing)
            )
        )
        == not_found
    )

    sid = unique("sched")
    await svc.create_schedule(
        CreateScheduleRequest(namespace=NS, schedule_id=sid, schedule=schedule(), request_id="r")
    )
    assert await error(
        svc.patch_schedule(PatchScheduleRequest(namespace=NS, schedule_id=sid, request_id="p"))
    ) == (RPCStatusCode.INVALID_ARGUMENT, "Patch is not set on request.")
    assert await error(
        svc.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(namespace=NS, schedule_id=sid)
        )
    ) == (RPCStatusCode.INVALID_ARGUMENT, "missing or invalid query")
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))
    assert await error(
        svc.describe_schedule(DescribeScheduleRequest(namespace=NS, schedule_id=sid))
    ) == (RPCStatusCode.NOT_FOUND, "schedule not found")
    # Deleted: the id can be used again (by another request).
    await svc.create_schedule(
        CreateScheduleRequest(namespace=NS, schedule_id=sid, schedule=schedule(), request_id="r2")
    )
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))
    assert await error(
        svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))
    ) == (RPCStatusCode.NOT_FOUND, "workflow execution already completed")


async def test_list_schedules_query_errors_and_workflow_visibility(client: Client) -> None:
    svc = client.workflow_service
    assert await error(
        svc.list_schedules(ListSchedulesRequest(namespace=NS, query="bogus = 1"))
    ) == (RPCStatusCode.INVALID_ARGUMENT, "invalid query: invalid search attribute: bogus")
    sid = unique("sched")
    await svc.create_schedule(
        CreateScheduleRequest(namespace=NS, schedule_id=sid, schedule=schedule(), request_id="r")
    )
    # A schedule is not a workflow to list.
    workflows = await svc.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=NS, query=f"WorkflowId = '{sid}'")
    )
    assert list(workflows.executions) == []
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))


async def test_system_info_advertises_schedules(client: Client) -> None:
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.capabilities.supports_schedules


async def test_update_and_patch_errors(client: Client) -> None:
    svc = client.workflow_service
    sid = unique("sched")
    await svc.create_schedule(
        CreateScheduleRequest(namespace=NS, schedule_id=sid, schedule=schedule(), request_id="r")
    )
    update = UpdateScheduleRequest(namespace=NS, schedule_id=sid, schedule=schedule())
    update.memo.fields["a"].data = b'"x"'
    update.memo.fields["a"].metadata["encoding"] = b"json/plain"
    assert await error(svc.update_schedule(update)) == (
        RPCStatusCode.FAILED_PRECONDITION,
        "memo updates are not supported on workflow-backed schedules",
    )
    long_note = PatchScheduleRequest(
        namespace=NS, schedule_id=sid, patch=SchedulePatch(pause="x" * 1001)
    )
    assert await error(svc.patch_schedule(long_note)) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Schedule notes exceeds limit.",
    )
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))


async def test_keep_original_workflow_id_is_stored_and_the_time_still_appended(
    client: Client,
) -> None:
    # As Temporal's server 1.32: the policy round-trips but ids still get the time.
    svc = client.workflow_service
    sid = unique("sched")
    sched = schedule()
    sched.policies.keep_original_workflow_id = True
    patch = SchedulePatch()
    patch.trigger_immediately.SetInParent()
    await svc.create_schedule(
        CreateScheduleRequest(
            namespace=NS, schedule_id=sid, schedule=sched, request_id="r", initial_patch=patch
        )
    )

    async def described() -> Any:
        d = await svc.describe_schedule(DescribeScheduleRequest(namespace=NS, schedule_id=sid))
        return d if d.info.recent_actions else None

    d = await wait_for(described, message="triggered action")
    assert d.schedule.policies.keep_original_workflow_id
    wid = d.info.recent_actions[0].start_workflow_result.workflow_id
    assert wid.startswith("wf-") and wid.endswith("Z")
    await svc.delete_schedule(DeleteScheduleRequest(namespace=NS, schedule_id=sid))
