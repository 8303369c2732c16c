"""Workflows for the issue-3 scenarios: children, continue-as-new, retries and cron,
updates, reset, external signal/cancel, limits, patching and describe.

Like ``workflows.py``, activities live on small classes so every test counts its own
executions.  Workflows that must wait do so on a signal (``release``/``finish``) or a
long timer, never on wall-clock guesses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

STEP_TIMEOUT = timedelta(seconds=10)
LONG_SLEEP = 3600.0


# --- children -----------------------------------------------------------------------------


@workflow.defn
class GreetChildWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


@workflow.defn
class FanOutChildrenWorkflow:
    """Starts one child per name, all at once, and gathers their results in order."""

    @workflow.run
    async def run(self, names: list[str]) -> list[str]:
        parent_id = workflow.info().workflow_id
        results = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    GreetChildWorkflow.run, name, id=f"{parent_id}-child-{index}"
                )
                for index, name in enumerate(names)
            )
        )
        return list(results)


@workflow.defn
class WaitingChildWorkflow:
    """Waits for ``release``; on cancellation either returns or re-raises."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self, swallow_cancel: bool = False) -> str:
        try:
            await workflow.wait_condition(lambda: self._released)
        except asyncio.CancelledError:
            if swallow_cancel:
                return "cleaned up after cancel"
            raise
        return "released"

    @workflow.signal
    def release(self) -> None:
        self._released = True


@dataclass
class PolicyChildIds:
    terminate_id: str
    request_cancel_id: str
    abandon_id: str


@workflow.defn
class ClosingParentWorkflow:
    """Starts one waiting child per parent-close policy, then waits for ``finish``."""

    def __init__(self) -> None:
        self._mode: str | None = None

    @workflow.run
    async def run(self, ids: PolicyChildIds) -> str:
        children = [
            (ids.terminate_id, ParentClosePolicy.TERMINATE),
            (ids.request_cancel_id, ParentClosePolicy.REQUEST_CANCEL),
            (ids.abandon_id, ParentClosePolicy.ABANDON),
        ]
        for child_id, policy in children:
            await workflow.start_child_workflow(
                WaitingChildWorkflow.run, True, id=child_id, parent_close_policy=policy
            )
        await workflow.wait_condition(lambda: self._mode is not None)
        if self._mode == "fail":
            raise ApplicationError("parent gives up", type="ParentFailed", non_retryable=True)
        return "parent done"

    @workflow.signal
    def finish(self, mode: str) -> None:
        self._mode = mode


@workflow.defn
class DuplicateChildWorkflow:
    """Starts a child whose id is already taken and reports what the SDK raised."""

    @workflow.run
    async def run(self, child_id: str) -> str:
        try:
            await workflow.start_child_workflow(WaitingChildWorkflow.run, id=child_id)
        except WorkflowAlreadyStartedError as err:
            return f"{type(err).__name__}: {err.workflow_id} {err.workflow_type} {err.message}"
        return "started"


@workflow.defn
class OutcomeChildWorkflow:
    """``fail`` raises; anything else sleeps until terminated, cancelled or timed out."""

    @workflow.run
    async def run(self, mode: str) -> str:
        if mode == "fail":
            raise ApplicationError("child broke", "detail", type="ChildBroke", non_retryable=True)
        await asyncio.sleep(LONG_SLEEP)
        return "woke up"


@dataclass
class ChildOutcome:
    error: str
    message: str
    cause: str
    cause_message: str
    retry_state: str | None


@dataclass
class ChildOutcomeInput:
    child_id: str
    mode: str
    execution_timeout_seconds: float | None = None


@workflow.defn
class ChildOutcomeParentWorkflow:
    """Runs one ``OutcomeChildWorkflow`` and reports the ChildWorkflowError it got."""

    @workflow.run
    async def run(self, params: ChildOutcomeInput) -> ChildOutcome:
        timeout = params.execution_timeout_seconds
        try:
            await workflow.execute_child_workflow(
                OutcomeChildWorkflow.run,
                params.mode,
                id=params.child_id,
                execution_timeout=timedelta(seconds=timeout) if timeout else None,
            )
        except ChildWorkflowError as err:
            cause = err.cause
            assert isinstance(cause, FailureError)
            return ChildOutcome(
                error=type(err).__name__,
                message=err.message,
                cause=type(cause).__name__,
                cause_message=cause.message,
                retry_state=err.retry_state.name if err.retry_state else None,
            )
        raise ApplicationError("child unexpectedly succeeded", non_retryable=True)


@workflow.defn
class PendingChildrenParentWorkflow:
    """Starts two waiting children and then waits itself, for describe."""

    @workflow.run
    async def run(self) -> None:
        parent_id = workflow.info().workflow_id
        for index, policy in enumerate((ParentClosePolicy.TERMINATE, ParentClosePolicy.ABANDON)):
            await workflow.start_child_workflow(
                WaitingChildWorkflow.run,
                id=f"{parent_id}-child-{index}",
                parent_close_policy=policy,
            )
        await asyncio.sleep(LONG_SLEEP)


