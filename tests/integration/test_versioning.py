"""``workflow.patched()`` across a worker upgrade.

Two classes share the workflow type ``PatchedWorkflow``.  A run started on the old
worker is mid-flight (waiting for a signal) when that worker stops and the new one
starts: it replays on the new code, where ``patched()`` is false because its history
has no patch marker, so it keeps the old path.  A run started on the new worker
records the marker and takes the new path.
"""

from __future__ import annotations

from temporalio.client import Client

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import PathActivities, PatchedWorkflowV1, PatchedWorkflowV2


async def test_patched_keeps_old_runs_on_old_path(client: Client, task_queue: str) -> None:
    acts = PathActivities()
    activities = [acts.old_step, acts.new_step]
    async with running_worker(
        client, task_queue, workflows=[PatchedWorkflowV1], activities=activities
    ):
        old_run = await client.start_workflow(
            "PatchedWorkflow", id=unique("patched-old"), task_queue=task_queue, result_type=str
        )
        await wait_for(lambda: _waiting(old_run), message="old run waiting for its signal")

    # Upgrade: a new worker process (fresh cache) with the patched code.
    async with running_worker(
        client, task_queue, workflows=[PatchedWorkflowV2], activities=activities
    ):
        new_run = await client.start_workflow(
            "PatchedWorkflow", id=unique("patched-new"), task_queue=task_queue, result_type=str
        )
        await wait_for(lambda: _waiting(new_run), message="new run waiting for its signal")
        await old_run.signal("go")
        await new_run.signal("go")
        assert await old_run.result() == "old path"
        assert await new_run.result() == "new path"

    assert sorted(acts.calls) == sorted(
        [f"old {old_run.result_run_id}", f"new {new_run.result_run_id}"]
    )
    old_types = await event_types(old_run)
    assert "MARKER_RECORDED" not in old_types
    new_events = await history_events(new_run)
    (marker,) = [e for e in new_events if event_type_name(e) == "MARKER_RECORDED"]
    attrs = marker.marker_recorded_event_attributes
    assert attrs.marker_name == "core_patch"
    assert attrs.details["patch_id"].payloads[0].data == b'"use-new-step"'
    # The marker is recorded in the same task that schedules the new activity.
    index = new_events.index(marker)
    assert event_type_name(new_events[index + 1]) == "ACTIVITY_TASK_SCHEDULED"
    assert new_events[index + 1].activity_task_scheduled_event_attributes.activity_type.name == (
        "new_step"
    )
    print([event_type_name(e) for e in new_events], attrs)


async def _waiting(handle: object) -> bool:
    return "WORKFLOW_TASK_COMPLETED" in await event_types(handle)  # type: ignore[arg-type]
