"""What sdk-python's own suite showed pytemporal getting wrong, each checked through the SDK.

One test per fix: unset timeouts stay unset in `workflow.info()`, run ids are UUIDv7,
Datetime search attributes come back typed, summaries reach the timer events and the
describe, a successful local activity's marker carries no failure, a ContinuedAsNew
event keeps the command's backoff, a poll of an update
without a wait policy answers at once, an oversized command payload terminates the run,
and ShutdownWorker ends the worker's outstanding polls.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    IndexedValueType,
    UpdateWorkflowExecutionLifecycleStage,
)
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import UpdateRef
from temporalio.api.workflowservice.v1 import (
    PollWorkflowExecutionUpdateRequest,
    PollWorkflowTaskQueueRequest,
    ShutdownWorkerRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
    WithStartWorkflowOperation,
    WorkflowFailureError,
)
from temporalio.common import SearchAttributeKey, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import PayloadConverter
from temporalio.exceptions import TerminatedError
from temporalio.service import RPCError, RPCStatusCode

from .harness import ServerProcess, history_events, running_worker, unique, wait_for

DATETIME_ATTRIBUTE = "PytemporalConformanceDatetime"


@workflow.defn(sandboxed=False)
class InfoWorkflow:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        info = workflow.info()
        return {
            "execution_timeout": str(info.execution_timeout),
            "run_timeout": str(info.run_timeout),
            "run_id": info.run_id,
        }


async def test_unset_timeouts_are_none_and_run_ids_are_uuid7(
    client: Client, task_queue: str
) -> None:
    async with running_worker(client, task_queue, workflows=[InfoWorkflow]):
        handle = await client.start_workflow(
            InfoWorkflow.run, id=unique("info"), task_queue=task_queue
        )
        info = await handle.result()
    assert info["execution_timeout"] == "None"
    assert info["run_timeout"] == "None"
    assert uuid.UUID(info["run_id"]).version == 7
    description = await handle.describe()
    assert not description.raw_description.execution_config.HasField("workflow_execution_timeout")


@workflow.defn(sandboxed=False)
class QuickContinueWorkflow:
    @workflow.run
    async def run(self, left: int) -> int:
        if left:
            workflow.continue_as_new(left - 1, backoff_start_interval=timedelta(milliseconds=1))
        return left


async def test_continued_as_new_event_keeps_the_commands_backoff(
    client: Client, task_queue: str
) -> None:
    # The next run of a fast chain waits about a second (Temporal's minimal interval
    # between runs), but the ContinuedAsNew event records what the command asked.
    async with running_worker(client, task_queue, workflows=[QuickContinueWorkflow]):
        handle = await client.start_workflow(
            QuickContinueWorkflow.run, 1, id=unique("can"), task_queue=task_queue
        )
        assert await handle.result() == 0
    first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    continued = [
        e.workflow_execution_continued_as_new_event_attributes
        for e in await history_events(first)
        if e.HasField("workflow_execution_continued_as_new_event_attributes")
    ]
    assert [c.backoff_start_interval.ToTimedelta() for c in continued] == [
        timedelta(milliseconds=1)
    ]


@workflow.defn(sandboxed=False)
class DatetimeAttributeWorkflow:
    @workflow.run
    async def run(self) -> str:
        value = workflow.info().search_attributes[DATETIME_ATTRIBUTE][0]
        return f"{type(value).__name__} {value}"


async def _register_datetime_attribute(client: Client) -> None:
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    DATETIME_ATTRIBUTE: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME
                },
            )
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise


async def test_untyped_datetime_search_attribute_comes_back_typed(
    client: Client, task_queue: str
) -> None:
    """The SDK's untyped start sends no `type` metadata; the server stamps the
    registered type on the way out, so the workflow and describe decode a datetime."""
    await _register_datetime_attribute(client)
    when = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    async with running_worker(client, task_queue, workflows=[DatetimeAttributeWorkflow]):
        handle = await client.start_workflow(
            DatetimeAttributeWorkflow.run,
            id=unique("sa-datetime"),
            task_queue=task_queue,
            search_attributes={DATETIME_ATTRIBUTE: [when]},  # untyped on purpose
        )
        assert await handle.result() == "datetime 2001-02-03 04:05:06+00:00"
    described = (await handle.describe()).search_attributes[DATETIME_ATTRIBUTE]
    assert described == [when]


@workflow.defn(sandboxed=False)
class SummariesWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(milliseconds=10), summary="first nap")
        await workflow.sleep(timedelta(milliseconds=10))
        await workflow.sleep(timedelta(milliseconds=10), summary="second nap")


async def test_timer_summaries_and_static_summary(client: Client, task_queue: str) -> None:
    async with running_worker(client, task_queue, workflows=[SummariesWorkflow]):
        handle = await client.start_workflow(
            SummariesWorkflow.run,
            id=unique("summaries"),
            task_queue=task_queue,
            static_summary="a summary",
            static_details="some details",
        )
        await handle.result()
    summaries = [
        PayloadConverter.default.from_payload(e.user_metadata.summary)
        if e.user_metadata.HasField("summary")
        else None
        for e in await history_events(handle)
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert summaries == ["first nap", None, "second nap"]
    described = await handle.describe()
    assert await described.static_summary() == "a summary"
    assert await described.static_details() == "some details"


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn(sandboxed=False)
class LocalActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        first = await workflow.execute_local_activity(
            shout, "a", start_to_close_timeout=timedelta(seconds=10)
        )
        # A timer between the two forces a second task, whose replay reads the marker.
        await workflow.sleep(timedelta(milliseconds=10))
        second = await workflow.execute_local_activity(
            shout, "b", start_to_close_timeout=timedelta(seconds=10)
        )
        return first + second


async def test_successful_local_activity_marker_has_no_failure(
    client: Client, task_queue: str
) -> None:
    async with running_worker(
        client,
        task_queue,
        workflows=[LocalActivityWorkflow],
        activities=[shout],
        max_cached_workflows=0,  # every task replays the markers from history
    ):
        handle = await client.start_workflow(
            LocalActivityWorkflow.run, id=unique("local"), task_queue=task_queue
        )
        assert await handle.result() == "AB"
    markers = [
        e
        for e in await history_events(handle)
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert len(markers) == 2
    assert not any(m.marker_recorded_event_attributes.HasField("failure") for m in markers)


@workflow.defn(sandboxed=False)
class WaitingWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    def touch(self) -> str:
        return "touched"


async def test_poll_update_without_wait_policy_answers_at_once(
    client: Client, task_queue: str
) -> None:
    """No worker: the update stays admitted. Temporal answers a poll without a wait
    policy with the stage reached so far instead of holding it to the long-poll end."""
    handle = await client.start_workflow(
        WaitingWorkflow.run, id=unique("admitted"), task_queue=task_queue
    )
    update = asyncio.create_task(handle.execute_update(WaitingWorkflow.touch, id="u1"))
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=handle.id), update_id="u1"
        ),
    )

    async def admitted() -> bool:
        try:
            resp = await client.workflow_service.poll_workflow_execution_update(
                request, timeout=timedelta(seconds=5)
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        assert resp.stage == (
            UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        )
        return True

    try:
        await wait_for(admitted, within=15, message="update admitted")
        async with running_worker(client, task_queue, workflows=[WaitingWorkflow]):
            assert await update == "touched"
            polled = await client.workflow_service.poll_workflow_execution_update(
                request, timeout=timedelta(seconds=5)
            )
            assert polled.outcome.success.payloads
            handle_update = handle.get_update_handle("u1")
            assert await handle_update.result() == "touched"
    finally:
        update.cancel()
        await handle.terminate()


@activity.defn
async def swallow(data: str) -> int:
    return len(data)


@workflow.defn(sandboxed=False)
class LargeInputWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            swallow, "x" * 20_000, start_to_close_timeout=timedelta(seconds=10)
        )


class LimitedServer(ServerProcess):
    def command(self) -> list[str]:
        cmd = super().command()
        for value in ("limit.blobSize.error=10240", "limit.blobSize.warn=2048"):
            cmd += ["--dynamic-config-value", value]
        return cmd


@pytest.fixture
async def limited_client(server_kind: str) -> AsyncIterator[Client]:
    if server_kind not in ("pytemporal", "reference"):
        pytest.skip("dev-server flags only")
    proc = LimitedServer(server_kind)
    client = await proc.start()
    try:
        yield client
    finally:
        proc.terminate(timeout=5)


async def test_oversized_activity_input_terminates_the_run(
    limited_client: Client, task_queue: str
) -> None:
    client = limited_client
    async with running_worker(
        client,
        task_queue,
        workflows=[LargeInputWorkflow],
        activities=[swallow],
        disable_payload_error_limit=True,  # let the payload reach the server
    ):
        handle = await client.start_workflow(
            LargeInputWorkflow.run,
            id=unique("large"),
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    assert isinstance(err.value.cause, TerminatedError)
    assert err.value.cause.message == (
        "BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes.Input exceeds"
        " size limit."
    )
    types = [e.event_type for e in await history_events(handle)]
    assert types[-2:] == [
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    ]


class CancelPollsServer(ServerProcess):
    def command(self) -> list[str]:
        cmd = super().command()
        if self.kind == "reference":  # off by default in Temporal, on in pytemporal
            cmd += ["--dynamic-config-value", "frontend.enableCancelWorkerPollsOnShutdown=true"]
        return cmd


@pytest.fixture
async def cancel_polls_client(server_kind: str, client: Client) -> AsyncIterator[Client]:
    if server_kind != "reference":
        yield client
        return
    proc = CancelPollsServer(server_kind)
    try:
        yield await proc.start()
    finally:
        proc.terminate(timeout=5)


async def test_shutdown_worker_ends_its_polls(cancel_polls_client: Client, task_queue: str) -> None:
    client = cancel_polls_client
    key = str(uuid.uuid4())
    poll = asyncio.create_task(
        client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                identity="conformance",
                worker_instance_key=key,
            ),
            timeout=timedelta(seconds=90),
        )
    )
    shutdown = ShutdownWorkerRequest(
        namespace=client.namespace,
        identity="conformance",
        worker_instance_key=key,
        task_queue=task_queue,
        sticky_task_queue="",
    )

    async def ended() -> bool:
        # The poll may not have reached the server yet: repeat until it is answered.
        await client.workflow_service.shutdown_worker(shutdown)
        return poll.done()

    try:
        await wait_for(ended, within=20, message="poll answered after ShutdownWorker")
        assert not (await poll).task_token
    finally:
        poll.cancel()


@workflow.defn(sandboxed=False)
class CartWorkflow:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, finish: bool) -> list[str]:
        await workflow.wait_condition(lambda: self.done or (finish and bool(self.items)))
        return self.items

    @workflow.update
    def add(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)

    @workflow.signal
    def close(self) -> None:
        self.done = True


@pytest.mark.parametrize("finish", [False, True], ids=["running", "closed"])
async def test_update_with_start_attaches_to_a_completed_update_whatever_the_policies(
    client: Client, task_queue: str, finish: bool
) -> None:
    """Conflict policy FAIL and reuse policy REJECT_DUPLICATE would refuse a second
    start; an update-with-start naming an update the run already completed attaches to
    it instead, whether the run is still open or has closed."""
    workflow_id = unique("uws")

    def start_op() -> WithStartWorkflowOperation[CartWorkflow, list[str]]:
        return WithStartWorkflowOperation(
            CartWorkflow.run,
            finish,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    async with running_worker(client, task_queue, workflows=[CartWorkflow]):
        first_op = start_op()
        first = await client.execute_update_with_start_workflow(
            CartWorkflow.add, "apple", id="add-apple", start_workflow_operation=first_op
        )
        first_handle = await first_op.workflow_handle()
        if finish:
            assert await first_handle.result() == ["apple"]
        second_op = start_op()
        second = await client.execute_update_with_start_workflow(
            CartWorkflow.add, "pear", id="add-apple", start_workflow_operation=second_op
        )
        second_handle = await second_op.workflow_handle()
        assert second == first == 1
        assert second_handle.first_execution_run_id == first_handle.first_execution_run_id
        if not finish:
            await first_handle.signal(CartWorkflow.close)
            assert await first_handle.result() == ["apple"]


async def test_schedule_action_search_attributes_come_back_typed(
    client: Client, task_queue: str
) -> None:
    await _register_datetime_attribute(client)
    when = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    action = ScheduleActionStartWorkflow(
        "SomeWorkflow", id=unique("scheduled"), task_queue=task_queue
    )
    action.untyped_search_attributes = {DATETIME_ATTRIBUTE: [when]}
    handle = await client.create_schedule(
        unique("schedule"),
        Schedule(action=action, spec=ScheduleSpec(), state=ScheduleState(paused=True)),
    )
    try:
        described = await handle.describe()
        assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
        typed = described.schedule.action.typed_search_attributes
        key = SearchAttributeKey.for_datetime(DATETIME_ATTRIBUTE)
        assert typed[key] == when
    finally:
        await handle.delete()
