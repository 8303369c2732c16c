"""Prometheus metrics from a real server after a real workload.

A dev server started with ``--metrics-port`` runs workflows that succeed, fail, time
out, are terminated, cancelled and continued as new, activities, a schedule, and a
task on a queue nobody polls; then the scrape must show each family with the values
the workload implies, and every metric name the Grafana dashboard and the alert rules
use (deploy/) must be in it. The same names are checked against Temporal's own dev
server (``reference``): types agree for every family both expose. On PostgreSQL, two
``server start`` processes report the shards they own, acquire, give up and renew.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from temporalio import activity, workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowFailureError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from .harness import (
    CLUSTER_SECRET,
    PYTEMPORAL,
    REFERENCE,
    ServerProcess,
    free_port,
    running_worker,
    unique,
    wait_for,
)
from .test_postgres_server import pytemporal

REPO = Path(__file__).parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "pytemporal-dashboard.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
# pytemporal's own families (Temporal has no equivalent) and prometheus-client's.
PYTEMPORAL_ONLY = {"shard_lease_renewals", "shard_lease_renewal_failures"}
RUNTIME = {"process_cpu_seconds_total", "process_resident_memory_bytes"}

# -- scraping ---------------------------------------------------------------------------

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Scrape:
    types: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Scrape:
        scrape = cls()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                scrape.types[name] = kind
            elif line and not line.startswith("#"):
                match = _SAMPLE.fullmatch(line)
                assert match is not None, f"not a sample line: {line!r}"
                labels = dict(_LABEL.findall(match.group(3) or ""))
                scrape.samples.append((match.group(1), labels, float(match.group(4))))
        return scrape

    def total(self, name: str, **labels: str) -> float:
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        )

    def has_samples(self, family: str) -> bool:
        names = {family, f"{family}_bucket", f"{family}_count", f"{family}_sum"}
        return any(sample in names for sample, _, _ in self.samples)


async def scrape(port: int) -> Scrape:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape.parse(response.text)


# -- the names the dashboard and the alerts use -------------------------------------------

_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana variables removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\$\{?\w+\}?", "x", expr)  # $namespace, ${datasource}, $__rate_interval
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range durations
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers (the name before them stays)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = match.group(0)
        rest = expr[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in _PROMQL_WORDS or word == "x":
            continue  # a function, an aggregation or a keyword
        names.add(word)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("definition", "")
        if query.startswith("label_values("):
            exprs.append(query.removeprefix("label_values(").split(",")[0])
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def used_names() -> set[str]:
    return {n for expr in dashboard_exprs() + alert_exprs() for n in metric_names(expr)}


def families_used(types: dict[str, str]) -> set[str]:
    """The families (of the scrape with these types) the dashboard and alerts use;
    names with no family stay as they are, to be reported missing."""
    used = set()
    for name in used_names():
        base = name
        for suffix in ("_bucket", "_count", "_sum"):
            stripped = name.removesuffix(suffix)
            if name not in types and stripped != name and types.get(stripped) == "histogram":
                base = stripped
        used.add(base)
    return used


def _balanced(expr: str) -> bool:
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in closing and (not stack or stack.pop() != closing[ch]):
            return False
    return not stack


def test_every_expression_is_well_formed() -> None:
    """No promtool here: at least the brackets match, and each alert is complete."""
    exprs = dashboard_exprs() + alert_exprs()
    assert len(exprs) > 30
    assert all(_balanced(e) for e in exprs), [e for e in exprs if not _balanced(e)]
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule
            assert rule["labels"]["severity"] in ("warning", "critical")


def test_names_are_extracted_from_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (operation, le) (rate(service_latency_bucket"
        '{namespace=~"$namespace", operation!~"Poll.*"}[$__rate_interval])))'
        ' / ignoring(x) numshards_gauge > 2 * sum without (a) (up{job="x"})'
    )
    assert metric_names(expr) == {"service_latency_bucket", "numshards_gauge", "up"}
    used = used_names()
    assert {"service_requests", "persistence_errors", "task_latency_queue_bucket"} <= used
    assert {"no_poller_tasks", "approximate_backlog_count", "numshards_gauge"} <= used
    assert families_used({"task_latency_queue": "histogram"}) >= {"task_latency_queue"}


# -- the workload ------------------------------------------------------------------------


@activity.defn(name="metrics_echo")
async def metrics_echo(value: str) -> str:
    return value


@workflow.defn(name="MetricsOk", sandboxed=False)
class MetricsOk:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(0.05)  # a timer: the timer queue fires it
        return await workflow.execute_activity(
            metrics_echo, "ok", start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn(name="MetricsFail", sandboxed=False)
class MetricsFail:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("boom", non_retryable=True)


@workflow.defn(name="MetricsWait", sandboxed=False)
class MetricsWait:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(name="MetricsChain", sandboxed=False)
class MetricsChain:
    @workflow.run
    async def run(self, remaining: int) -> None:
        if remaining > 0:
            workflow.continue_as_new(remaining - 1)


WORKFLOWS = [MetricsOk, MetricsFail, MetricsWait, MetricsChain]


async def run_workload(client: Client, task_queue: str, unpolled_queue: str) -> None:
    # Without eager activities: the activity's start goes through matching (timed).
    async with running_worker(
        client,
        task_queue,
        workflows=WORKFLOWS,
        activities=[metrics_echo],
        disable_eager_activity_execution=True,
    ):
        assert (
            await client.execute_workflow(MetricsOk.run, id=unique("ok"), task_queue=task_queue)
            == "ok"
        )
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(MetricsFail.run, id=unique("fail"), task_queue=task_queue)
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(
                MetricsWait.run,
                id=unique("timeout"),
                task_queue=task_queue,
                execution_timeout=timedelta(seconds=1),
            )
        handle = await client.start_workflow(
            MetricsWait.run, id=unique("term"), task_queue=task_queue
        )
        await handle.terminate("metrics test")
        handle = await client.start_workflow(
            MetricsWait.run, id=unique("cancel"), task_queue=task_queue
        )
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        await client.execute_workflow(
            MetricsChain.run, 2, id=unique("chain"), task_queue=task_queue
        )
        # A schedule that fires every second until it has started a workflow.
        schedule = await client.create_schedule(
            unique("schedule"),
            Schedule(
                action=ScheduleActionStartWorkflow(
                    MetricsChain.run, 0, id=unique("scheduled"), task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            ),
        )

        async def scheduled_start() -> str | None:
            actions = (await schedule.describe()).info.recent_actions
            started = actions[0].action if actions else None
            return started.workflow_id if started is not None else None

        scheduled = await wait_for(scheduled_start, within=30, message="a scheduled start")
        await schedule.delete()
        await client.get_workflow_handle(scheduled).result()  # closed before the worker stops
    # Nobody polls this queue: its task waits in the backlog.
    await client.start_workflow(MetricsWait.run, id=unique("unpolled"), task_queue=unpolled_queue)
    # An expected error: counted by type, not as a failure of the server.
    with pytest.raises(RPCError):
        await client.get_workflow_handle(unique("absent")).describe()


# -- the dev server ------------------------------------------------------------------------


class MetricsServer(ServerProcess):
    """A dev server (ours or Temporal's) with its /metrics endpoint on a known port."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.metrics_port = free_port()

    def command(self) -> list[str]:
        return [*super().command(), "--metrics-port", str(self.metrics_port)]


@dataclass
class Workload:
    server: MetricsServer
    task_queue: str
    unpolled_queue: str
    scrape: Scrape


@asynccontextmanager
async def after_workload(kind: str) -> AsyncIterator[Workload]:
    server = MetricsServer(kind)
    client = await server.start()
    try:
        task_queue, unpolled = unique("metrics-tq"), unique("metrics-unpolled")
        await run_workload(client, task_queue, unpolled)
        yield Workload(server, task_queue, unpolled, await scrape(server.metrics_port))
    finally:
        server.terminate(timeout=10)


@pytest.fixture(scope="module")
async def ours() -> AsyncIterator[Workload]:
    async with after_workload(PYTEMPORAL) as workload:
        yield workload


def test_every_family_the_dashboard_and_alerts_use_is_scraped(ours: Workload) -> None:
    used = families_used(ours.scrape.types)
    missing = sorted(f for f in used if f not in ours.scrape.types and f not in RUNTIME)
    assert not missing, f"not in the scrape: {missing}"
    runtime = sorted(n for n in used & RUNTIME if not ours.scrape.has_samples(n))
    assert not runtime, f"no samples of {runtime}"
    # Families that only count failures may have no series after a healthy workload;
    # everything else must have samples.
    failures_only = {
        "service_errors",
        "service_errors_resource_exhausted",
        "schedule_action_errors",
        "persistence_error_with_type",
    }
    empty = sorted(f for f in used - failures_only if not ours.scrape.has_samples(f))
    assert not empty, f"no samples of {empty}"


def test_workflow_outcomes_are_counted_by_type(ours: Workload) -> None:
    s, tq = ours.scrape, ours.task_queue
    labels = {"namespace": "default", "taskqueue": tq}
    assert s.total("workflow_success", workflowType="MetricsOk", **labels) == 1
    assert s.total("workflow_failed", workflowType="MetricsFail", **labels) == 1
    assert s.total("workflow_timeout", workflowType="MetricsWait", **labels) == 1
    assert s.total("workflow_terminate", workflowType="MetricsWait", **labels) == 1
    assert s.total("workflow_cancel", workflowType="MetricsWait", **labels) == 1
    assert s.total("workflow_continued_as_new", workflowType="MetricsChain", **labels) == 2
    # The chain's last run and the scheduled run(s) complete.
    assert s.total("workflow_success", workflowType="MetricsChain", **labels) >= 2
    closed = 1 + 1 + 1 + 1 + 1 + 2 + 2
    assert s.total("history_count_count", namespace="default") >= closed
    # Every closed run has at least its started and closing events.
    assert s.total("history_count_sum", namespace="default") >= 2 * closed
    assert s.total("history_size_sum", namespace="default") > 0


def test_service_requests_latency_and_errors(ours: Workload) -> None:
    s = ours.scrape
    starts = s.total("service_requests", operation="StartWorkflowExecution", namespace="default")
    assert starts == 7  # the scheduler's start is not a public call
    assert s.total("service_latency_count", operation="StartWorkflowExecution") == starts
    assert s.total("service_latency_sum", operation="StartWorkflowExecution") > 0
    assert s.total("service_requests", operation="RespondActivityTaskCompleted") == 1
    not_found = s.total(
        "service_error_with_type",
        operation="DescribeWorkflowExecution",
        error_type="serviceerror_NotFound",
    )
    assert not_found == 1
    # NOT_FOUND is the caller's doing: not an unexpected error.
    assert s.total("service_errors", operation="DescribeWorkflowExecution") == 0


def test_persistence_task_queues_timers_and_schedules(ours: Workload) -> None:
    s, tq = ours.scrape, ours.task_queue
    assert s.total("persistence_requests", operation="UpdateWorkflowExecution") > 0
    assert s.total("persistence_latency_count", operation="UpdateWorkflowExecution") > 0
    assert s.total("persistence_errors") == 0
    started = s.total("task_schedule_to_start_latency_count", taskqueue=tq, task_type="Activity")
    assert started == 1
    assert s.total("task_schedule_to_start_latency_count", taskqueue=tq, task_type="Workflow") >= 9
    # The user timer, the execution timeout and the schedule's ticks fired.
    assert s.total("task_latency_queue_count") >= 3
    unpolled = {"taskqueue": ours.unpolled_queue, "task_type": "Workflow"}
    assert s.total("approximate_backlog_count", **unpolled) == 1
    assert s.total("no_poller_tasks", **unpolled) == 1
    assert s.total("pending_polls", **unpolled) == 0
    assert s.total("schedule_action_success", namespace="default") >= 1
    assert s.total("numshards_gauge") == 1  # the dev server owns its one shard
    assert s.total("process_resident_memory_bytes") > 0


async def test_health_is_served_beside_metrics(ours: Workload) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{ours.server.metrics_port}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "SERVING"


@pytest.mark.reference
async def test_shared_families_have_temporals_types(ours: Workload) -> None:
    """The families Temporal's dev server also exposes after the same workload have the
    same names and types there."""
    async with after_workload(REFERENCE) as reference:
        theirs = reference.scrape.types
        shared = sorted((families_used(theirs) - PYTEMPORAL_ONLY - RUNTIME) & set(theirs))
        assert len(shared) >= 20, shared
        differ = {
            f: (ours.scrape.types[f], theirs[f])
            for f in shared
            if ours.scrape.types[f] != theirs[f]
        }
        assert not differ
        # The workflow outcome counters carry Temporal's labels.
        ref_labels = next(lb for n, lb, _ in reference.scrape.samples if n == "workflow_success")
        our_labels = next(lb for n, lb, _ in ours.scrape.samples if n == "workflow_success")
        assert {"namespace", "taskqueue", "workflowType", "operation"} <= set(ref_labels)
        assert set(our_labels) <= set(ref_labels)


# -- several processes on PostgreSQL ----------------------------------------------------


class ClusterMetricsServer(ServerProcess):
    """`pytemporal server start` with its metrics port set from the environment."""

    def __init__(self, database_url: str) -> None:
        super().__init__(PYTEMPORAL)
        self.database_url = database_url
        self.metrics_port = free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "pytemporal", "server", "start"]

    def spawn(self) -> None:
        env = {
            "PYTEMPORAL_DATABASE_URL": self.database_url,
            "PYTEMPORAL_IP": "127.0.0.1",
            "PYTEMPORAL_PORT": str(self.port),
            "PYTEMPORAL_NUM_HISTORY_SHARDS": str(SHARDS),
            "PYTEMPORAL_LOG_LEVEL": "warn",
            "PYTEMPORAL_CLUSTER_SECRET": CLUSTER_SECRET,
            "PYTEMPORAL_METRICS_PORT": str(self.metrics_port),
        }
        os.environ.update(env)
        try:
            super().spawn()
        finally:
            for key in env:
                os.environ.pop(key, None)