# --- continue-as-new --------------------------------------------------------------------------


@dataclass
class RunChain:
    count: int
    first_execution_run_id: str
    continued_run_ids: list[str] = field(default_factory=list)


@workflow.defn
class ContinueAsNewWorkflow:
    """Continues as new until it has run ``target`` + 1 times; returns the chain it saw."""

    @workflow.run
    async def run(self, target: int, chain: RunChain | None = None, hold: bool = False) -> RunChain:
        info = workflow.info()
        if chain is None:
            chain = RunChain(count=0, first_execution_run_id=info.first_execution_run_id)
        else:
            chain.count += 1
            chain.continued_run_ids.append(info.continued_run_id or "")
        if chain.count < target:
            workflow.continue_as_new(args=[target, chain, hold])
        if hold:
            await asyncio.sleep(LONG_SLEEP)
        return chain


# --- workflow retries, cron, timeouts ---------------------------------------------------------


@workflow.defn
class FlakyWorkflow:
    """Fails with ``error_type`` until attempt ``succeed_on``; returns the attempt.

    The error type ``NonRetryable`` is raised with ``non_retryable=True``.
    """

    @workflow.run
    async def run(self, succeed_on: int, error_type: str = "Flaky") -> int:
        attempt = workflow.info().attempt
        if attempt < succeed_on:
            raise ApplicationError(
                f"attempt {attempt} failed",
                type=error_type,
                non_retryable=error_type == "NonRetryable",
            )
        return attempt


@workflow.defn
class CronWorkflow:
    @workflow.run
    async def run(self) -> str:
        info = workflow.info()
        return f"{info.cron_schedule} {info.continued_run_id or '-'}"


@workflow.defn
class SleepingWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"


# --- updates -----------------------------------------------------------------------------------


