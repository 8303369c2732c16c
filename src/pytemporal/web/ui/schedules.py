"""Schedules: the list, one schedule, and pause/unpause/trigger."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from temporalio.api.schedule.v1 import SchedulePatch, TriggerImmediatelyRequest
from temporalio.api.workflowservice.v1 import (
    DescribeScheduleRequest,
    ListSchedulesRequest,
    PatchScheduleRequest,
)

from pytemporal.web.ui import decode
from pytemporal.web.ui.app import calls, q, render, see_other
from pytemporal.web.ui.backend import IDENTITY, UIError

routes = web.RouteTableDef()
PAGE_SIZE = 100
_DONE = {
    "pause": "Schedule paused.",
    "unpause": "Schedule unpaused.",
    "trigger": "Action triggered.",
}


@routes.get("/namespaces/{namespace}/schedules")
async def schedule_list(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    reply = await calls(request).wf(
        "ListSchedules", ListSchedulesRequest(namespace=namespace, maximum_page_size=PAGE_SIZE)
    )
    rows = [
        {
            "id": s.schedule_id,
            "workflow_type": s.info.workflow_type.name,
            "paused": s.info.paused,
            "notes": s.info.notes,
            "spec": decode.compact(decode.message_value(s.info.spec), 100),
            "next": [decode.format_time(t) for t in s.info.future_action_times[:1]],
            "recent": [decode.format_time(a.actual_time) for a in list(s.info.recent_actions)[-1:]],
        }
        for s in reply.schedules
    ]
    return render(request, "schedules.html", rows=rows, more=bool(reply.next_page_token))


def _recent(info: Any, namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "scheduled": decode.format_time(a.schedule_time),
            "actual": decode.format_time(a.actual_time),
            "workflow_id": a.start_workflow_result.workflow_id,
            "run_id": a.start_workflow_result.run_id,
        }
        for a in reversed(info.recent_actions)
    ]


@routes.get("/namespaces/{namespace}/schedules/{schedule_id}")
async def schedule(request: web.Request) -> web.Response:
    namespace, schedule_id = request.match_info["namespace"], request.match_info["schedule_id"]
    reply = await calls(request).wf(
        "DescribeSchedule", DescribeScheduleRequest(namespace=namespace, schedule_id=schedule_id)
    )
    s, info = reply.schedule, reply.info
    action = s.action.start_workflow
    return render(
        request,
        "schedule.html",
        schedule_id=schedule_id,
        state=s.state,
        spec=decode.pretty(decode.message_value(s.spec)),
        policies=decode.pretty(decode.message_value(s.policies)),
        action=action,
        action_input=decode.pretty(decode.payloads_value(action.input.payloads)),
        info=info,
        running=[(w.workflow_id, w.run_id) for w in info.running_workflows],
        recent=_recent(info, namespace),
        upcoming=[decode.format_time(t) for t in info.future_action_times],
        created=decode.format_time(info.create_time),
        updated=decode.format_time(info.update_time),
        done=_DONE.get(request.query.get("done", ""), ""),
    )


@routes.post("/namespaces/{namespace}/schedules/{schedule_id}/{action}")
async def schedule_action(request: web.Request) -> web.Response:
    namespace, schedule_id = request.match_info["namespace"], request.match_info["schedule_id"]
    action = request.match_info["action"]
    form = await request.post()
    note = str(form.get("note", "")).strip() or f"{action} from the web UI"
    if action == "pause":
        patch = SchedulePatch(pause=note)
    elif action == "unpause":
        patch = SchedulePatch(unpause=note)
    elif action == "trigger":
        patch = SchedulePatch(trigger_immediately=TriggerImmediatelyRequest())
    else:
        raise UIError(404, "Not found", f"No schedule action {action!r}.")
    await calls(request).wf(
        "PatchSchedule",
        PatchScheduleRequest(
            namespace=namespace,
            schedule_id=schedule_id,
            patch=patch,
            identity=IDENTITY,
            request_id=str(uuid.uuid4()),
        ),
    )
    return see_other(f"/namespaces/{q(namespace)}/schedules/{q(schedule_id)}?done={action}")
