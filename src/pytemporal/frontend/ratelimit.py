"""Frontend rate limits, as Temporal's frontend applies them.

Three limits, checked in Temporal's order before a `WorkflowService` call reaches its
handler (`common/rpc/interceptor/concurrent_request_limit.go`, `namespace_rate_limit.go`,
`rate_limit.go`; `service/frontend/configs/quotas.go`):

1. **Concurrent long-running requests** per namespace and per API
   (`frontend.namespaceCount`): polls, queries, updates, history long polls.
   Excess: CONCURRENT_LIMIT / NAMESPACE, "namespace concurrent poller limit exceeded".
2. **Namespace requests per second** (`frontend.namespaceRPS`, burst
   `frontend.namespaceBurstRatio`; visibility APIs have their own
   `frontend.namespaceRPS.visibility`). Excess: RPS_LIMIT / NAMESPACE,
   "namespace rate limit exceeded".
3. **Instance requests per second**, all namespaces (`frontend.rps`, burst 2x).
   Excess: RPS_LIMIT / SYSTEM, "service rate limit exceeded".

Each rate is a set of token buckets by API priority (0 system, 1 starts/signals and
task completions, ... 4 polls, 5 history long polls): a call is decided by its own
priority's bucket and also draws from every lower priority's, so under load polls are
refused before starts and completions. Methods Temporal does not list (OperatorService,
the internal services) are not limited.

Everything here but :class:`RateLimitInterceptor` is pure and takes its time from an
injectable clock, so it is unit-tested without waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from temporalio.api.enums.v1 import ResourceExhaustedCause, ResourceExhaustedScope

from pytemporal.common import dynamic_config as dc
from pytemporal.common.errors import InvalidArgument, ResourceExhausted
from pytemporal.common.interceptors import UnaryBehavior, UnaryInterceptor
from pytemporal.frontend.errors import abort

WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
PUBLIC_APIS = "/temporal.api."
# Temporal's name for GetWorkflowExecutionHistory with wait_new_event, for the
# namespace limiter.
POLL_HISTORY = "PollWorkflowExecutionHistory"

EXECUTION_PRIORITY: dict[str, int] = {
    **dict.fromkeys(
        [
            "GetClusterInfo",
            "GetSystemInfo",
            "GetSearchAttributes",
            "DescribeNamespace",
            "ListNamespaces",
            "DeprecateNamespace",
        ],
        0,
    ),
    **dict.fromkeys(
        [
            "SignalWorkflowExecution",
            "SignalWithStartWorkflowExecution",
            "StartWorkflowExecution",
            "UpdateWorkflowExecution",
            "ExecuteMultiOperation",
            "CreateSchedule",
            "StartBatchOperation",
            "RecordActivityTaskHeartbeat",
            "RecordActivityTaskHeartbeatById",
            "RespondActivityTaskCompleted",
            "RespondActivityTaskCompletedById",
            "RespondWorkflowTaskCompleted",
            "RespondQueryTaskCompleted",
            "RespondNexusTaskCompleted",
        ],
        1,
    ),
    **dict.fromkeys(
        [
            "RequestCancelWorkflowExecution",
            "TerminateWorkflowExecution",
            "ResetWorkflowExecution",
            "DeleteWorkflowExecution",
            "GetWorkflowExecutionHistory",
            "UpdateSchedule",
            "PatchSchedule",
            "DeleteSchedule",
            "StopBatchOperation",
            "UpdateActivityOptions",
            "PauseActivity",
            "UnpauseActivity",
            "ResetActivity",
            "UpdateWorkflowExecutionOptions",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "DescribeWorkflowExecution",
            "DescribeTaskQueue",
            "GetWorkerBuildIdCompatibility",
            "GetWorkerVersioningRules",
            "ListTaskQueuePartitions",
            "QueryWorkflow",
            "DescribeSchedule",
            "ListScheduleMatchingTimes",
            "DescribeBatchOperation",
            "RespondActivityTaskCanceled",
            "RespondActivityTaskCanceledById",
            "RespondActivityTaskFailed",
            "RespondActivityTaskFailedById",
            "RespondWorkflowTaskFailed",
            "RespondNexusTaskFailed",
        ],
        3,
    ),
    **dict.fromkeys(
        [
            "PollWorkflowTaskQueue",
            "PollActivityTaskQueue",
            "PollWorkflowExecutionUpdate",
            "PollNexusTaskQueue",
            "ResetStickyTaskQueue",
            "ShutdownWorker",
            "GetWorkflowExecutionHistoryReverse",
            "RecordWorkerHeartbeat",
        ],
        4,
    ),
    POLL_HISTORY: 5,
}
EXECUTION_PRIORITIES = [0, 1, 2, 3, 4, 5]

VISIBILITY_PRIORITY: dict[str, int] = dict.fromkeys(
    [
        "CountWorkflowExecutions",
        "ScanWorkflowExecutions",
        "ListOpenWorkflowExecutions",
        "ListClosedWorkflowExecutions",
        "ListWorkflowExecutions",
        "ListArchivedWorkflowExecutions",
        "GetWorkerTaskReachability",
        "ListSchedules",
        "ListBatchOperations",
    ],
    1,
)
VISIBILITY_PRIORITIES = [0, 1]

REPLICATION_INDUCING_PRIORITY: dict[str, int] = {
    "RegisterNamespace": 1,
    "UpdateNamespace": 1,
    "UpdateWorkerBuildIdCompatibility": 2,
    "UpdateWorkerVersioningRules": 2,
}
REPLICATION_INDUCING_PRIORITIES = [0, 1, 2]

# Calls that wait (for a task, a workflow task, an update stage): counted while in
# flight. GetWorkflowExecutionHistory only when it waits for a new event.
LONG_RUNNING = frozenset(
    [
        "PollActivityTaskQueue",
        "PollWorkflowTaskQueue",
        "PollWorkflowExecutionUpdate",
        "PollNexusTaskQueue",
        "QueryWorkflow",
        "UpdateWorkflowExecution",
        "GetWorkflowExecutionHistory",
        "ExecuteMultiOperation",
    ]
)

SERVICE_RATE_LIMIT = "service rate limit exceeded"
NAMESPACE_RATE_LIMIT = "namespace rate limit exceeded"
NAMESPACE_CONCURRENT_LIMIT = "namespace concurrent poller limit exceeded"


def service_busy() -> ResourceExhausted:
    return ResourceExhausted(
        SERVICE_RATE_LIMIT,
        cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT,
        scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_SYSTEM,
    )


def namespace_busy() -> ResourceExhausted:
    return ResourceExhausted(
        NAMESPACE_RATE_LIMIT,
        cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT,
        scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
    )


def namespace_concurrency_busy() -> ResourceExhausted:
    return ResourceExhausted(
        NAMESPACE_CONCURRENT_LIMIT,
        cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT,
        scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
    )


def instance_burst(rate: float, ratio: float = 2.0) -> int:
    """Temporal's default incoming burst: rate x ratio, at least 1 when both are > 0."""
    rate, ratio = max(rate, 0.0), max(ratio, 0.0)
    burst = int(rate * ratio)
    return 1 if burst == 0 and rate > 0 and ratio > 0 else burst


