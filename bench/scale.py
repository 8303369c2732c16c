"""Scale benchmark: N open workflows on a file database, SIGKILL, restart.

For each selected server and N, one run on a fresh SQLite file:

1. Fill: start N ``ScaleWait`` workflows (bench/scale_workflows.py), each waiting on a
   one-hour timer and a signal, with bounded start concurrency and a worker running;
   wait until every first workflow task has run in the worker, then check with
   DescribeWorkflowExecution that none has a pending workflow task (the timer is
   started). Stop the worker.
2. Settled: poll the server's RSS until it is stable; size of the database files.
3. Arm: with a short-lived worker, start one extra workflow whose timer is due a few
   seconds later; stop the worker, SIGKILL the server, and wait past the timer's due
   time (so it falls due while the server is down).
4. Restart on the same file and port: time from launching the process until it answers
   GetSystemInfo + DescribeNamespace ("serving"). With a fresh worker: time from serving
   until the downtime timer's workflow returns; then signal one of the N workflows and
   time until its result. Stop the worker, poll RSS until stable again.

Usage::

    python bench/scale.py --n 10000,100000 --servers pytemporal,reference

The reference only runs at N <= --reference-max-n (10,000) unless that is raised.
See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import scale_workflows
from scale_workflows import SIGNALLED, TIMER_FIRED, ScaleWait
from throughput import DEV_COMMANDS, ServerProcess, connect_when_ready, free_port, machine_info

SERVER_NAMES = tuple(DEV_COMMANDS)  # pytemporal, reference: the file-database dev servers
RESULTS_DIR = Path(__file__).resolve().parent / "results"
NAMESPACE = "default"
OPEN_TIMER_S = 3600.0  # the N workflows' timer: never fires during the run
READY_TIMEOUT_S = 90.0  # first start on a fresh file
PROGRESS_EVERY_S = 15.0
POLL_S = 0.2
# Under the fill's start load a server may take longer than the default 10 s to take a
# workflow task's completion; the task would time out and be retried (SDK warning "Task
# not found when completing"), adding work and history. The maximum is 120 s.
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=60)

# Targets from the issue.
TARGET_RSS_MB = 250.0
TARGET_RSS_AT_N = 100_000
TARGET_SERVING_S = 2.0
TARGET_SERVING_SPREAD = 0.20  # between these two N
SPREAD_NS = (10_000, 100_000)
TARGET_SIGNAL_S = 1.0
TARGET_TIMER_S = 2.0

# Every server process started, killed at exit whatever happened.
_LIVE: list[ScaleServer] = []


class ScaleServer(ServerProcess):
    """A dev server on a given database file and port (a restart reuses both)."""

    def __init__(self, name: str, label: str, workdir: Path, db_file: Path, port: int) -> None:
        make = DEV_COMMANDS[name]
        super().__init__(label, workdir, lambda _free: make(port, db_file))
        self.port = port

    def start(self) -> None:
        _LIVE.append(self)
        super().start()

    def sigkill(self) -> None:
        """SIGKILL and reap the process (no graceful shutdown)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self.stop()  # closes the log


def kill_all_servers() -> None:
    for server in _LIVE:
        with contextlib.suppress(Exception):
            server.sigkill()


atexit.register(kill_all_servers)


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class WorkerConfig:
    workflow_tasks: int
    pollers: int


