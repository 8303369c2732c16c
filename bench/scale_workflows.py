"""The workflow driven by bench/scale.py, in its own module so a worker can import it.

``ScaleWait`` waits for the ``finish`` signal or a timer (``timer_s``), whichever comes
first, and returns which one it was. scale.py starts N of them with a one-hour timer
(they stay open) and one with a timer of a few seconds that falls due while the server
is down.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

SIGNALLED = "signalled"
TIMER_FIRED = "timer"

# Ids of the workflows whose first workflow task ran in this process: the fill phase's
# progress counter. Only meaningful with the UnsandboxedWorkflowRunner that scale.py
# uses (a sandbox would re-import this module and count into its own copy).
FIRST_TASKS_SEEN: set[str] = set()


@workflow.defn(name="ScaleWait")
class ScaleWait:
    def __init__(self) -> None:
        self.done = False

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self, timer_s: float) -> str:
        FIRST_TASKS_SEEN.add(workflow.info().workflow_id)
        try:
            await workflow.wait_condition(lambda: self.done, timeout=timedelta(seconds=timer_s))
        except TimeoutError:  # asyncio's, the same class since Python 3.11
            return TIMER_FIRED
        return SIGNALLED
