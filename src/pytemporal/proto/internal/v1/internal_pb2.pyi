from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_KIND_UNSPECIFIED: _ClassVar[TaskKind]
    TASK_KIND_WORKFLOW: _ClassVar[TaskKind]
    TASK_KIND_ACTIVITY: _ClassVar[TaskKind]
    TASK_KIND_QUERY: _ClassVar[TaskKind]

class ErrorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_KIND_UNSPECIFIED: _ClassVar[ErrorKind]
    ERROR_KIND_INVALID_ARGUMENT: _ClassVar[ErrorKind]
    ERROR_KIND_NOT_FOUND: _ClassVar[ErrorKind]
    ERROR_KIND_NAMESPACE_NOT_FOUND: _ClassVar[ErrorKind]
    ERROR_KIND_WORKFLOW_ALREADY_STARTED: _ClassVar[ErrorKind]
    ERROR_KIND_NAMESPACE_ALREADY_EXISTS: _ClassVar[ErrorKind]
    ERROR_KIND_QUERY_FAILED: _ClassVar[ErrorKind]
    ERROR_KIND_WORKFLOW_NOT_READY: _ClassVar[ErrorKind]
    ERROR_KIND_RESOURCE_EXHAUSTED: _ClassVar[ErrorKind]
    ERROR_KIND_FAILED_PRECONDITION: _ClassVar[ErrorKind]
    ERROR_KIND_DEADLINE_EXCEEDED: _ClassVar[ErrorKind]
    ERROR_KIND_UNAVAILABLE: _ClassVar[ErrorKind]
    ERROR_KIND_PERMISSION_DENIED: _ClassVar[ErrorKind]
    ERROR_KIND_UNIMPLEMENTED: _ClassVar[ErrorKind]
    ERROR_KIND_PERSISTENCE: _ClassVar[ErrorKind]
    ERROR_KIND_SHARD_OWNERSHIP_LOST: _ClassVar[ErrorKind]
    ERROR_KIND_CONDITION_FAILED: _ClassVar[ErrorKind]
TASK_KIND_UNSPECIFIED: TaskKind
TASK_KIND_WORKFLOW: TaskKind
TASK_KIND_ACTIVITY: TaskKind
TASK_KIND_QUERY: TaskKind
ERROR_KIND_UNSPECIFIED: ErrorKind
ERROR_KIND_INVALID_ARGUMENT: ErrorKind
ERROR_KIND_NOT_FOUND: ErrorKind
ERROR_KIND_NAMESPACE_NOT_FOUND: ErrorKind
ERROR_KIND_WORKFLOW_ALREADY_STARTED: ErrorKind
ERROR_KIND_NAMESPACE_ALREADY_EXISTS: ErrorKind
ERROR_KIND_QUERY_FAILED: ErrorKind
ERROR_KIND_WORKFLOW_NOT_READY: ErrorKind
ERROR_KIND_RESOURCE_EXHAUSTED: ErrorKind
ERROR_KIND_FAILED_PRECONDITION: ErrorKind
ERROR_KIND_DEADLINE_EXCEEDED: ErrorKind
ERROR_KIND_UNAVAILABLE: ErrorKind
ERROR_KIND_PERMISSION_DENIED: ErrorKind
ERROR_KIND_UNIMPLEMENTED: ErrorKind
ERROR_KIND_PERSISTENCE: ErrorKind
ERROR_KIND_SHARD_OWNERSHIP_LOST: ErrorKind
ERROR_KIND_CONDITION_FAILED: ErrorKind