def build_worker(client: Client, task_queue: str, config: WorkerConfig, *, cache: int) -> Worker:
    """A worker for ScaleWait. ``cache=0`` disables sticky queues: the fill needs one
    workflow task per workflow, and a stopped worker's sticky queue would otherwise
    delay the first task after the restart by the sticky schedule-to-start timeout."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ScaleWait],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_cached_workflows=cache,
        max_concurrent_workflow_tasks=config.workflow_tasks,
        max_concurrent_workflow_task_polls=config.pollers,
    )


async def stop_worker(worker: Worker) -> float:
    t0 = time.perf_counter()
    await worker.shutdown()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- phases


def check_deadline(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"{what}: deadline passed")


async def start_all(
    client: Client, task_queue: str, ids: Sequence[str], concurrency: int, started: list[int]
) -> float:
    """Start the workflows, ``concurrency`` start calls in flight, counting them in
    ``started[0]``; returns wall s."""
    pending: Iterator[str] = iter(ids)

    async def starter() -> None:
        for workflow_id in pending:
            await client.start_workflow(
                ScaleWait.run,
                OPEN_TIMER_S,
                id=workflow_id,
                task_queue=task_queue,
                task_timeout=WORKFLOW_TASK_TIMEOUT,
            )
            started[0] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(starter() for _ in range(min(concurrency, len(ids)))))
    return time.perf_counter() - t0


async def pending_first_tasks(client: Client, ids: Sequence[str], concurrency: int) -> list[str]:
    """The workflows among ``ids`` that still have a pending workflow task."""
    pending: Iterator[str] = iter(ids)
    out: list[str] = []

    async def checker() -> None:
        for workflow_id in pending:
            resp = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id)
                ),
                timeout=timedelta(seconds=30),
            )
            if resp.HasField("pending_workflow_task"):
                out.append(workflow_id)

    await asyncio.gather(*(checker() for _ in range(min(concurrency, len(ids)))))
    return out


async def wait_first_tasks_done(
    client: Client, ids: Sequence[str], concurrency: int, deadline: float
) -> None:
    """Poll until no workflow in ``ids`` has a pending workflow task."""
    remaining = list(ids)
    while True:
        remaining = await pending_first_tasks(client, remaining, concurrency)
        if not remaining:
            return
        check_deadline(deadline, f"{len(remaining)} workflows still have a pending workflow task")
        await asyncio.sleep(POLL_S)


@dataclass
class FillResult:
    starts_s: float
    first_tasks_s: float
    verify_s: float


def own_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def fill(
    label: str,
    server: ServerProcess,
    client: Client,
    task_queue: str,
    ids: Sequence[str],
    args: argparse.Namespace,
) -> FillResult:
    """Start all workflows and wait until each one's first workflow task completed.
    Progress lines every PROGRESS_EVERY_S: counts and the CPU (cores) of the server
    and of this process (client + worker) over the last interval."""
    seen = scale_workflows.FIRST_TASKS_SEEN
    seen.clear()
    n = len(ids)
    deadline = time.monotonic() + args.fill_timeout
    t0 = time.perf_counter()
    started = [0]
    starting = asyncio.create_task(
        start_all(client, task_queue, ids, args.start_concurrency, started)
    )
    starts_s: float | None = None
    next_report = time.monotonic() + PROGRESS_EVERY_S
    last_cpu = (server.cpu_seconds(), own_cpu_seconds())
    try:
        while starts_s is None or len(seen) < n:
            if starts_s is None and starting.done():
                starts_s = starting.result()
            if time.monotonic() >= next_report:
                elapsed = time.perf_counter() - t0
                cpu = (server.cpu_seconds(), own_cpu_seconds())
                print(
                    f"[{label}] fill {elapsed:.0f}s: started {started[0]}/{n},"
                    f" first tasks done {len(seen)}/{n};"
                    f" CPU cores server {(cpu[0] - last_cpu[0]) / PROGRESS_EVERY_S:.2f},"
                    f" bench {(cpu[1] - last_cpu[1]) / PROGRESS_EVERY_S:.2f}",
                    flush=True,
                )
                last_cpu = cpu
                next_report += PROGRESS_EVERY_S
            check_deadline(
                deadline, f"fill ({len(seen)}/{n} first tasks after {args.fill_timeout}s)"
            )
            await asyncio.sleep(POLL_S)
    finally:
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    first_tasks_s = time.perf_counter() - t0
    await wait_first_tasks_done(client, ids, args.start_concurrency, deadline)
    return FillResult(starts_s, first_tasks_s, time.perf_counter() - t0 - first_tasks_s)


@dataclass
class RssReading:
    mb: float
    waited_s: float
    stable: bool


async def settle_rss(server: ServerProcess, args: argparse.Namespace) -> RssReading:
    """Poll the server's RSS until it held still (within max(1 MB, 1 %)) for
    ``--settle-window`` seconds, or ``--settle-timeout`` passed (then stable=False)."""
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []
    while True:
        now = time.monotonic()
        samples.append((now, server.rss_mb()))
        window = [mb for t, mb in samples if t >= now - args.settle_window]
        covered = now - samples[0][0] >= args.settle_window
        spread = max(window) - min(window)
        if covered and spread <= max(1.0, 0.01 * window[-1]):
            return RssReading(round(window[-1], 1), round(now - t0, 1), True)
        if now - t0 >= args.settle_timeout:
            return RssReading(round(window[-1], 1), round(now - t0, 1), False)
        await asyncio.sleep(0.25)


def db_files(db_file: Path) -> dict[str, int]:
    """Sizes of the database file and its companions (-wal, -shm, -journal)."""
    return {
        p.name: p.stat().st_size
        for p in sorted(db_file.parent.glob(f"{db_file.name}*"))
        if p.is_file()
    }


@dataclass
class Armed:
    """The extra workflow whose timer falls due while the server is down."""

    workflow_id: str
    due_after_s: float
    started_at: float  # monotonic, before the start call: the due time is >= this + due_after_s
    armed_at: float  # monotonic, when its first task was seen completed: due <= this + due_after_s


async def arm_downtime_timer(
    client: Client,
    task_queue: str,
    workflow_id: str,
    args: argparse.Namespace,
    config: WorkerConfig,
) -> tuple[Armed, float]:
    """Start the extra workflow with a short-lived worker, wait until its timer is
    started, stop the worker; returns it and the worker's stop time."""
    worker = build_worker(client, task_queue, config, cache=0)
    deadline = time.monotonic() + args.check_timeout
    async with worker:
        started_at = time.monotonic()
        await client.start_workflow(
            ScaleWait.run, args.due_after, id=workflow_id, task_queue=task_queue
        )
        await wait_first_tasks_done(client, [workflow_id], 1, deadline)
        armed = Armed(workflow_id, args.due_after, started_at, time.monotonic())
        stopped_in = await stop_worker(worker)
    return armed, stopped_in


