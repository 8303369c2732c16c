"""Workflow updates inside a workflow-task completion: the worker's protocol messages
(acceptance, rejection, response) become events and outcomes (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage as Stage
from temporalio.api.enums.v1 import WorkflowTaskFailedCause as Cause
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import (
    WorkflowExecutionUpdateAcceptedEventAttributes,
    WorkflowExecutionUpdateCompletedEventAttributes,
)
from temporalio.api.protocol.v1 import Message
from temporalio.api.update.v1 import Acceptance, Outcome, Rejection, Response

from pytemporal.history.workflow.activities import BadCommand
from pytemporal.history.workflow.state import MutableState

ADMITTED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
ACCEPTED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
COMPLETED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED


@dataclass(frozen=True)
class Effect:
    """What a completion did to an update, applied to waiters once committed."""

    update_id: str
    stage: int
    outcome: Outcome | None = None


def server_rejection(message: str, failure_type: str) -> Outcome:
    return Outcome(
        failure=Failure(
            message=message,
            source="Server",
            application_failure_info=ApplicationFailureInfo(type=failure_type, non_retryable=True),
        )
    )


UNPROCESSED = (
    "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow "
    "Update is not supported by the worker."
)
ACCEPTED_BUT_CLOSED = (
    "Workflow Update failed because the Workflow completed before the Update completed."
)


def apply(ms: MutableState, msg: Message, wft_completed_id: int, effects: list[Effect]) -> None:
    body = msg.body
    uid = msg.protocol_instance_id
    if body.Is(Acceptance.DESCRIPTOR):
        a = Acceptance()
        body.Unpack(a)
        ev = ms.add_event(
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            WorkflowExecutionUpdateAcceptedEventAttributes(
                protocol_instance_id=uid,
                accepted_request_message_id=a.accepted_request_message_id,
                accepted_request_sequencing_event_id=a.accepted_request_sequencing_event_id,
                accepted_request=a.accepted_request,
            ),
        )
        ms.updates[uid] = [ev.event_id, 0]
        effects.append(Effect(uid, ACCEPTED))
    elif body.Is(Rejection.DESCRIPTOR):
        r = Rejection()
        body.Unpack(r)
        effects.append(Effect(uid, COMPLETED, Outcome(failure=r.failure)))
    elif body.Is(Response.DESCRIPTOR):
        resp = Response()
        body.Unpack(resp)
        uid = resp.meta.update_id or uid
        ids = ms.updates.get(uid)
        if ids is None:
            raise BadCommand(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
                f"update {uid} was not accepted before its response",
            )
        ev = ms.add_event(
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
            WorkflowExecutionUpdateCompletedEventAttributes(
                meta=resp.meta, accepted_event_id=ids[0], outcome=resp.outcome
            ),
        )
        ids[1] = ev.event_id
        effects.append(Effect(uid, COMPLETED, resp.outcome))
    else:
        raise BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
            f"unknown protocol message body {body.type_url}",
        )


def only_rejections(messages: list[Message]) -> bool:
    return all(m.body.Is(Rejection.DESCRIPTOR) for m in messages)
