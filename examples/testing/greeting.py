"""The code under test: a workflow that greets through an activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class GreetingWorkflow:
    def __init__(self) -> None:
        self.greeting: str | None = None

    @workflow.run
    async def run(self, name: str) -> str:
        self.greeting = await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=10)
        )
        return self.greeting

    @workflow.query
    def current(self) -> str | None:
        return self.greeting


@workflow.defn
class ReminderWorkflow:
    """Sends a reminder unless it is confirmed within a week."""

    def __init__(self) -> None:
        self.confirmed = False

    @workflow.run
    async def run(self, name: str) -> str:
        try:
            await workflow.wait_condition(lambda: self.confirmed, timeout=timedelta(days=7))
        except TimeoutError:
            return await workflow.execute_activity(
                compose_greeting,
                f"{name}, please confirm",
                start_to_close_timeout=timedelta(seconds=10),
            )
        return "confirmed"

    @workflow.signal
    def confirm(self) -> None:
        self.confirmed = True