async def timed_result(client: Client, workflow_id: str, expected: str, timeout_s: float) -> float:
    """Await the workflow's result (must be ``expected``); returns when it arrived
    (perf_counter)."""
    result = await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), timeout_s)
    if result != expected:
        raise RuntimeError(f"{workflow_id}: result {result!r}, expected {expected!r}")
    return time.perf_counter()


async def timer_fired_at(client: Client, workflow_id: str) -> float | None:
    """Wall-clock time (epoch s) of the workflow's TimerFired event, if any."""
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.HasField("timer_fired_event_attributes"):
            return event.event_time.ToDatetime(tzinfo=UTC).timestamp()
    return None


# --------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    server: str
    n: int
    server_command: str
    fill_starts_s: float | None = None
    fill_s: float | None = None  # until every first workflow task ran in the worker
    fill_verify_s: float | None = None  # then: DescribeWorkflowExecution of all N
    fill_workflows_per_s: float | None = None
    worker_stop_s: float | None = None
    rss_settled_mb: float | None = None
    rss_settle_s: float | None = None
    rss_settled_stable: bool | None = None
    db_bytes: int | None = None
    db_files: dict[str, int] = field(default_factory=dict)
    db_bytes_per_workflow: float | None = None
    killed_before_due: bool | None = None
    downtime_s: float | None = None
    kill_to_serving_s: float | None = None
    downtime_timer_s: float | None = None  # serving -> the due timer's workflow returned
    # TimerFired event time - serving (server clock vs. ours; < 0: fired while starting up)
    timer_fired_event_s: float | None = None
    signal_to_result_s: float | None = None
    rss_restart_mb: float | None = None
    rss_restart_stable: bool | None = None
    db_bytes_after_restart: int | None = None
    error: str | None = None
    log_tail: str | None = None