def namespace_burst(rate: float, ratio: float) -> int:
    """Temporal's namespace burst: ceil(rate x ratio), at least 1."""
    return max(1, math.ceil(rate * ratio))


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; starts full (golang.org/x/time/rate)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def _advance(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
            self.last = now

    def allow(self, now: float, n: int = 1) -> bool:
        self._advance(now)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def take(self, now: float, n: int = 1) -> None:
        """Consume even into debt, as a reservation does: later calls wait it off."""
        self._advance(now)
        self.tokens -= n


class PriorityLimiter:
    """One bucket per priority (0 highest); a call draws from its own and every lower one.

    Priority 0 (Temporal's operator priority, where the system APIs sit) refills at
    `operator_ratio` of the rate, with the same burst.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        priorities: list[int],
        now: float,
        operator_ratio: float = 1.0,
    ) -> None:
        ordered = sorted(priorities)
        self.index = {p: i for i, p in enumerate(ordered)}
        self.buckets = [
            TokenBucket(rate * operator_ratio if p == 0 else rate, burst, now) for p in ordered
        ]

    def allow(self, now: float, priority: int) -> bool:
        i = self.index[priority]
        if not self.buckets[i].allow(now):
            return False
        for lower in self.buckets[i + 1 :]:
            lower.take(now)
        return True


@dataclass(frozen=True)
class RateLimitSettings:
    """Temporal's defaults; `from_config` reads the dynamic config."""

    rps: int = 2_400
    rps_replication_inducing: int = 20
    namespace_rps: int = 2_400
    namespace_burst_ratio: float = 2.0
    visibility_rps: int = 10
    visibility_burst_ratio: float = 1.0
    namespace_replication_inducing_rps: int = 1
    namespace_replication_inducing_burst_ratio: float = 10.0
    namespace_count: int = 1_200
    operator_rps_ratio: float = 0.2

    @classmethod
    def from_config(cls, config: dc.DynamicConfig, *, dev_server: bool) -> RateLimitSettings:
        visibility = config.get(dc.FRONTEND_NAMESPACE_VISIBILITY_RPS)
        if dev_server and dc.FRONTEND_NAMESPACE_VISIBILITY_RPS.key not in config.values:
            visibility = 100  # Temporal's dev server raises it for the same reason
        return cls(
            rps=config.get(dc.FRONTEND_RPS),
            rps_replication_inducing=config.get(dc.FRONTEND_RPS_NAMESPACE_REPLICATION_INDUCING),
            namespace_rps=config.get(dc.FRONTEND_NAMESPACE_RPS),
            namespace_burst_ratio=config.get(dc.FRONTEND_NAMESPACE_BURST_RATIO),
            visibility_rps=visibility,
            visibility_burst_ratio=config.get(dc.FRONTEND_NAMESPACE_VISIBILITY_BURST_RATIO),
            namespace_replication_inducing_rps=config.get(
                dc.FRONTEND_NAMESPACE_RPS_NAMESPACE_REPLICATION_INDUCING
            ),
            namespace_replication_inducing_burst_ratio=config.get(
                dc.FRONTEND_NAMESPACE_BURST_RATIO_NAMESPACE_REPLICATION_INDUCING
            ),
            namespace_count=config.get(dc.FRONTEND_NAMESPACE_COUNT),
            operator_rps_ratio=config.get(dc.OPERATOR_RPS_RATIO),
        )


_GROUPS = (
    (EXECUTION_PRIORITY, EXECUTION_PRIORITIES),
    (VISIBILITY_PRIORITY, VISIBILITY_PRIORITIES),
    (REPLICATION_INDUCING_PRIORITY, REPLICATION_INDUCING_PRIORITIES),
)


def _group(method: str) -> int | None:
    for i, (priorities, _) in enumerate(_GROUPS):
        if method in priorities:
            return i
    return None


def _noop() -> None:
    pass


class FrontendLimiter:
    """The three limits of one frontend process. `acquire` is all a caller needs."""

    def __init__(
        self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        now = clock()
        s = settings
        instance_rates = (s.rps, s.rps, s.rps_replication_inducing)
        self._instance = [
            PriorityLimiter(rate, instance_burst(rate), prios, now, s.operator_rps_ratio)
            for rate, (_, prios) in zip(instance_rates, _GROUPS, strict=True)
        ]
        self._namespace_rates = (
            (s.namespace_rps, s.namespace_burst_ratio),
            (s.visibility_rps, s.visibility_burst_ratio),
            (s.namespace_replication_inducing_rps, s.namespace_replication_inducing_burst_ratio),
        )
        self._namespaces: dict[tuple[str, int], PriorityLimiter] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    @staticmethod
    def limits(method: str) -> bool:
        return _group(method) is not None

    def acquire(
        self, method: str, namespace: str | None, *, waits_for_event: bool = False
    ) -> Callable[[], None]:
        """Admit one call or raise :class:`ResourceExhausted`; call the result when it ends.

        `namespace` is None when the request names no known namespace: only the instance
        limit applies (the handler answers NOT_FOUND), so made-up names cannot grow the
        per-namespace state. `waits_for_event` is GetWorkflowExecutionHistory's
        wait_new_event.
        """
        group = _group(method)
        if group is None:
            return _noop
        release = self._enter(method, namespace, waits_for_event)
        try:
            now = self.clock()
            if namespace is not None:
                ns_method = POLL_HISTORY if waits_for_event else method
                ns_group = _group(ns_method)
                assert ns_group is not None
                if not self._namespace_limiter(namespace, ns_group).allow(
                    now, _GROUPS[ns_group][0][ns_method]
                ):
                    raise namespace_busy()
            if not self._instance[group].allow(now, _GROUPS[group][0][method]):
                raise service_busy()
        except ResourceExhausted:
            release()
            raise
        return release

    def _namespace_limiter(self, namespace: str, group: int) -> PriorityLimiter:
        limiter = self._namespaces.get((namespace, group))
        if limiter is None:
            rate, ratio = self._namespace_rates[group]
            limiter = PriorityLimiter(
                rate,
                namespace_burst(rate, ratio),
                _GROUPS[group][1],
                self.clock(),
                self.settings.operator_rps_ratio,
            )
            self._namespaces[(namespace, group)] = limiter
        return limiter

    def _enter(self, method: str, namespace: str | None, waits: bool) -> Callable[[], None]:
        if namespace is None or method not in LONG_RUNNING:
            return _noop
        if method == "GetWorkflowExecutionHistory" and not waits:
            return _noop
        key = (namespace, method)
        count = self._in_flight.get(key, 0) + 1
        self._in_flight[key] = count
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]

        if count > self.settings.namespace_count:
            release()
            raise namespace_concurrency_busy()
        return release

    def in_flight(self, namespace: str, method: str) -> int:
        return self._in_flight.get((namespace, method), 0)


class RateLimitInterceptor(UnaryInterceptor):
    """Applies a :class:`FrontendLimiter` to the public WorkflowService.

    On the public server only, outside `RoutingInterceptor`: a call is counted on the
    port where it arrives, and the calls processes forward to each other (internode
    listener) are not counted again.

    First, as Temporal's namespace validator interceptor does for every public API, a
    namespace name longer than `limit.maxIDLength` is INVALID_ARGUMENT "Namespace
    length exceeds limit.": otherwise a name of megabytes would be echoed back in a
    NOT_FOUND message, past what a client accepts in a trailer.
    """

    prefixes = (PUBLIC_APIS,)

    def __init__(
        self,
        limiter: FrontendLimiter,
        namespace_exists: Callable[[str], bool],
        max_namespace_length: int = 1_000,
    ) -> None:
        self.limiter = limiter
        self.namespace_exists = namespace_exists
        self.max_namespace_length = max_namespace_length

    def wrap(self, path: str, inner: UnaryBehavior) -> UnaryBehavior:
        method = path.rsplit("/", 1)[-1]
        if not path.startswith(WORKFLOW_SERVICE) or not self.limiter.limits(method):
            method = ""  # only the namespace length check
        limiter, exists, longest = self.limiter, self.namespace_exists, self.max_namespace_length

        async def limited(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            name = getattr(request, "namespace", "")
            if not isinstance(name, str):
                name = ""
            try:
                if len(name) > longest:
                    raise InvalidArgument("Namespace length exceeds limit.")
                release = (
                    limiter.acquire(
                        method,
                        name if name and exists(name) else None,
                        waits_for_event=bool(getattr(request, "wait_new_event", False)),
                    )
                    if method
                    else _noop
                )
            except (InvalidArgument, ResourceExhausted) as err:
                await abort(context, err)
                raise
            try:
                return await inner(request, context)
            finally:
                release()

        return limited
