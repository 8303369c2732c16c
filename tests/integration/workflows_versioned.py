"""Two builds of the same workflow types, for the worker deployment tests.

Each build answers the query ``version`` with its own build, and returns it when
signalled ``finish``: which build ran the run's last task shows in its result.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import VersioningBehavior


class _Versioned:
    BUILD = ""

    def __init__(self) -> None:
        self.done = False

    async def _run(self, wait: bool) -> str:
        if wait:
            await workflow.wait_condition(lambda: self.done)
        return self.BUILD

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def version(self) -> str:
        return self.BUILD


@workflow.defn(name="PinnedWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class PinnedV1(_Versioned):
    BUILD = "v1"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)


@workflow.defn(name="PinnedWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class PinnedV2(_Versioned):
    BUILD = "v2"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)


@workflow.defn(name="AutoWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoV1(_Versioned):
    BUILD = "v1"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)


@workflow.defn(name="AutoWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoV2(_Versioned):
    BUILD = "v2"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)


@activity.defn(name="which_build")
async def which_build_v1() -> str:
    return "v1"


@activity.defn(name="which_build")
async def which_build_v2() -> str:
    return "v2"


class _RunsActivity(_Versioned):
    async def _run(self, wait: bool) -> str:
        await workflow.wait_condition(lambda: self.done)
        result: str = await workflow.execute_activity(
            "which_build", start_to_close_timeout=timedelta(seconds=30), result_type=str
        )
        return f"{self.BUILD}/{result}"


@workflow.defn(name="PinnedActivityWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class PinnedActivityV1(_RunsActivity):
    BUILD = "v1"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)


@workflow.defn(name="PinnedActivityWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class PinnedActivityV2(_RunsActivity):
    BUILD = "v2"

    @workflow.run
    async def run(self, wait: bool) -> str:
        return await self._run(wait)
