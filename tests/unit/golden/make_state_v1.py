"""Writes state_v1.bin: a mutable state stored in format version 1.

    PYTHONPATH=src python tests/unit/golden/make_state_v1.py

The blob is a compatibility fixture: once checked in it is never regenerated, so that
tests/unit/test_state_encoding.py keeps proving that version-1 blobs stay readable. Run
this only to create it (or when writing a new version's fixture, from a copy).

The run is driven through the pure state machine to a realistic open state: a child of
another workflow, with memo and search attributes, a started sticky workflow task with
buffered events behind it, activities in retry (last failure, heartbeat details) and
with a cancel request, timers, a started child, external signal and cancel requests in
the outbox, and updates. A few fields no open run reaches in one scenario (a reset
pointer, a close_children transfer) are set by hand so the fixture holds every field.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.command.v1 import (
    Command,
    ModifyWorkflowPropertiesCommandAttributes,
    ProtocolMessageCommandAttributes,
    RequestCancelActivityTaskCommandAttributes,
    RequestCancelExternalWorkflowExecutionCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
    SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
    UpsertWorkflowSearchAttributesCommandAttributes,
)
from temporalio.api.common.v1 import (
    ActivityType,
    Header,
    Memo,
    Payload,
    Payloads,
    RetryPolicy,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.enums.v1 import CommandType, ParentClosePolicy, TaskQueueKind
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.protocol.v1 import Message
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.update.v1 import Acceptance, Input, Meta, Outcome, Request, Response
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.common.protoutil import dur
from pytemporal.history.api.start import started_attributes
from pytemporal.history.workflow import activities, children, commands, lifecycle
from pytemporal.history.workflow import workflow_task as wt
from pytemporal.history.workflow.state import MutableState, Transfer

OUT = Path(__file__).resolve().parent / "state_v1.bin"
T0 = 1_700_000_000.0
C = CommandType


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def payloads(text: str) -> Payloads:
    return Payloads(payloads=[payload(text)])


def cmd(command_type: CommandType.ValueType, **attrs: object) -> Command:
    return Command(command_type=command_type, **attrs)  # type: ignore[arg-type]


def activity(activity_id: str, **extra: object) -> Command:
    return cmd(
        C.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id=activity_id,
            activity_type=ActivityType(name="Charge"),
            task_queue=TaskQueue(name="payments"),
            input=payloads(f"in-{activity_id}"),
            **extra,  # type: ignore[arg-type]
        ),
    )


def update_message(msg_id: str, update_id: str, body: object) -> Message:
    any_body = AnyProto()
    any_body.Pack(body)  # type: ignore[arg-type]
    return Message(id=msg_id, protocol_instance_id=update_id, body=any_body)


def protocol(msg_id: str) -> Command:
    return cmd(
        C.COMMAND_TYPE_PROTOCOL_MESSAGE,
        protocol_message_command_attributes=ProtocolMessageCommandAttributes(message_id=msg_id),
    )


def build() -> MutableState:
    req = StartWorkflowExecutionRequest(
        namespace="orders",
        workflow_id="order-42",
        workflow_type=WorkflowType(name="OrderWorkflow"),
        task_queue=TaskQueue(name="orders-tq"),
        input=payloads("order-42"),
        workflow_execution_timeout=dur(86400),
        workflow_run_timeout=dur(3600),
        workflow_task_timeout=dur(10),
        identity="client@host",
        request_id="start-req-1",
        retry_policy=RetryPolicy(initial_interval=dur(2), maximum_attempts=5),
        memo=Memo(fields={"customer": payload("ada")}),
        search_attributes=SearchAttributes(indexed_fields={"CustomKeywordField": payload("gold")}),
        header=Header(fields={"trace": payload("t-1")}),
    )
    attrs = started_attributes(req, "run-42", T0)
    # Started as the child of another workflow.
    attrs.parent_workflow_namespace = "orders"
    attrs.parent_workflow_namespace_id = "ns-orders"
    attrs.parent_workflow_execution.CopyFrom(
        WorkflowExecution(workflow_id="batch-7", run_id="run-7")
    )
    attrs.parent_initiated_event_id = 11
    attrs.root_workflow_execution.CopyFrom(WorkflowExecution(workflow_id="batch-7", run_id="run-7"))
    ms = lifecycle.new_run(
        namespace_id="ns-orders",
        namespace="orders",
        run_id="run-42",
        request_id="start-req-1",
        attrs=attrs,
        now=T0,
    )
    wt.schedule(ms)  # event 2

    # Signals before the first task, with request ids for deduplication.
    ms.begin(T0 + 0.5)
    lifecycle.signal(ms, "add-item", payloads("apple"), "client@host", None, "sig-req-1")
    ms.begin(T0 + 0.7)
    lifecycle.signal(ms, "add-item", payloads("pear"), "client@host", None, "sig-req-2")

    # First task: activities, timers, a child, external requests, properties, updates.
    ms.begin(T0 + 1)
    wt.start(ms, request_id="poll-1", identity="worker-1@host")
    ms.begin(T0 + 2)
    retry = RetryPolicy(initial_interval=dur(1), backoff_coefficient=2.0, maximum_interval=dur(60))
    completion = RespondWorkflowTaskCompletedRequest(
        identity="worker-1@host",
        commands=[
            activity(
                "charge-card",
                start_to_close_timeout=dur(30),
                heartbeat_timeout=dur(5),
                schedule_to_close_timeout=dur(600),
                retry_policy=retry,
            ),
            activity("send-email", start_to_close_timeout=dur(20)),
            activity("reserve-stock", start_to_close_timeout=dur(40)),
            cmd(
                C.COMMAND_TYPE_START_TIMER,
                start_timer_command_attributes=StartTimerCommandAttributes(
                    timer_id="reminder", start_to_fire_timeout=dur(60)
                ),
            ),
            cmd(
                C.COMMAND_TYPE_START_TIMER,
                start_timer_command_attributes=StartTimerCommandAttributes(
                    timer_id="deadline", start_to_fire_timeout=dur(3000)
                ),
            ),
            cmd(
                C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
                start_child_workflow_execution_command_attributes=StartChildWorkflowExecutionCommandAttributes(
                    workflow_id="ship-42",
                    workflow_type=WorkflowType(name="ShipWorkflow"),
                    input=payloads("ship"),
                    parent_close_policy=ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
                ),
            ),
            cmd(
                C.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
                start_child_workflow_execution_command_attributes=StartChildWorkflowExecutionCommandAttributes(
                    workflow_id="audit-42",
                    workflow_type=WorkflowType(name="AuditWorkflow"),
                ),
            ),
            cmd(
                C.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION,
                signal_external_workflow_execution_command_attributes=SignalExternalWorkflowExecutionCommandAttributes(
                    execution=WorkflowExecution(workflow_id="inventory", run_id="inv-run"),
                    signal_name="reserved",
                    input=payloads("order-42"),
                    control="ctl-sig",
                ),
            ),
            cmd(
                C.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION,
                request_cancel_external_workflow_execution_command_attributes=RequestCancelExternalWorkflowExecutionCommandAttributes(
                    workflow_id="old-order-41", reason="superseded"
                ),
            ),
            cmd(
                C.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
                upsert_workflow_search_attributes_command_attributes=UpsertWorkflowSearchAttributesCommandAttributes(
                    search_attributes=SearchAttributes(
                        indexed_fields={"CustomIntField": payload("3")}
                    )
                ),
            ),
            cmd(
                C.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES,
                modify_workflow_properties_command_attributes=ModifyWorkflowPropertiesCommandAttributes(
                    upserted_memo=Memo(fields={"stage": payload("charging")})
                ),
            ),
            protocol("m-accept-1"),
            protocol("m-accept-2"),
            protocol("m-respond-2"),
        ],
        messages=[
            update_message(
                "m-accept-1",
                "upd-1",
                Acceptance(
                    accepted_request_message_id="req-upd-1",
                    accepted_request_sequencing_event_id=4,
                    accepted_request=Request(
                        meta=Meta(update_id="upd-1", identity="client@host"),
                        input=Input(name="set-address", args=payloads("221B")),
                    ),
                ),
            ),
            update_message(
                "m-accept-2",
                "upd-2",
                Acceptance(accepted_request_message_id="req-upd-2"),
            ),
            update_message(
                "m-respond-2",
                "upd-2",
                Response(meta=Meta(update_id="upd-2"), outcome=Outcome(success=payloads("ok"))),
            ),
        ],
        sticky_attributes=StickyExecutionAttributes(
            worker_task_queue=TaskQueue(
                name="worker-1-sticky", kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY
            ),
            schedule_to_start_timeout=dur(7),
        ),
    )
    commands.complete(ms, completion)
    charge = ms.activities[ms.activity_ids["charge-card"]]
    reserve = ms.activities[ms.activity_ids["reserve-stock"]]

    # charge-card: started, heartbeats, fails, and retries: attempt 2 is started and
    # holds the first attempt's failure and the latest heartbeat details.
    ms.begin(T0 + 3)
    activities.start(ms, charge, request_id="act-poll-1", identity="act-worker@host")
    ms.begin(T0 + 4)
    activities.heartbeat(ms, charge, payloads("progress-10"))
    ms.begin(T0 + 5)
    failure = Failure(
        message="card declined",
        stack_trace="charge.py:12",
        application_failure_info=ApplicationFailureInfo(type="CardError"),
    )
    activities.fail(ms, charge, failure, "act-worker@host", payloads("progress-20"))
    ms.begin(T0 + 6.25)
    activities.start(ms, charge, request_id="act-poll-2", identity="act-worker-2@host")
    ms.begin(T0 + 7)
    activities.heartbeat(ms, charge, payloads("progress-30"))

    # The child ship-42 started; reserve-stock started.
    ms.begin(T0 + 8)
    ship = next(c for c in ms.children.values() if c.workflow_id == "ship-42")
    children.child_started(ms, ship, "ship-run-1")
    ms.outbox = [t for t in ms.outbox if t != Transfer("start_child", ship.initiated_event_id)]
    ms.begin(T0 + 9)
    activities.start(ms, reserve, request_id="act-poll-3", identity="act-worker@host")

    # Second task: cancels reserve-stock; the next task goes to the sticky queue.
    ms.begin(T0 + 10)
    wt.start(ms, request_id="poll-2", identity="worker-1@host")
    ms.begin(T0 + 11)
    commands.complete(
        ms,
        RespondWorkflowTaskCompletedRequest(
            identity="worker-1@host",
            commands=[
                cmd(
                    C.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
                    request_cancel_activity_task_command_attributes=RequestCancelActivityTaskCommandAttributes(
                        scheduled_event_id=reserve.scheduled_event_id
                    ),
                )
            ],
            sticky_attributes=completion.sticky_attributes,
            force_create_new_workflow_task=True,
        ),
    )

    # A third task is started; what arrives meanwhile is buffered behind it.
    ms.begin(T0 + 12)
    wt.start(ms, request_id="poll-3", identity="worker-1@host")
    ms.begin(T0 + 13)
    lifecycle.signal(ms, "add-item", payloads("plum"), "client@host", None, "sig-req-3")
    ms.begin(T0 + 14)
    send = ms.activities[ms.activity_ids["send-email"]]
    activities.start(ms, send, request_id="act-poll-4", identity="mailer@host")
    activities.complete(ms, send, payloads("sent"), "mailer@host")
    ms.begin(T0 + 15)
    lifecycle.request_cancel(ms, "customer asked", "client@host")

    # Set by hand: a reset pointer and a close_children transfer.
    ms.reset_run_id = "run-43"
    ms.last_reset_time = T0 + 16
    ms.outbox.append(
        Transfer(
            "close_children",
            targets=(
                (
                    ship.namespace_id,
                    ship.workflow_id,
                    ship.run_id,
                    ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
                ),
            ),
        )
    )
    ms.begin(T0 + 16)
    return ms


def main() -> None:
    OUT.write_bytes(build().encode())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
