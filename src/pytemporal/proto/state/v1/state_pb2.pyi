from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MutableState(_message.Message):
    __slots__ = ("format_version", "namespace_id", "namespace", "workflow_id", "run_id", "first_execution_run_id", "workflow_type", "task_queue", "start_request_id", "start_time", "execution_time", "started", "run_timeout", "execution_timeout", "task_timeout", "run_expiration", "execution_expiration", "status", "close_time", "next_event_id", "history_size_bytes", "wft", "previous_started_event_id", "last_completed_wft_event_id", "wft_completed_count", "sticky_queue", "sticky_timeout", "first_wft_backoff_until", "activities", "timers", "buffered", "signal_request_ids", "signal_count", "cancel_requested", "close_event_id", "children", "externals", "outbox", "reset_run_id", "last_reset_time", "updates", "delete_after", "auto_reset_points", "execution_options", "versioning")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    START_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TASK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RUN_EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WFT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_COMPLETED_WFT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WFT_COMPLETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    STICKY_QUEUE_FIELD_NUMBER: _ClassVar[int]
    STICKY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FIRST_WFT_BACKOFF_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    TIMERS_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CLOSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    EXTERNALS_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_FIELD_NUMBER: _ClassVar[int]
    RESET_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RESET_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    DELETE_AFTER_FIELD_NUMBER: _ClassVar[int]
    AUTO_RESET_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    namespace_id: str
    namespace: str
    workflow_id: str
    run_id: str
    first_execution_run_id: str
    workflow_type: str
    task_queue: str
    start_request_id: str
    start_time: float
    execution_time: float
    started: bytes
    run_timeout: float
    execution_timeout: float
    task_timeout: float
    run_expiration: float
    execution_expiration: float
    status: int
    close_time: float
    next_event_id: int
    history_size_bytes: int
    wft: WorkflowTaskInfo
    previous_started_event_id: int
    last_completed_wft_event_id: int
    wft_completed_count: int
    sticky_queue: str
    sticky_timeout: float
    first_wft_backoff_until: float
    activities: _containers.RepeatedCompositeFieldContainer[ActivityInfo]
    timers: _containers.RepeatedCompositeFieldContainer[TimerInfo]
    buffered: _containers.RepeatedScalarFieldContainer[bytes]
    signal_request_ids: _containers.RepeatedScalarFieldContainer[str]
    signal_count: int
    cancel_requested: bool
    close_event_id: int
    children: _containers.RepeatedCompositeFieldContainer[ChildInfo]
    externals: _containers.RepeatedCompositeFieldContainer[ExternalInfo]
    outbox: _containers.RepeatedCompositeFieldContainer[Transfer]
    reset_run_id: str
    last_reset_time: float
    updates: _containers.RepeatedCompositeFieldContainer[UpdateInfo]
    delete_after: float
    auto_reset_points: bytes
    execution_options: bytes
    versioning: bytes
    def __init__(self, format_version: _Optional[int] = ..., namespace_id: _Optional[str] = ..., namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., start_request_id: _Optional[str] = ..., start_time: _Optional[float] = ..., execution_time: _Optional[float] = ..., started: _Optional[bytes] = ..., run_timeout: _Optional[float] = ..., execution_timeout: _Optional[float] = ..., task_timeout: _Optional[float] = ..., run_expiration: _Optional[float] = ..., execution_expiration: _Optional[float] = ..., status: _Optional[int] = ..., close_time: _Optional[float] = ..., next_event_id: _Optional[int] = ..., history_size_bytes: _Optional[int] = ..., wft: _Optional[_Union[WorkflowTaskInfo, _Mapping]] = ..., previous_started_event_id: _Optional[int] = ..., last_completed_wft_event_id: _Optional[int] = ..., wft_completed_count: _Optional[int] = ..., sticky_queue: _Optional[str] = ..., sticky_timeout: _Optional[float] = ..., first_wft_backoff_until: _Optional[float] = ..., activities: _Optional[_Iterable[_Union[ActivityInfo, _Mapping]]] = ..., timers: _Optional[_Iterable[_Union[TimerInfo, _Mapping]]] = ..., buffered: _Optional[_Iterable[bytes]] = ..., signal_request_ids: _Optional[_Iterable[str]] = ..., signal_count: _Optional[int] = ..., cancel_requested: _Optional[bool] = ..., close_event_id: _Optional[int] = ..., children: _Optional[_Iterable[_Union[ChildInfo, _Mapping]]] = ..., externals: _Optional[_Iterable[_Union[ExternalInfo, _Mapping]]] = ..., outbox: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., reset_run_id: _Optional[str] = ..., last_reset_time: _Optional[float] = ..., updates: _Optional[_Iterable[_Union[UpdateInfo, _Mapping]]] = ..., delete_after: _Optional[float] = ..., auto_reset_points: _Optional[bytes] = ..., execution_options: _Optional[bytes] = ..., versioning: _Optional[bytes] = ...) -> None: ...

class WorkflowTaskInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "attempt", "scheduled_time", "original_scheduled_time", "task_queue", "sticky", "timeout", "started_event_id", "started_time", "request_id", "identity")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    STICKY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    attempt: int
    scheduled_time: float
    original_scheduled_time: float
    task_queue: str
    sticky: bool
    timeout: float
    started_event_id: int
    started_time: float
    request_id: str
    identity: str
    def __init__(self, scheduled_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., scheduled_time: _Optional[float] = ..., original_scheduled_time: _Optional[float] = ..., task_queue: _Optional[str] = ..., sticky: _Optional[bool] = ..., timeout: _Optional[float] = ..., started_event_id: _Optional[int] = ..., started_time: _Optional[float] = ..., request_id: _Optional[str] = ..., identity: _Optional[str] = ...) -> None: ...

class ActivityInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "activity_id", "activity_type", "task_queue", "attrs", "schedule_to_close", "schedule_to_start", "start_to_close", "heartbeat", "scheduled_time", "attempt_scheduled_time", "attempt", "started", "started_time", "started_identity", "request_id", "last_heartbeat_time", "heartbeat_details", "last_failure", "last_worker_identity", "cancel_requested", "cancel_requested_event_id", "dispatched", "paused", "pause_time", "pause_identity", "pause_reason", "pause_request_id", "reset_requested", "reset_heartbeats", "original_attrs")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_CLOSE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_FIELD_NUMBER: _ClassVar[int]
    START_TO_CLOSE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    LAST_WORKER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAUSE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    PAUSE_REASON_FIELD_NUMBER: _ClassVar[int]
    PAUSE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESET_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    RESET_HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_ATTRS_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    activity_id: str
    activity_type: str
    task_queue: str
    attrs: bytes
    schedule_to_close: float
    schedule_to_start: float
    start_to_close: float
    heartbeat: float
    scheduled_time: float
    attempt_scheduled_time: float
    attempt: int
    started: bool
    started_time: float
    started_identity: str
    request_id: str
    last_heartbeat_time: float
    heartbeat_details: bytes
    last_failure: bytes
    last_worker_identity: str
    cancel_requested: bool
    cancel_requested_event_id: int
    dispatched: bool
    paused: bool
    pause_time: float
    pause_identity: str
    pause_reason: str
    pause_request_id: str
    reset_requested: bool
    reset_heartbeats: bool
    original_attrs: bytes
    def __init__(self, scheduled_event_id: _Optional[int] = ..., activity_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., attrs: _Optional[bytes] = ..., schedule_to_close: _Optional[float] = ..., schedule_to_start: _Optional[float] = ..., start_to_close: _Optional[float] = ..., heartbeat: _Optional[float] = ..., scheduled_time: _Optional[float] = ..., attempt_scheduled_time: _Optional[float] = ..., attempt: _Optional[int] = ..., started: _Optional[bool] = ..., started_time: _Optional[float] = ..., started_identity: _Optional[str] = ..., request_id: _Optional[str] = ..., last_heartbeat_time: _Optional[float] = ..., heartbeat_details: _Optional[bytes] = ..., last_failure: _Optional[bytes] = ..., last_worker_identity: _Optional[str] = ..., cancel_requested: _Optional[bool] = ..., cancel_requested_event_id: _Optional[int] = ..., dispatched: _Optional[bool] = ..., paused: _Optional[bool] = ..., pause_time: _Optional[float] = ..., pause_identity: _Optional[str] = ..., pause_reason: _Optional[str] = ..., pause_request_id: _Optional[str] = ..., reset_requested: _Optional[bool] = ..., reset_heartbeats: _Optional[bool] = ..., original_attrs: _Optional[bytes] = ...) -> None: ...

class TimerInfo(_message.Message):
    __slots__ = ("timer_id", "started_event_id", "fire_time")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    started_event_id: int
    fire_time: float
    def __init__(self, timer_id: _Optional[str] = ..., started_event_id: _Optional[int] = ..., fire_time: _Optional[float] = ...) -> None: ...

class ChildInfo(_message.Message):
    __slots__ = ("initiated_event_id", "namespace", "namespace_id", "workflow_id", "workflow_type", "parent_close_policy", "run_id", "started_event_id")
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_CLOSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    initiated_event_id: int
    namespace: str
    namespace_id: str
    workflow_id: str
    workflow_type: str
    parent_close_policy: int
    run_id: str
    started_event_id: int
    def __init__(self, initiated_event_id: _Optional[int] = ..., namespace: _Optional[str] = ..., namespace_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., parent_close_policy: _Optional[int] = ..., run_id: _Optional[str] = ..., started_event_id: _Optional[int] = ...) -> None: ...

class ExternalInfo(_message.Message):
    __slots__ = ("initiated_event_id", "kind", "namespace", "namespace_id", "workflow_id", "run_id", "control")
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    initiated_event_id: int
    kind: str
    namespace: str
    namespace_id: str
    workflow_id: str
    run_id: str
    control: str
    def __init__(self, initiated_event_id: _Optional[int] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., namespace_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., control: _Optional[str] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("kind", "ref", "targets")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ref: int
    targets: _containers.RepeatedCompositeFieldContainer[CloseChildTarget]
    def __init__(self, kind: _Optional[str] = ..., ref: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[CloseChildTarget, _Mapping]]] = ...) -> None: ...

class CloseChildTarget(_message.Message):
    __slots__ = ("namespace_id", "workflow_id", "run_id", "parent_close_policy")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_CLOSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    workflow_id: str
    run_id: str
    parent_close_policy: int
    def __init__(self, namespace_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., parent_close_policy: _Optional[int] = ...) -> None: ...

class UpdateInfo(_message.Message):
    __slots__ = ("update_id", "accepted_event_id", "completed_event_id")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    accepted_event_id: int
    completed_event_id: int
    def __init__(self, update_id: _Optional[str] = ..., accepted_event_id: _Optional[int] = ..., completed_event_id: _Optional[int] = ...) -> None: ...
