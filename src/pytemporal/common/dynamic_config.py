"""Dynamic configuration: the Temporal server keys pytemporal understands.

Temporal's dev server takes ``--dynamic-config-value KEY=JSON`` flags; SDK test
harnesses use them to switch features on (updates, multi-operation, eager start) or to
shrink limits. This module names the keys we know, their types and defaults, and turns
the decoded JSON values into a typed, read-only :class:`DynamicConfig`::

    config, unknown = DynamicConfig.from_values({"limit.blobSize.error": 1024})
    config.get(BLOB_SIZE_LIMIT_ERROR)  # -> 1024 (an int, for mypy too)

Unknown keys are not an error: they are returned so the server can log and ignore
them, as Temporal does for keys a build does not use. A known key with a value of the
wrong type is an error (:class:`DynamicConfigError`), so a typo in a value fails loudly.

Values are global: Temporal's per-namespace / per-task-queue constraints are not
modelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

T = TypeVar("T")

KIB = 1024
MIB = 1024 * KIB


class DynamicConfigError(ValueError):
    """A known dynamic-config key was given a value of the wrong type."""


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError("expected a boolean")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError("expected an integer")


def _to_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


def _to_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _to_str_tuple(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration (``"1m30s"``, ``"250ms"``, ``"2d"``)."""
    if text in ("0", ""):
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return timedelta(seconds=seconds)