@workflow.defn
class UpdatableWorkflow:
    """A cart: ``add_item`` updates (validated), a gated ``slow_add``, ``finish`` signal."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._handler_runs = 0
        self._gate_open = False
        self._done = False

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self._done and workflow.all_handlers_finished())
        return self._items

    @workflow.update
    async def add_item(self, item: str) -> int:
        self._handler_runs += 1
        self._items.append(item)
        return len(self._items)

    @add_item.validator
    def validate_add_item(self, item: str) -> None:
        if not item:
            raise ValueError("item must not be empty")

    @workflow.update
    async def slow_add(self, item: str) -> int:
        self._handler_runs += 1
        await workflow.wait_condition(lambda: self._gate_open)
        self._items.append(item)
        return len(self._items)

    @workflow.update
    async def broken_update(self) -> None:
        raise ApplicationError("update handler failed", type="UpdateBroke")

    @workflow.signal
    def open_gate(self) -> None:
        self._gate_open = True

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.query
    def handler_runs(self) -> int:
        return self._handler_runs


# --- reset ---------------------------------------------------------------------------------------


@dataclass
class StampActivities:
    stamps: list[str] = field(default_factory=list)

    @activity.defn(name="stamp")
    async def stamp(self, label: str) -> str:
        self.stamps.append(label)
        return f"stamped {label} #{len(self.stamps)}"


@workflow.defn
class SignalCollectorWorkflow:
    """Stamps once, then collects ``add`` signals until it has ``expected`` of them."""

    def __init__(self) -> None:
        self._signals: list[str] = []

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self._signals) >= 1)
        stamp = await workflow.execute_activity(
            "stamp", self._signals[0], start_to_close_timeout=STEP_TIMEOUT, result_type=str
        )
        await workflow.wait_condition(lambda: len(self._signals) >= expected)
        return [stamp, *self._signals]

    @workflow.signal
    def add(self, value: str) -> None:
        self._signals.append(value)


# --- external signal / cancel ----------------------------------------------------------------------


@workflow.defn
class MailboxWorkflow:
    """Waits for one ``deliver`` signal; reports a cancellation in its result."""

    def __init__(self) -> None:
        self._message: str | None = None

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self._message is not None)
        except asyncio.CancelledError:
            return "cancelled by request"
        return f"got {self._message}"

    @workflow.signal
    def deliver(self, message: str) -> None:
        self._message = message


@workflow.defn
class ExternalSenderWorkflow:
    """Signals or cancels ``target_id`` and reports the outcome as text."""

    @workflow.run
    async def run(self, target_id: str, action: str) -> str:
        handle = workflow.get_external_workflow_handle_for(MailboxWorkflow.run, target_id)
        try:
            if action == "signal":
                await handle.signal(MailboxWorkflow.deliver, "parcel")
            else:
                await handle.cancel()
        except ApplicationError as err:
            return f"{type(err).__name__}: {err.message} (type={err.type})"
        return f"{action} delivered"


# --- limits ---------------------------------------------------------------------------------------


@dataclass
class BlockingActivities:
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: int = 0

    @activity.defn(name="block")
    async def block(self, index: int) -> int:
        self.started += 1
        await self.release.wait()
        return index


@workflow.defn
class ManyActivitiesWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity("block", i, start_to_close_timeout=STEP_TIMEOUT)
                for i in range(count)
            )
        )
        return len(results)


@workflow.defn
class ManyChildrenWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        parent_id = workflow.info().workflow_id
        for index in range(count):
            await workflow.start_child_workflow(
                WaitingChildWorkflow.run, id=f"{parent_id}-child-{index}"
            )
        await asyncio.sleep(LONG_SLEEP)
        return count


@workflow.defn
class ManySignalsWorkflow:
    """Signals ``target_id`` ``count`` times in one workflow task."""

    @workflow.run
    async def run(self, target_id: str, count: int) -> int:
        handle = workflow.get_external_workflow_handle_for(MailboxWorkflow.run, target_id)
        await asyncio.gather(
            *(handle.signal(MailboxWorkflow.deliver, str(i)) for i in range(count))
        )
        return count


@workflow.defn
class ManyCancelsWorkflow:
    """Requests cancellation of every target in one workflow task."""

    @workflow.run
    async def run(self, target_ids: list[str]) -> int:
        await asyncio.gather(
            *(workflow.get_external_workflow_handle(t).cancel() for t in target_ids)
        )
        return len(target_ids)


@dataclass
class LoopReport:
    iterations: int
    history_length: int
    suggested: bool


@activity.defn(name="tick")
async def tick(index: int) -> int:
    return index


@workflow.defn
class ActivityLoopWorkflow:
    """Runs short activities one after another (six events each), stopping early when
    continue-as-new is suggested if asked to."""

    @workflow.run
    async def run(self, max_iterations: int, stop_when_suggested: bool) -> LoopReport:
        info = workflow.info()
        for iteration in range(max_iterations):
            if stop_when_suggested and info.is_continue_as_new_suggested():
                return LoopReport(iteration, info.get_current_history_length(), True)
            await workflow.execute_activity(tick, iteration, start_to_close_timeout=STEP_TIMEOUT)
        return LoopReport(
            max_iterations, info.get_current_history_length(), info.is_continue_as_new_suggested()
        )


# --- patching across a worker upgrade ---------------------------------------------------------------


@dataclass
class PathActivities:
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    @activity.defn(name="old_step")
    async def old_step(self, phase: str) -> str:
        self.calls.append(("old", phase, activity.info().workflow_run_id))
        return "old path"

    @activity.defn(name="new_step")
    async def new_step(self, phase: str) -> str:
        self.calls.append(("new", phase, activity.info().workflow_run_id))
        return "new path"


class _PathBase:
    def __init__(self) -> None:
        self._go = False

    async def _steps(self, step: str) -> str:
        await workflow.execute_activity(step, "before", start_to_close_timeout=STEP_TIMEOUT)
        await workflow.wait_condition(lambda: self._go)
        return await workflow.execute_activity(
            step, "after", start_to_close_timeout=STEP_TIMEOUT, result_type=str
        )

    @workflow.signal
    def go(self) -> None:
        self._go = True


@workflow.defn(name="PatchedWorkflow")
class PatchedWorkflowV1(_PathBase):
    """Runs ``old_step`` before and after the ``go`` signal."""

    @workflow.run
    async def run(self) -> str:
        return await self._steps("old_step")


@workflow.defn(name="PatchedWorkflow")
class PatchedWorkflowV2(_PathBase):
    """The upgrade: ``new_step`` instead, behind ``patched("use-new-step")``."""

    @workflow.run
    async def run(self) -> str:
        return await self._steps("new_step" if workflow.patched("use-new-step") else "old_step")


# --- describe: pending activity, memo and search-attribute upserts ------------------------------------


@dataclass
class RetryingHeartbeatActivities:
    """Heartbeats, fails attempts below ``succeed_on`` and blocks on that attempt."""

    succeed_on: int = 3
    release: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[int] = field(default_factory=list)

    @activity.defn(name="heartbeat_then_fail")
    async def heartbeat_then_fail(self) -> str:
        attempt = activity.info().attempt
        self.attempts.append(attempt)
        activity.heartbeat(f"progress on attempt {attempt}")
        if attempt < self.succeed_on:
            raise ApplicationError(f"attempt {attempt} failed", type="Transient")
        await self.release.wait()
        return "done"


@workflow.defn
class RetryingActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "heartbeat_then_fail",
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=5,
            ),
            result_type=str,
        )


STAGE_KEY = SearchAttributeKey.for_keyword("PytemporalStage")
SCORE_KEY = SearchAttributeKey.for_int("PytemporalScore")


@workflow.defn
class UpsertingWorkflow:
    """Upserts search attributes and memo, then waits for ``release``."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes([STAGE_KEY.value_set("packed"), SCORE_KEY.value_set(7)])
        workflow.upsert_memo({"note": "first", "dropped": "soon"})
        await workflow.wait_condition(lambda: self._released)
        workflow.upsert_search_attributes([STAGE_KEY.value_set("shipped")])
        workflow.upsert_memo({"note": "second", "dropped": None})
        return "upserted"

    @workflow.signal
    def release(self) -> None:
        self._released = True