SHARDS = 4


@pytest.fixture
async def cluster(postgres_url: str) -> AsyncIterator[list[ClusterMetricsServer]]:
    setup = pytemporal("schema", "setup", "--db", postgres_url)
    assert setup.returncode == 0, setup.stderr
    servers = [ClusterMetricsServer(postgres_url) for _ in range(2)]
    try:
        await asyncio.gather(*(s.start() for s in servers))
        yield servers
    finally:
        for s in servers:
            s.kill()


async def test_shard_ownership_on_postgres(cluster: list[ClusterMetricsServer]) -> None:
    first, second = cluster

    async def shares() -> list[Scrape] | None:
        scrapes = [await scrape(s.metrics_port) for s in cluster]
        owned = [s.total("numshards_gauge") for s in scrapes]
        # Each process holds its fair half, and has renewed its leases since.
        if owned == [SHARDS / 2] * 2 and all(s.total("shard_lease_renewals") > 0 for s in scrapes):
            return scrapes
        return None

    scrapes = await wait_for(shares, within=60, interval=0.2, message="shards split 2/2")
    for s in scrapes:
        assert s.total("membership_changed_count") >= 1
        assert s.total("persistence_requests", operation="UpdateShard") > 0
        assert s.total("shard_lease_renewal_failures") == 0
    # All shards were acquired at least once between the two (the first may have
    # taken all four and given two up when the second joined).
    acquired = sum(s.total("sharditem_created_count") for s in scrapes)
    removed = sum(s.total("sharditem_removed_count") for s in scrapes)
    assert acquired - removed == SHARDS

    # A clean stop hands the shards over: the survivor takes them all.
    before = scrapes[0].total("sharditem_created_count")
    second.terminate(timeout=10)

    async def took_over() -> Scrape | None:
        s = await scrape(first.metrics_port)
        return s if s.total("numshards_gauge") == SHARDS else None

    after = await wait_for(took_over, within=60, interval=0.2, message="survivor owns all")
    assert after.total("sharditem_created_count") >= before + SHARDS / 2
    assert after.total("membership_changed_count") > scrapes[0].total("membership_changed_count")
