"""``workflow.patched()`` across a worker upgrade.

Two classes share the workflow type ``PatchedWorkflow``.  A run started on the old
worker ran its first step and is mid-flight (waiting for a signal) when that worker
stops and the upgraded one starts: it replays on the new code, where ``patched()`` is
false because its history has no patch marker, so it keeps the old path after the
upgrade too.  A run started on the new worker records the marker and takes the new
path.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey

from .harness import event_type_name, event_types, history_events, running_worker, unique, wait_for
from .workflows_v3 import PatchedWorkflowV1, PatchedWorkflowV2, PathActivities


async def test_patched_keeps_old_runs_on_old_path(client: Client, task_queue: str) -> None:
    acts = PathActivities()
    activities = [acts.old_step, acts.new_step]
    async with running_worker(
        client, task_queue, workflows=[PatchedWorkflowV1], activities=activities
    ):
        old_run = await client.start_workflow(
            "PatchedWorkflow", id=unique("patched-old"), task_queue=task_queue, result_type=str
        )
        await wait_for(lambda: waiting_for_signal(old_run), message="old run waiting")

    # The upgrade: a new worker (fresh workflow cache) with the patched code.
    async with running_worker(
        client, task_queue, workflows=[PatchedWorkflowV2], activities=activities
    ):
        new_run = await client.start_workflow(
            "PatchedWorkflow", id=unique("patched-new"), task_queue=task_queue, result_type=str
        )
        await wait_for(lambda: waiting_for_signal(new_run), message="new run waiting")
        await old_run.signal("go")
        await new_run.signal("go")
        assert await old_run.result() == "old path"
        assert await new_run.result() == "new path"

    old_id, new_id = old_run.result_run_id, new_run.result_run_id
    assert sorted(acts.calls) == sorted(
        [
            ("old", "before", old_id),
            ("old", "after", old_id),  # run on the upgraded worker
            ("new", "before", new_id),
            ("new", "after", new_id),
        ]
    )
    assert "MARKER_RECORDED" not in await event_types(old_run)
    new_events = await history_events(new_run)
    assert [event_type_name(e) for e in new_events][3:7] == [
        "WORKFLOW_TASK_COMPLETED",
        "MARKER_RECORDED",
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
        "ACTIVITY_TASK_SCHEDULED",
    ]
    marker = new_events[4].marker_recorded_event_attributes
    assert marker.marker_name == "core_patch"
    assert list(marker.details) == ["patch-data"]
    assert marker.details["patch-data"].payloads[0].data == (
        b'{"id":"use-new-step","deprecated":false}'
    )
    assert marker.workflow_task_completed_event_id == 4
    # The SDK also tags the run with the TemporalChangeVersion search attribute.
    upsert = new_events[5].upsert_workflow_search_attributes_event_attributes
    assert upsert.workflow_task_completed_event_id == 4
    assert list(upsert.search_attributes.indexed_fields) == ["TemporalChangeVersion"]
    scheduled = new_events[6].activity_task_scheduled_event_attributes
    assert scheduled.activity_type.name == "new_step"

    change_version = SearchAttributeKey.for_keyword_list("TemporalChangeVersion")
    new_desc = await new_run.describe()
    assert new_desc.typed_search_attributes.get(change_version) == ["use-new-step"]
    old_desc = await old_run.describe()
    assert old_desc.typed_search_attributes.get(change_version) is None

    async def patched_runs() -> list[str] | None:
        query = f"TemporalChangeVersion = 'use-new-step' AND TaskQueue = '{task_queue}'"
        found = [w.id async for w in client.list_workflows(query)]
        return found or None

    assert await wait_for(patched_runs, message="patched run listed") == [new_run.id]


async def waiting_for_signal(handle: WorkflowHandle[Any, Any]) -> bool:
    """The first activity is done and the task after it completed."""
    types = await event_types(handle)
    return "ACTIVITY_TASK_COMPLETED" in types and types[-1] == "WORKFLOW_TASK_COMPLETED"