def _to_duration(value: object) -> timedelta:
    """A duration: a Go-style string, or a number of seconds (as Temporal accepts)."""
    if isinstance(value, str):
        return parse_duration(value)
    return timedelta(seconds=_to_float(value))


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One dynamic-config key: its name, default and how to convert a JSON value."""

    key: str
    default: T
    convert: Callable[[object], T]
    kind: str  # "bool", "int", "float", "duration" or "list", for documentation
    doc: str = ""

    def coerce(self, value: object) -> T:
        try:
            return self.convert(value)
        except (TypeError, ValueError) as exc:
            raise DynamicConfigError(f"dynamic config {self.key}: {exc}, got {value!r}") from exc


KNOWN_SETTINGS: dict[str, Setting[Any]] = {}


def _define(
    key: str, default: T, convert: Callable[[object], T], kind: str, doc: str
) -> Setting[T]:
    setting = Setting(key, default, convert, kind, doc)
    KNOWN_SETTINGS[key] = setting
    return setting


def _bool(key: str, default: bool, doc: str) -> Setting[bool]:
    return _define(key, default, _to_bool, "bool", doc)


def _int(key: str, default: int, doc: str) -> Setting[int]:
    return _define(key, default, _to_int, "int", doc)


def _float(key: str, default: float, doc: str) -> Setting[float]:
    return _define(key, default, _to_float, "float", doc)


def _duration(key: str, default: timedelta, doc: str) -> Setting[timedelta]:
    return _define(key, default, _to_duration, "duration", doc)


# --- Feature switches --------------------------------------------------------------
# Passed by temporalio.testing.WorkflowEnvironment.start_local on every launch.
ENABLE_SERVER_VERSION_CHECK = _bool(
    "frontend.enableServerVersionCheck", False, "Phone home for version info (never done)."
)
ENABLE_UPDATE_WORKFLOW_EXECUTION = _bool(
    "frontend.enableUpdateWorkflowExecution", True, "Allow workflow updates."
)
ENABLE_UPDATE_WORKFLOW_EXECUTION_ASYNC_ACCEPTED = _bool(
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted",
    True,
    "Allow updates that return once accepted (wait stage ACCEPTED).",
)
# Passed by the temporalio SDK's own test suite (tests/conftest.py).
ENABLE_EXECUTE_MULTI_OPERATION = _bool(
    "frontend.enableExecuteMultiOperation", True, "Allow ExecuteMultiOperation (update-with-start)."
)
# Temporal's default is false; pytemporal's is true, as the SDKs' test servers set it:
# a worker's shutdown otherwise waits out its pollers' long polls.
ENABLE_CANCEL_WORKER_POLLS_ON_SHUTDOWN = _bool(
    "frontend.enableCancelWorkerPollsOnShutdown",
    True,
    "ShutdownWorker answers the worker's outstanding polls at once (by worker_instance_key).",
)
ENABLE_EAGER_WORKFLOW_START = _bool(
    "system.enableEagerWorkflowStart", True, "Allow eager workflow start."
)
MAX_CONCURRENT_BATCH_OPERATIONS = _int(
    "frontend.MaxConcurrentBatchOperationPerNamespace",
    1,
    "Batch operations that may run at once in a namespace.",
)
ENABLE_ACTIVITY_EAGER_EXECUTION = _bool(
    "system.enableActivityEagerExecution", True, "Allow eager activity dispatch."
)
FORCE_SEARCH_ATTRIBUTES_CACHE_REFRESH_ON_READ = _bool(
    "system.forceSearchAttributesCacheRefreshOnRead",
    False,
    "Read search-attribute definitions fresh on every use.",
)
WORKER_VERSIONING_DATA_APIS = _bool(
    "frontend.workerVersioningDataAPIs", False, "Allow the build-id versioning data APIs."
)
WORKER_VERSIONING_WORKFLOW_APIS = _bool(
    "frontend.workerVersioningWorkflowAPIs", False, "Allow build-id versioned workflows."
)
ENABLE_DEPLOYMENT_VERSIONS = _bool(
    "system.enableDeploymentVersions", False, "Allow worker deployment versions."
)
ACTIVITY_APIS_ENABLED = _bool(
    "frontend.activityAPIsEnabled", False, "Allow the standalone activity APIs (pause, reset)."
)
RECORD_CANCEL_REQUEST_COMPLETION_EVENTS = _bool(
    "component.nexusoperations.recordCancelRequestCompletionEvents",
    False,
    "Record Nexus cancel-request completion events.",
)

# --- Limits ------------------------------------------------------------------------
BLOB_SIZE_LIMIT_ERROR = _int("limit.blobSize.error", 2 * MIB, "Largest payload blob, bytes.")
BLOB_SIZE_LIMIT_WARN = _int("limit.blobSize.warn", 512 * KIB, "Blob size that logs a warning.")
MEMO_SIZE_LIMIT_ERROR = _int("limit.memoSize.error", 2 * MIB, "Largest memo, bytes.")
HISTORY_COUNT_LIMIT_ERROR = _int(
    "limit.historyCount.error", 51_200, "Events after which a workflow is terminated."
)
HISTORY_SIZE_LIMIT_ERROR = _int(
    "limit.historySize.error", 50 * MIB, "History bytes after which a workflow is terminated."
)
HISTORY_COUNT_LIMIT_WARN = _int(
    "limit.historyCount.warn", 10_240, "Events after which a large history is logged."
)
HISTORY_SIZE_LIMIT_WARN = _int(
    "limit.historySize.warn", 10 * MIB, "History bytes after which a large history is logged."
)
HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW = _int(
    "limit.historyCount.suggestContinueAsNew",
    4_096,
    "Events after which workflow tasks suggest continue-as-new.",
)
HISTORY_CACHE_MAX_SIZE = _int(
    "history.hostLevelCacheMaxSize",
    4_096,
    "Runs whose mutable state the history role keeps in memory (least recently used "
    "beyond it are evicted and loaded again on demand).",
)
HISTORY_CACHE_MAX_SIZE_BYTES = _int(
    "history.hostLevelCacheMaxSizeBytes",
    64 * 1024 * 1024,
    "Bytes of encoded mutable state the history role keeps in memory.",
)
HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW = _int(
    "limit.historySize.suggestContinueAsNew",
    4 * MIB,
    "History bytes after which workflow tasks suggest continue-as-new.",
)
MAX_ID_LENGTH = _int("limit.maxIDLength", 1_000, "Longest workflow/activity/task-queue id.")
NUM_PENDING_ACTIVITIES_LIMIT = _int(
    "limit.numPendingActivities.error", 2_000, "Most activities pending in one workflow."
)
NUM_PENDING_CHILD_EXECUTIONS_LIMIT = _int(
    "limit.numPendingChildExecutions.error", 2_000, "Most children pending in one workflow."
)
NUM_PENDING_SIGNALS_LIMIT = _int(
    "limit.numPendingSignals.error", 2_000, "Most external signals pending in one workflow."
)
NUM_PENDING_CANCEL_REQUESTS_LIMIT = _int(
    "limit.numPendingCancelRequests.error",
    2_000,
    "Most external cancel requests pending in one workflow.",
)
MAX_BUFFERED_QUERY_COUNT = _int(
    "history.maxBufferedQueryCount", 1, "Queries buffered while a workflow task runs."
)
VISIBILITY_MAX_PAGE_SIZE = _int(
    "frontend.visibilityMaxPageSize", 1_000, "Largest ListWorkflowExecutions page."
)

MAX_RECEIVE_MESSAGE_SIZE = _int(
    "frontend.maxReceiveMessageSize",
    4 * MIB,
    "Largest gRPC request accepted, bytes (pytemporal's key: Temporal's frontend has gRPC's "
    "fixed 4 MiB). A larger one is refused with RESOURCE_EXHAUSTED from its length prefix, "
    "before it is read.",
)

# --- Rate limits (frontend/ratelimit.py), Temporal's keys and defaults ------------
FRONTEND_RPS = _int(
    "frontend.rps", 2_400, "Requests per second this frontend accepts, all namespaces."
)
FRONTEND_RPS_NAMESPACE_REPLICATION_INDUCING = _int(
    "frontend.rps.namespaceReplicationInducingAPIs",
    20,
    "Requests per second, all namespaces, for RegisterNamespace and UpdateNamespace.",
)
FRONTEND_NAMESPACE_RPS = _int(
    "frontend.namespaceRPS", 2_400, "Requests per second per namespace (non-visibility APIs)."
)
FRONTEND_NAMESPACE_BURST_RATIO = _float(
    "frontend.namespaceBurstRatio", 2.0, "Namespace burst as a ratio of frontend.namespaceRPS."
)
FRONTEND_NAMESPACE_VISIBILITY_RPS = _int(
    "frontend.namespaceRPS.visibility",
    10,
    "Visibility (List/Scan/Count) requests per second per namespace; start-dev uses 100, "
    "as Temporal's dev server does.",
)
FRONTEND_NAMESPACE_VISIBILITY_BURST_RATIO = _float(
    "frontend.namespaceBurstRatio.visibility",
    1.0,
    "Visibility burst as a ratio of frontend.namespaceRPS.visibility.",
)
FRONTEND_NAMESPACE_RPS_NAMESPACE_REPLICATION_INDUCING = _int(
    "frontend.namespaceRPS.namespaceReplicationInducingAPIs",
    1,
    "Per-namespace requests per second for UpdateNamespace.",
)
FRONTEND_NAMESPACE_BURST_RATIO_NAMESPACE_REPLICATION_INDUCING = _float(
    "frontend.namespaceBurstRatio.namespaceReplicationInducingAPIs",
    10.0,
    "Burst ratio for frontend.namespaceRPS.namespaceReplicationInducingAPIs.",
)
OPERATOR_RPS_RATIO = _float(
    "system.operatorRPSRatio",
    0.2,
    "Share of each rate limit for priority-0 (system) APIs such as DescribeNamespace.",
)
FRONTEND_NAMESPACE_COUNT = _int(
    "frontend.namespaceCount",
    1_200,
    "Concurrent long-running requests (polls, queries, updates, history long polls) per "
    "namespace and per API.",
)
FRONTEND_HTTP_ALLOWED_HOSTS: Setting[tuple[str, ...]] = _define(
    "frontend.httpAllowedHosts",
    ("*",),
    _to_str_tuple,
    "list",
    "HTTP API requests whose Host header (with its port) matches none of these patterns"
    " (`*`: any substring) are refused with 403.",
)

# --- Timing ------------------------------------------------------------------------
LONG_POLL_EXPIRATION_INTERVAL = _duration(
    "matching.longPollExpirationInterval",
    timedelta(minutes=1),
    "How long a task-queue poll waits before returning empty.",
)
KEEP_ALIVE_MAX_CONNECTION_AGE = _duration(
    "frontend.keepAliveMaxConnectionAge",
    timedelta(minutes=5),
    "gRPC connections are closed (gracefully) after this age.",
)

SHUTDOWN_DRAIN_DURATION = _duration(
    "frontend.shutdownDrainDuration",
    timedelta(0),
    "How long a stop waits for the calls in flight while health checks answer "
    "NOT_SERVING (0: the server's shutdown grace, 1s for the dev server).",
)


@dataclass(frozen=True)
class DynamicConfig:
    """Typed, read-only view of the dynamic-config values given at start."""

    values: Mapping[str, Any]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> tuple[DynamicConfig, list[str]]:
        """Validate ``values`` (decoded JSON); return the config and the unknown keys.

        Raises :class:`DynamicConfigError` if a known key has a value of the wrong type.
        """
        known: dict[str, Any] = {}
        unknown: list[str] = []
        for key, raw in values.items():
            setting = KNOWN_SETTINGS.get(key)
            if setting is None:
                unknown.append(key)
            else:
                known[key] = setting.coerce(raw)
        return cls(known), unknown

    def get(self, setting: Setting[T]) -> T:
        """The configured value of ``setting``, or its default."""
        if setting.key in self.values:
            value: T = self.values[setting.key]
            return value
        return setting.default