class Run:
    """One server at one N: owns the temp dir and the server processes."""

    def __init__(self, name: str, n: int, args: argparse.Namespace) -> None:
        self.name = name
        self.n = n
        self.args = args
        self.label = f"{name} N={n}"
        self.config = WorkerConfig(args.workflow_tasks, args.pollers)
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bench-scale-{name}-")
        self.workdir = Path(self._tmp.name)
        self.db_file = self.workdir / "scale.db"
        self.port = free_port()
        self.server = ScaleServer(name, name, self.workdir, self.db_file, self.port)
        self.result = RunResult(name, n, shlex.join(self.server.command))
        prefix = f"scale-{uuid.uuid4().hex[:8]}"
        self.task_queue = prefix
        self.ids = [f"{prefix}-{i}" for i in range(n)]
        self.due_id = f"{prefix}-due"

    def say(self, text: str) -> None:
        print(f"[{self.label}] {text}", flush=True)

    async def execute(self) -> RunResult:
        try:
            await self._phases()
        except Exception as err:
            self.result.error = f"{type(err).__name__}: {err}"
            self.result.log_tail = self.server.log_tail()
            self.say(f"FAILED: {self.result.error}")
        finally:
            self.server.stop()
            self._tmp.cleanup()
        return self.result

    async def _phases(self) -> None:
        r, args = self.result, self.args
        self.server.start()
        client = await connect_when_ready(self.server, READY_TIMEOUT_S)

        self.say(f"filling {self.n} workflows ...")
        # The worker gets its own connection, so its polls and completions do not share
        # one HTTP/2 connection with the ~200 start calls in flight.
        worker_client = await Client.connect(self.server.target)
        worker = build_worker(worker_client, self.task_queue, self.config, cache=0)
        async with worker:
            filled = await fill(self.label, self.server, client, self.task_queue, self.ids, args)
            r.fill_starts_s = round(filled.starts_s, 2)
            r.fill_s = round(filled.first_tasks_s, 2)
            r.fill_verify_s = round(filled.verify_s, 2)
            r.fill_workflows_per_s = round(self.n / filled.first_tasks_s, 1)
            self.say(
                f"filled in {r.fill_s}s ({r.fill_workflows_per_s} wf/s; starts {r.fill_starts_s}s,"
                f" verify {r.fill_verify_s}s)"
            )
            r.worker_stop_s = round(await stop_worker(worker), 2)

        settled = await settle_rss(self.server, args)
        r.rss_settled_mb, r.rss_settle_s, r.rss_settled_stable = (
            settled.mb,
            settled.waited_s,
            settled.stable,
        )
        r.db_files = db_files(self.db_file)
        r.db_bytes = sum(r.db_files.values())
        r.db_bytes_per_workflow = round(r.db_bytes / self.n, 1)
        self.say(f"settled: RSS {r.rss_settled_mb} MB, db {r.db_bytes / 2**20:.1f} MB")

        armed, _ = await arm_downtime_timer(client, self.task_queue, self.due_id, args, self.config)
        self.server.sigkill()
        killed_at = time.monotonic()
        r.killed_before_due = killed_at < armed.started_at + armed.due_after_s
        # Restart once the timer is due for sure (its due time is <= armed_at + due_after).
        restart_at = max(killed_at, armed.armed_at + armed.due_after_s) + args.due_margin
        await asyncio.sleep(restart_at - time.monotonic())  # waiting for wall time to pass
        r.downtime_s = round(time.monotonic() - killed_at, 2)

        self.server = ScaleServer(
            self.name, f"{self.name}-restart", self.workdir, self.db_file, self.port
        )
        launched = time.perf_counter()
        self.server.start()
        client = await connect_when_ready(self.server, args.restart_timeout)
        serving, serving_wall = time.perf_counter(), time.time()
        r.kill_to_serving_s = round(serving - launched, 3)
        self.say(f"restarted: serving after {r.kill_to_serving_s}s")

        worker = build_worker(client, self.task_queue, self.config, cache=args.cache)
        async with worker:
            fired = await timed_result(client, self.due_id, TIMER_FIRED, args.check_timeout)
            r.downtime_timer_s = round(fired - serving, 3)
            target = client.get_workflow_handle(self.ids[self.n // 2])
            t0 = time.perf_counter()
            await target.signal(ScaleWait.finish)
            returned = await timed_result(client, target.id, SIGNALLED, args.check_timeout)
            r.signal_to_result_s = round(returned - t0, 3)
            self.say(f"due timer's workflow done {r.downtime_timer_s}s after serving")
            self.say(f"signal -> result {r.signal_to_result_s}s")
            await stop_worker(worker)
        if (fired_at := await timer_fired_at(client, self.due_id)) is not None:
            r.timer_fired_event_s = round(fired_at - serving_wall, 3)

        settled = await settle_rss(self.server, args)
        r.rss_restart_mb, r.rss_restart_stable = settled.mb, settled.stable
        r.db_bytes_after_restart = sum(db_files(self.db_file).values())


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    target: str = ""
    check: Callable[[RunResult], bool | None] | None = None


def _at_most(key: str, limit: float) -> Callable[[RunResult], bool | None]:
    def check(r: RunResult) -> bool | None:
        value = getattr(r, key)
        return None if value is None else value <= limit

    return check


def _rss_target(r: RunResult) -> bool | None:
    if r.rss_settled_mb is None or r.n < TARGET_RSS_AT_N:
        return None  # the target is stated for 100,000 open workflows
    return r.rss_settled_mb <= TARGET_RSS_MB


def _timer_target(r: RunResult) -> bool | None:
    if r.error is not None and r.kill_to_serving_s is not None and r.downtime_timer_s is None:
        return False  # serving, but the timer never fired within --check-timeout
    return _at_most("downtime_timer_s", TARGET_TIMER_S)(r)


def _signal_target(r: RunResult) -> bool | None:
    if r.downtime_timer_s is not None and r.signal_to_result_s is None:
        return False
    return _at_most("signal_to_result_s", TARGET_SIGNAL_S)(r)


def _serving_target(r: RunResult) -> bool | None:
    if r.error is not None and r.downtime_s is not None and r.kill_to_serving_s is None:
        return False  # restarted but not serving within --restart-timeout
    return _at_most("kill_to_serving_s", TARGET_SERVING_S)(r)


METRICS = (
    Metric("fill_s", "fill: all first tasks done", "s"),
    Metric("fill_workflows_per_s", "fill rate", "wf/s"),
    Metric(
        "rss_settled_mb", "RSS settled", "MB", f"<= {TARGET_RSS_MB:.0f} MB at N=100k", _rss_target
    ),
    Metric("db_bytes_per_workflow", "database bytes / workflow", "B"),
    Metric(
        "kill_to_serving_s",
        "SIGKILL -> serving",
        "s",
        f"<= {TARGET_SERVING_S:.0f} s",
        _serving_target,
    ),
    Metric(
        "downtime_timer_s",
        "due timer: result after serving",
        "s",
        f"<= {TARGET_TIMER_S:.0f} s",
        _timer_target,
    ),
    Metric(
        "signal_to_result_s",
        "signal -> result after restart",
        "s",
        f"<= {TARGET_SIGNAL_S:.0f} s",
        _signal_target,
    ),
    Metric("rss_restart_mb", "RSS after restart", "MB"),
)


def verdict(ok: bool | None) -> str:
    return "" if ok is None else (" PASS" if ok else " FAIL")


def cell(r: RunResult | None, metric: Metric) -> str:
    if r is None:
        return "not run"
    value = getattr(r, metric.key)
    text = "-" if value is None else f"{value}"
    return text + verdict(metric.check(r) if metric.check else None)


def serving_spread(results: Sequence[RunResult]) -> dict[str, dict[str, Any]]:
    """Per server: SIGKILL -> serving at the two SPREAD_NS and whether they are within
    TARGET_SERVING_SPREAD of each other (relative to the smaller N's figure)."""
    out: dict[str, dict[str, Any]] = {}
    low, high = SPREAD_NS
    for server in dict.fromkeys(r.server for r in results):
        by_n = {r.n: r.kill_to_serving_s for r in results if r.server == server}
        a, b = by_n.get(low), by_n.get(high)
        if a is None or b is None:
            continue
        change = (b - a) / a if a else float("inf")
        out[server] = {
            f"n{low}_s": a,
            f"n{high}_s": b,
            "relative_change": round(change, 3),
            "pass": abs(change) <= TARGET_SERVING_SPREAD,
        }
    return out


def print_report(results: Sequence[RunResult], servers: Sequence[str], ns: Sequence[int]) -> None:
    width = 34
    for n in ns:
        at_n = {r.server: r for r in results if r.n == n}
        if not at_n:
            continue
        cols = [s for s in servers if s in at_n]
        print(f"\nN = {n:,} open workflows")
        header = f"{'metric':<{width}}" + "".join(f"{s:>22}" for s in cols) + "  target"
        print(header)
        print("-" * len(header))
        for metric in METRICS:
            title = f"{metric.title} ({metric.unit})"
            row = f"{title:<{width}}" + "".join(f"{cell(at_n.get(s), metric):>22}" for s in cols)
            print(f"{row}  {metric.target}")
        for s in cols:
            r = at_n[s]
            notes = []
            if r.fill_starts_s is not None:
                notes.append(f"starts took {r.fill_starts_s}s, verify {r.fill_verify_s}s")
            if r.killed_before_due is False:
                notes.append("WARNING: killed after the timer was due (raise --due-after)")
            if r.rss_settled_stable is False or r.rss_restart_stable is False:
                notes.append("RSS did not settle within --settle-timeout")
            if r.error:
                notes.append(f"ERROR: {r.error}")
            if notes:
                print(f"  {s}: " + "; ".join(notes))
    for server, spread in serving_spread(results).items():
        low, high = SPREAD_NS
        print(
            f"\n{server}: SIGKILL -> serving {spread[f'n{low}_s']}s at N={low:,} vs"
            f" {spread[f'n{high}_s']}s at N={high:,}: {spread['relative_change']:+.0%}"
            f" (target within {TARGET_SERVING_SPREAD:.0%}){verdict(spread['pass'])}"
        )


def default_json_path(servers: Sequence[str], ns: Sequence[int]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return RESULTS_DIR / f"scale_{'-'.join(servers)}_n{'-'.join(map(str, ns))}_{stamp}.json"


def write_json(path: Path, command: str, results: Sequence[RunResult]) -> None:
    payload = {
        "command": command,
        "machine": machine_info(),
        "targets": {
            "rss_mb_at_100k": TARGET_RSS_MB,
            "kill_to_serving_s": TARGET_SERVING_S,
            "kill_to_serving_spread_10k_100k": TARGET_SERVING_SPREAD,
            "signal_to_result_s": TARGET_SIGNAL_S,
            "downtime_timer_s": TARGET_TIMER_S,
        },
        "results": [asdict(r) for r in results],
        "serving_spread": serving_spread(results),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


# --------------------------------------------------------------------------- CLI


def parse_list(value: str, item: Callable[[str], Any]) -> list[Any]:
    try:
        out = [item(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not out:
        raise argparse.ArgumentTypeError(f"empty list: {value!r}")
    return out


def parse_servers(value: str) -> list[str]:
    names = parse_list(value, str)
    if unknown := sorted(set(names) - set(SERVER_NAMES)):
        raise argparse.ArgumentTypeError(f"unknown servers {unknown}; choose from {SERVER_NAMES}")
    return names


def parse_ns(value: str) -> list[int]:
    ns = parse_list(value, lambda v: int(v.replace("_", "")))
    if any(n < 1 for n in ns):
        raise argparse.ArgumentTypeError("N must be >= 1")
    return ns


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--n",
        type=parse_ns,
        default=[10_000, 100_000],
        help="comma list of N (default 10000,100000)",
    )
    add(
        "--servers",
        type=parse_servers,
        default=list(SERVER_NAMES),
        help=f"comma list from {SERVER_NAMES}",
    )
    add(
        "--reference-max-n",
        type=int,
        default=10_000,
        help="skip the reference above this N (10000)",
    )
    add(
        "--start-concurrency",
        type=int,
        default=200,
        help="start (and describe) calls in flight (200)",
    )
    add(
        "--workflow-tasks", type=int, default=400, help="worker max_concurrent_workflow_tasks (400)"
    )
    add("--pollers", type=int, default=10, help="worker workflow-task pollers (10)")
    add(
        "--cache",
        type=int,
        default=1000,
        help="workflow cache of the worker after the restart (1000)",
    )
    add(
        "--due-after",
        type=float,
        default=5.0,
        help="timer of the workflow due during the downtime (5 s)",
    )
    add("--due-margin", type=float, default=1.0, help="restart this long after it is due (1 s)")
    add(
        "--fill-timeout",
        type=float,
        default=None,
        help="fill deadline (default 300 s + 50 ms per workflow)",
    )
    add(
        "--restart-timeout",
        type=float,
        default=600.0,
        help="deadline for serving after restart (600 s)",
    )
    add(
        "--check-timeout",
        type=float,
        default=300.0,
        help="deadline of the timer and the signal check (300 s)",
    )
    add("--settle-window", type=float, default=3.0, help="RSS must hold still this long (3 s)")
    add(
        "--settle-timeout", type=float, default=60.0, help="give up waiting for a stable RSS (60 s)"
    )
    add(
        "--json",
        type=Path,
        default=None,
        metavar="OUT",
        help="default bench/results/scale_<...>.json",
    )
    args = parser.parse_args(argv)
    if args.start_concurrency < 1 or args.workflow_tasks < 2 or args.pollers < 1:
        parser.error("--start-concurrency >= 1, --workflow-tasks >= 2, --pollers >= 1")
    return args


def planned(args: argparse.Namespace) -> list[tuple[str, int]]:
    runs = []
    for n in args.n:
        for server in args.servers:
            if server == "reference" and n > args.reference_max_n:
                print(f"[reference N={n}] skipped (N > --reference-max-n {args.reference_max_n})")
                continue
            runs.append((server, n))
    return runs


async def main_async(args: argparse.Namespace) -> list[RunResult]:
    results = []
    for server, n in planned(args):
        run_args = argparse.Namespace(**vars(args))
        if run_args.fill_timeout is None:
            run_args.fill_timeout = 300.0 + 0.05 * n
        results.append(await Run(server, n, run_args).execute())
    return results


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    # SIGTERM: unwind like Ctrl-C, so the servers are stopped and the temp dirs removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command = shlex.join([sys.executable, *argv])
    try:
        results = asyncio.run(main_async(args))
    finally:
        kill_all_servers()
    print_report(results, args.servers, args.n)
    json_out = args.json or default_json_path(args.servers, args.n)
    write_json(json_out, command, results)
    machine = machine_info()
    print(f"\ncommand: {command}")
    print(f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r} {machine['platform']}")
    print(f"json: {json_out}")
    if failed := [f"{r.server} N={r.n}" for r in results if r.error]:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
