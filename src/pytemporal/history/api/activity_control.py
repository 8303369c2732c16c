"""PauseActivity, UnpauseActivity, ResetActivity, UpdateActivityOptions: each one
locked mutation of the run (`workflow/activity_control.py` has the rules)."""

from __future__ import annotations

import random

from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.workflowservice.v1 import (
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
)

from pytemporal.common.errors import InvalidArgument
from pytemporal.common.protoutil import dur_seconds
from pytemporal.history.engine import Entry, HistoryEngine, Key
from pytemporal.history.workflow import activity_control as control


def _jitter(request: UnpauseActivityRequest | ResetActivityRequest) -> float:
    """A random delay below the request's jitter (Temporal: `rand.Int63n(jitter)`)."""
    jitter = dur_seconds(request.jitter) if request.HasField("jitter") else 0.0
    return random.uniform(0.0, jitter) if jitter > 0 else 0.0


async def pause(engine: HistoryEngine, key: Key, req: PauseActivityRequest) -> None:
    def apply(entry: Entry) -> None:
        for ai in control.select(entry.ms, activity_id=req.id, activity_type=req.type):
            control.pause(entry.ms, ai, req.identity, req.reason, req.request_id)

    await engine.update(key, apply)


async def unpause(engine: HistoryEngine, key: Key, req: UnpauseActivityRequest) -> None:
    def apply(entry: Entry) -> None:
        found = control.select(
            entry.ms, activity_id=req.id, activity_type=req.type, all_=req.unpause_all
        )
        for ai in found:
            control.unpause(
                entry.ms,
                ai,
                reset_attempts=req.reset_attempts,
                reset_heartbeat=req.reset_heartbeat,
                delay=_jitter(req),
            )

    await engine.update(key, apply)


async def reset(engine: HistoryEngine, key: Key, req: ResetActivityRequest) -> None:
    def apply(entry: Entry) -> None:
        found = control.select(
            entry.ms, activity_id=req.id, activity_type=req.type, all_=req.match_all
        )
        for ai in found:
            control.reset(
                entry.ms,
                ai,
                reset_heartbeat=req.reset_heartbeat,
                keep_paused=req.keep_paused,
                restore_original=req.restore_original_options,
                delay=_jitter(req),
            )

    await engine.update(key, apply)


async def update_options(
    engine: HistoryEngine, key: Key, req: UpdateActivityOptionsRequest
) -> ActivityOptions:
    paths = {control.camel_path(p) for p in req.update_mask.paths}
    if req.restore_original and paths:
        raise InvalidArgument("Both UpdateMask and RestoreOriginal are provided")

    def apply(entry: Entry) -> ActivityOptions:
        ms = entry.ms
        if req.restore_original:
            found = control.select(
                ms, activity_id=req.id, activity_type=req.type, all_=req.match_all
            )
            for ai in found:
                control.reset_options(ms, ai)
            return control.options_of(found[-1])
        if not req.HasField("activity_options"):
            raise InvalidArgument("ActivityOptions are not provided")
        found = control.select(ms, activity_id=req.id, activity_type=req.type, all_=req.match_all)
        if not req.HasField("update_mask"):
            raise InvalidArgument("UpdateMask is not provided")
        options = ActivityOptions()
        for ai in found:
            options = control.options_of(ai)
            control.merge_options(options, req.activity_options, paths)
            options = control.update_options(ms, ai, options)
        return options

    return await engine.update(key, apply)