class WorkflowKey(_message.Message):
    __slots__ = ("namespace_id", "workflow_id", "run_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    workflow_id: str
    run_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("workflow_id", "run_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("kind", "namespace_id", "workflow_id", "run_id", "scheduled_event_id", "attempt", "normal_queue", "query_id", "request_id", "pinned", "ramping")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    NORMAL_QUEUE_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    RAMPING_FIELD_NUMBER: _ClassVar[int]
    kind: TaskKind
    namespace_id: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    attempt: int
    normal_queue: str
    query_id: str
    request_id: str
    pinned: str
    ramping: bool
    def __init__(self, kind: _Optional[_Union[TaskKind, str]] = ..., namespace_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., scheduled_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., normal_queue: _Optional[str] = ..., query_id: _Optional[str] = ..., request_id: _Optional[str] = ..., pinned: _Optional[str] = ..., ramping: _Optional[bool] = ...) -> None: ...

class AddTaskRequest(_message.Message):
    __slots__ = ("task", "queue", "sticky", "hops")
    TASK_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    STICKY_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    task: TaskRef
    queue: str
    sticky: bool
    hops: int
    def __init__(self, task: _Optional[_Union[TaskRef, _Mapping]] = ..., queue: _Optional[str] = ..., sticky: _Optional[bool] = ..., hops: _Optional[int] = ...) -> None: ...

class AddTaskResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RecordWorkflowTaskStartedRequest(_message.Message):
    __slots__ = ("task", "poll_request")
    TASK_FIELD_NUMBER: _ClassVar[int]
    POLL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    task: TaskRef
    poll_request: bytes
    def __init__(self, task: _Optional[_Union[TaskRef, _Mapping]] = ..., poll_request: _Optional[bytes] = ...) -> None: ...

class RecordWorkflowTaskStartedResponse(_message.Message):
    __slots__ = ("poll_response",)
    POLL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    poll_response: bytes
    def __init__(self, poll_response: _Optional[bytes] = ...) -> None: ...

class RecordActivityTaskStartedRequest(_message.Message):
    __slots__ = ("task", "poll_request")
    TASK_FIELD_NUMBER: _ClassVar[int]
    POLL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    task: TaskRef
    poll_request: bytes
    def __init__(self, task: _Optional[_Union[TaskRef, _Mapping]] = ..., poll_request: _Optional[bytes] = ...) -> None: ...

class RecordActivityTaskStartedResponse(_message.Message):
    __slots__ = ("poll_response",)
    POLL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    poll_response: bytes
    def __init__(self, poll_response: _Optional[bytes] = ...) -> None: ...

class ParentRef(_message.Message):
    __slots__ = ("namespace", "namespace_id", "execution", "initiated_event_id", "root")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    namespace_id: str
    execution: Execution
    initiated_event_id: int
    root: Execution
    def __init__(self, namespace: _Optional[str] = ..., namespace_id: _Optional[str] = ..., execution: _Optional[_Union[Execution, _Mapping]] = ..., initiated_event_id: _Optional[int] = ..., root: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class StartChildRequest(_message.Message):
    __slots__ = ("namespace", "start_request", "parent")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    START_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    start_request: bytes
    parent: ParentRef
    def __init__(self, namespace: _Optional[str] = ..., start_request: _Optional[bytes] = ..., parent: _Optional[_Union[ParentRef, _Mapping]] = ...) -> None: ...

class StartChildResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class NotifyParentRequest(_message.Message):
    __slots__ = ("parent", "initiated_event_id", "first_execution_run_id", "close_event")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_EVENT_FIELD_NUMBER: _ClassVar[int]
    parent: WorkflowKey
    initiated_event_id: int
    first_execution_run_id: str
    close_event: bytes
    def __init__(self, parent: _Optional[_Union[WorkflowKey, _Mapping]] = ..., initiated_event_id: _Optional[int] = ..., first_execution_run_id: _Optional[str] = ..., close_event: _Optional[bytes] = ...) -> None: ...

class NotifyParentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CloseChildRequest(_message.Message):
    __slots__ = ("child", "policy", "parent")
    CHILD_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    child: WorkflowKey
    policy: int
    parent: Execution
    def __init__(self, child: _Optional[_Union[WorkflowKey, _Mapping]] = ..., policy: _Optional[int] = ..., parent: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class CloseChildResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignalExternalRequest(_message.Message):
    __slots__ = ("target", "source", "request_id", "attributes")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    target: WorkflowKey
    source: Execution
    request_id: str
    attributes: bytes
    def __init__(self, target: _Optional[_Union[WorkflowKey, _Mapping]] = ..., source: _Optional[_Union[Execution, _Mapping]] = ..., request_id: _Optional[str] = ..., attributes: _Optional[bytes] = ...) -> None: ...

class SignalExternalResponse(_message.Message):
    __slots__ = ("delivered",)
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    def __init__(self, delivered: _Optional[bool] = ...) -> None: ...

class CancelExternalRequest(_message.Message):
    __slots__ = ("target", "source", "initiated_event_id", "reason")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    target: WorkflowKey
    source: Execution
    initiated_event_id: int
    reason: str
    def __init__(self, target: _Optional[_Union[WorkflowKey, _Mapping]] = ..., source: _Optional[_Union[Execution, _Mapping]] = ..., initiated_event_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelExternalResponse(_message.Message):
    __slots__ = ("delivered",)
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    def __init__(self, delivered: _Optional[bool] = ...) -> None: ...

class WorkflowAlreadyStartedDetail(_message.Message):
    __slots__ = ("start_request_id", "run_id", "first_execution_run_id")
    START_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    start_request_id: str
    run_id: str
    first_execution_run_id: str
    def __init__(self, start_request_id: _Optional[str] = ..., run_id: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ...) -> None: ...

class ResourceExhaustedDetail(_message.Message):
    __slots__ = ("cause", "scope")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    cause: int
    scope: int
    def __init__(self, cause: _Optional[int] = ..., scope: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("kind", "message", "workflow_already_started", "resource_exhausted", "namespace", "query_failure")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ALREADY_STARTED_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_EXHAUSTED_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FAILURE_FIELD_NUMBER: _ClassVar[int]
    kind: ErrorKind
    message: str
    workflow_already_started: WorkflowAlreadyStartedDetail
    resource_exhausted: ResourceExhaustedDetail
    namespace: str
    query_failure: bytes
    def __init__(self, kind: _Optional[_Union[ErrorKind, str]] = ..., message: _Optional[str] = ..., workflow_already_started: _Optional[_Union[WorkflowAlreadyStartedDetail, _Mapping]] = ..., resource_exhausted: _Optional[_Union[ResourceExhaustedDetail, _Mapping]] = ..., namespace: _Optional[str] = ..., query_failure: _Optional[bytes] = ...) -> None: ...
