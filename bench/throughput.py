"""Workflow throughput benchmark: pytemporal vs. Temporal's Go dev server.

Each selected server is started as a subprocess on a free port with a fresh database,
then driven by the same harness: ``temporalio`` workers running in this process
(unsandboxed) and C concurrent drivers that each ``start_workflow`` and await the
result, for N workflows that each execute exactly one activity.

Servers:

- ``pytemporal``: ``pytemporal server start-dev`` on a fresh SQLite file;
- ``reference``: ``temporal server start-dev`` (Go) on a fresh SQLite file;
- ``pytemporal-pg``: ``pytemporal server start`` on a fresh PostgreSQL database
  (``bench_<uuid>``, created, ``schema setup``, dropped afterwards);
- ``pytemporal-pg-x2``: two ``pytemporal server start`` processes on one fresh
  PostgreSQL database (scale-out), drivers and workers split across both.

Usage::

    python bench/throughput.py [--servers pytemporal,reference] [--workflows N]
                               [--concurrency C] [--repeat R] [--metrics on|off]
                               [--json OUT]

See bench/RESULTS.md for the figures and how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import psutil  # type: ignore[import-untyped]
from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

SERVER_NAMES = ("pytemporal", "reference", "pytemporal-pg", "pytemporal-pg-x2")
REFERENCE = "reference"
# The scale-out ratio: this server's throughput over the single-process PG server's.
SCALE_OUT = ("pytemporal-pg-x2", "pytemporal-pg")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
SCHEMA_TIMEOUT_S = 120.0
# Scale-out: how long the shard owner map must hold still before the run starts.
SETTLE_STABLE_S = 3.0
LOG_TAIL_CHARS = 4000
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# History shards per PG mode unless --pg-shards is given (x2: the scale-out setting).
DEFAULT_PG_SHARDS = {"pytemporal-pg": 1, "pytemporal-pg-x2": 8}
# PostgreSQL's shared background processes, counted in "db CPU" with our backends.
PG_BACKGROUND = ("checkpointer", "background writer", "walwriter")

T = TypeVar("T")


# --------------------------------------------------------------------------- workload


@activity.defn(name="bench_echo")
async def bench_echo(value: str) -> str:
    return value


@workflow.defn(name="BenchOneActivity")
class BenchOneActivity:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            bench_echo, value, start_to_close_timeout=timedelta(seconds=60)
        )


@dataclass(frozen=True)
class WorkerConfig:
    """Worker tuning, identical for every server."""

    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    workflow_task_pollers: int
    activity_task_pollers: int
    nonsticky_to_sticky_poll_ratio: float
    eager_activities: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WorkerConfig:
        slots = max(100, args.concurrency * 2)
        return cls(
            max_concurrent_workflow_tasks=slots,
            max_concurrent_activities=slots,
            workflow_task_pollers=args.workflow_pollers,
            activity_task_pollers=args.activity_pollers,
            nonsticky_to_sticky_poll_ratio=args.nonsticky_ratio,
            eager_activities=args.eager_activities,
        )


def build_worker(client: Client, task_queue: str, config: WorkerConfig) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchOneActivity],
        activities=[bench_echo],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=config.max_concurrent_workflow_tasks,
        max_concurrent_activities=config.max_concurrent_activities,
        max_concurrent_workflow_task_polls=config.workflow_task_pollers,
        max_concurrent_activity_task_polls=config.activity_task_pollers,
        nonsticky_to_sticky_poll_ratio=config.nonsticky_to_sticky_poll_ratio,
        disable_eager_activity_execution=not config.eager_activities,
    )


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise SystemExit("temporal CLI not found next to sys.executable or on PATH")
    return found


def reference_command(port: int, db_file: Path, metrics: bool = True) -> list[str]:
    # Temporal's dev server always serves metrics (on a free port): `metrics` is ours.
    return [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--log-level", "warn",
        "--db-filename", str(db_file),
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=NORMAL",
    ]  # fmt: skip


def pytemporal_command(port: int, db_file: Path, metrics: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "pytemporal", "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--log-level", "warn",
        "--db-filename", str(db_file),
        # On: the dev server's default (a free port, as Temporal's); off: no hooks at all.
        *([] if metrics else ["--no-metrics"]),
    ]  # fmt: skip


DEV_COMMANDS: dict[str, Callable[[int, Path, bool], list[str]]] = {
    "pytemporal": pytemporal_command,
    "reference": reference_command,
}
PG_START_COMMAND = [sys.executable, "-m", "pytemporal", "server", "start"]


def pg_environment(
    database_url: str, port: int, shards: int, metrics: bool = True
) -> dict[str, str]:
    """This process's environment without PYTEMPORAL_*, plus the PG server's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEMPORAL_")}
    env.update(
        PYTEMPORAL_DATABASE_URL=database_url,
        PYTEMPORAL_IP="127.0.0.1",
        PYTEMPORAL_PORT=str(port),
        PYTEMPORAL_NUM_HISTORY_SHARDS=str(shards),
        PYTEMPORAL_LOG_LEVEL="warn",
    )
    if metrics:
        env["PYTEMPORAL_METRICS_PORT"] = "0"  # a free port; never scraped by the bench
    return env


class ServerProcess:
    """One server subprocess with its own port and log file (in `workdir`)."""

    def __init__(
        self,
        label: str,
        workdir: Path,
        command: Callable[[int], list[str]],
        env: Callable[[int], dict[str, str]] | None = None,
    ) -> None:
        self.label = label
        self.port = free_port()
        self.workdir = workdir
        self.log_file = workdir / f"{label}.log"
        self.command = command(self.port)
        self.env = None if env is None else env(self.port)
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = self.log_file.open("wb")
        self._proc = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self.env,
        )

    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants."""
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User+sys CPU of the whole process tree (incl. reaped children)."""
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def rss_mb(self) -> float:
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User+sys CPU of the given processes (the ones still alive)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


class PgDatabase:
    """A fresh PostgreSQL database ``bench_<uuid>``, dropped by `drop`.

    `admin_url` names the maintenance database used for CREATE/DROP and for looking up
    backend pids in pg_stat_activity (that connection's own backend is not counted).
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        self._admin: Any = None  # asyncpg.Connection

    async def create(self) -> None:
        self._admin = await asyncpg.connect(self.admin_url, timeout=10)
        await self._admin.execute(f'CREATE DATABASE "{self.name}"')

    async def setup_schema(self) -> None:
        """``pytemporal schema setup --db URL`` (the server never creates the schema)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pytemporal", "schema", "setup", "--db", self.url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), SCHEMA_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise TimeoutError(f"schema setup exceeded {SCHEMA_TIMEOUT_S}s") from None
        if proc.returncode != 0:
            text = out.decode(errors="replace")[-LOG_TAIL_CHARS:]
            raise RuntimeError(f"schema setup failed ({proc.returncode}):\n{text}")

    async def db_pids(self) -> list[int]:
        """Backends connected to this database plus PG's shared background writers."""
        rows = await self._admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type = ANY($2::text[])",
            self.name,
            list(PG_BACKGROUND),
        )
        return [int(row["pid"]) for row in rows]

    async def cpu_seconds(self) -> float:
        return process_cpu_seconds(await self.db_pids())

    async def settle_shards(self, members: int, shards: int, timeout_s: float) -> float:
        """Wait until every shard is leased, spread over `members` owners, and the
        owner map held still for SETTLE_STABLE_S (routes refresh once per tick);
        returns the seconds waited. Reads pytemporal's ``shards`` table."""
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            stable_since: float | None = None
            last: dict[int, str] = {}
            while time.monotonic() < deadline:
                rows = await conn.fetch(
                    # Shard 0 is not a shard: it records the shard count (a marker lease).
                    "SELECT shard_id, owner FROM shards WHERE lease_until > $1 AND shard_id > 0",
                    time.time(),
                )
                owners = {int(r["shard_id"]): str(r["owner"]) for r in rows}
                balanced = len(owners) == shards and len(set(owners.values())) == members
                if not balanced or owners != last:
                    stable_since = time.monotonic() if balanced else None
                elif (
                    stable_since is not None and time.monotonic() - stable_since >= SETTLE_STABLE_S
                ):
                    return time.monotonic() - t0
                last = owners
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        raise TimeoutError(f"shards not balanced over {members} processes after {timeout_s}s")

    async def drop(self) -> None:
        if self._admin is None:
            return
        try:
            await self._admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await self._admin.close()
            self._admin = None


class Deployment:
    """What one benchmark run talks to: 1+ server processes and maybe a PG database."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bench-{name}-")
        workdir = Path(self._tmp.name)
        self.database: PgDatabase | None = None
        self.history_shards: int | None = None
        if name in DEV_COMMANDS:
            make = DEV_COMMANDS[name]
            db_file = workdir / "bench.db"
            metrics = args.metrics == "on"
            self.processes = [
                ServerProcess(name, workdir, lambda port: make(port, db_file, metrics))
            ]
            return
        database = PgDatabase(args.pg_admin_url)
        shards = args.pg_shards or DEFAULT_PG_SHARDS[name]
        count = 2 if name == "pytemporal-pg-x2" else 1

        def env(port: int) -> dict[str, str]:
            return pg_environment(database.url, port, shards, args.metrics == "on")

        self.database = database
        self.history_shards = shards
        self.processes = [
            ServerProcess(f"{name}-{i}", workdir, lambda _port: list(PG_START_COMMAND), env)
            for i in range(count)
        ]

    @property
    def commands(self) -> list[str]:
        """Each process's command line, with its PYTEMPORAL_* environment in front."""
        out = []
        for proc in self.processes:
            env = {k: v for k, v in (proc.env or {}).items() if k.startswith("PYTEMPORAL_")}
            prefix = [f"{k}={v}" for k, v in sorted(env.items())]
            out.append(shlex.join([*prefix, *proc.command]))
        return out

    async def start(self) -> list[Client]:
        """Create the database if any, then start the processes one at a time (so a
        fresh database is initialised by one of them); one ready client per process."""
        if self.database is not None:
            await self.database.create()
            await self.database.setup_schema()
        clients = []
        for proc in self.processes:
            proc.start()
            clients.append(await connect_when_ready(proc, READY_TIMEOUT_S))
        if self.database is not None and self.history_shards and len(self.processes) > 1:
            # Scale-out: measure only once the shard leases are spread and steady.
            members, shards = len(self.processes), self.history_shards
            waited = await self.database.settle_shards(members, shards, READY_TIMEOUT_S)
            print(f"[{self.name}] shards settled over {members} processes in {waited:.1f}s")
        return clients

    def cpu_seconds(self) -> float:
        return sum(proc.cpu_seconds() for proc in self.processes)

    def rss_mb(self) -> float:
        return sum(proc.rss_mb() for proc in self.processes)

    async def db_cpu_seconds(self) -> float | None:
        return None if self.database is None else await self.database.cpu_seconds()

    def state(self) -> str:
        return "\n".join(
            f"--- {p.label}: exit code {p.exit_code()}\n{p.log_tail()}" for p in self.processes
        )

    async def stop(self) -> None:
        for proc in self.processes:
            proc.stop()
        try:
            if self.database is not None:
                await self.database.drop()
        finally:
            self._tmp.cleanup()


async def connect_when_ready(server: ServerProcess, timeout_s: float) -> Client:
    """Poll until the server accepts a client and knows the default namespace."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        code = server.exit_code()
        if code is not None:
            raise RuntimeError(f"{server.label} exited with {code}:\n{server.log_tail()}")
        try:
            client = await asyncio.wait_for(Client.connect(server.target), timeout=5)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default"), timeout=timedelta(seconds=5)
            )
            return client
        except Exception as err:  # any failure means "not ready yet"
            last_error = err
        await asyncio.sleep(0.1)
    raise TimeoutError(
        f"{server.label} not ready after {timeout_s}s: {last_error!r}\n{server.log_tail()}"
    )


# --------------------------------------------------------------------------- load


@dataclass
class Samples:
    start_s: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)


async def run_one(client: Client, task_queue: str, workflow_id: str, samples: Samples) -> None:
    t0 = time.perf_counter()
    handle = await client.start_workflow(
        BenchOneActivity.run, workflow_id, id=workflow_id, task_queue=task_queue
    )
    t1 = time.perf_counter()
    result = await handle.result()
    t2 = time.perf_counter()
    if result != workflow_id:
        raise RuntimeError(f"unexpected result {result!r} for {workflow_id}")
    samples.start_s.append(t1 - t0)
    samples.e2e_s.append(t2 - t0)


async def drive(
    clients: Sequence[Client], task_queue: str, prefix: str, count: int, concurrency: int
) -> tuple[Samples, float]:
    """Run ``count`` workflows keeping ``concurrency`` in flight; return samples, wall s.

    Driver k uses ``clients[k % len(clients)]``, so the starts (and the result long
    polls) are split evenly across the server processes.
    """
    samples = Samples()
    ids: Iterator[int] = iter(range(count))

    async def driver(client: Client) -> None:
        for i in ids:
            await run_one(client, task_queue, f"{prefix}-{i}", samples)

    drivers = min(concurrency, count)
    t0 = time.perf_counter()
    await asyncio.gather(*(driver(clients[k % len(clients)]) for k in range(drivers)))
    return samples, time.perf_counter() - t0


# --------------------------------------------------------------------------- results


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class RunResult:
    server: str
    repeat: int
    workflows: int
    concurrency: int
    processes: int
    history_shards: int | None
    wall_s: float
    workflows_per_s: float
    start_p50_ms: float
    start_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    server_cpu_ms_per_wf: float
    db_cpu_ms_per_wf: float | None
    bench_cpu_ms_per_wf: float
    other_cpu_cores: float
    server_rss_mb: float
    server_command: list[str]


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds: server processes, PostgreSQL (if used), this process,
    and the whole machine (busy)."""

    server: float
    db: float | None
    bench: float
    machine: float

    @classmethod
    async def take(cls, deployment: Deployment) -> CpuSnapshot:
        db = await deployment.db_cpu_seconds()
        own = psutil.Process().cpu_times()
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return cls(deployment.cpu_seconds(), db, float(own.user + own.system), float(busy))

    def __sub__(self, other: CpuSnapshot) -> CpuSnapshot:
        db = None if self.db is None or other.db is None else self.db - other.db
        return CpuSnapshot(
            self.server - other.server,
            db,
            self.bench - other.bench,
            self.machine - other.machine,
        )


@dataclass(frozen=True)
class Measurement:
    samples: Samples
    wall_s: float
    cpu: CpuSnapshot
    server_rss_mb: float


async def within(phase: Awaitable[T], timeout_s: float, deployment: Deployment) -> T:
    """Await a load phase, failing with the servers' state if it overruns."""
    try:
        return await asyncio.wait_for(phase, timeout=timeout_s)
    except TimeoutError:
        raise TimeoutError(
            f"{deployment.name}: phase exceeded {timeout_s}s\n{deployment.state()}"
        ) from None


async def bench_server(name: str, repeat: int, args: argparse.Namespace) -> RunResult:
    deployment = Deployment(name, args)
    try:
        clients = await deployment.start()
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        config = WorkerConfig.from_args(args)
        async with contextlib.AsyncExitStack() as workers:
            # One worker per server process, all on the same task queue.
            for client in clients:
                await workers.enter_async_context(build_worker(client, task_queue, config))
            warm = drive(clients, task_queue, f"{task_queue}-warm", args.warmup, args.concurrency)
            await within(warm, args.timeout, deployment)
            before = await CpuSnapshot.take(deployment)
            run = drive(clients, task_queue, f"{task_queue}-run", args.workflows, args.concurrency)
            samples, wall = await within(run, args.timeout, deployment)
            cpu = await CpuSnapshot.take(deployment) - before
            measured = Measurement(samples, wall, cpu, deployment.rss_mb())
        return summarize(deployment, repeat, args.concurrency, measured)
    finally:
        await deployment.stop()


def summarize(deployment: Deployment, repeat: int, concurrency: int, m: Measurement) -> RunResult:
    n = len(m.samples.e2e_s)
    db = m.cpu.db or 0.0
    other_cpu = max(0.0, m.cpu.machine - m.cpu.server - db - m.cpu.bench)
    return RunResult(
        server=deployment.name,
        repeat=repeat,
        workflows=n,
        concurrency=concurrency,
        processes=len(deployment.processes),
        history_shards=deployment.history_shards,
        wall_s=round(m.wall_s, 3),
        workflows_per_s=round(n / m.wall_s, 1),
        start_p50_ms=round(percentile(m.samples.start_s, 50) * 1000, 2),
        start_p99_ms=round(percentile(m.samples.start_s, 99) * 1000, 2),
        e2e_p50_ms=round(percentile(m.samples.e2e_s, 50) * 1000, 2),
        e2e_p99_ms=round(percentile(m.samples.e2e_s, 99) * 1000, 2),
        server_cpu_ms_per_wf=round(m.cpu.server * 1000 / n, 3),
        db_cpu_ms_per_wf=None if m.cpu.db is None else round(m.cpu.db * 1000 / n, 3),
        bench_cpu_ms_per_wf=round(m.cpu.bench * 1000 / n, 3),
        other_cpu_cores=round(other_cpu / m.wall_s, 2),
        server_rss_mb=round(m.server_rss_mb, 1),
        server_command=deployment.commands,
    )


COLUMNS = (
    ("server", "server", 16),
    ("repeat", "run", 3),
    ("workflows_per_s", "wf/s", 7),
    ("start_p50_ms", "start p50 ms", 12),
    ("start_p99_ms", "start p99 ms", 12),
    ("e2e_p50_ms", "e2e p50 ms", 10),
    ("e2e_p99_ms", "e2e p99 ms", 10),
    ("server_cpu_ms_per_wf", "srv CPU ms/wf", 13),
    ("db_cpu_ms_per_wf", "db CPU ms/wf", 12),
    ("bench_cpu_ms_per_wf", "bench CPU ms/wf", 15),
    ("server_rss_mb", "srv RSS MB", 10),
    ("other_cpu_cores", "other CPU cores", 15),
)


def format_row(values: Sequence[object]) -> str:
    cells = ("-" if v is None else v for v in values)
    return "  ".join(f"{v!s:>{width}}" for v, (_, _, width) in zip(cells, COLUMNS, strict=True))


def print_table(results: Sequence[RunResult]) -> None:
    print(format_row([title for _, title, _ in COLUMNS]))
    for result in results:
        row = asdict(result)
        print(format_row([row[key] for key, _, _ in COLUMNS]))


def median_of(results: Sequence[RunResult], server: str, key: str) -> float | None:
    values = [
        float(v) for r in results if r.server == server and (v := getattr(r, key)) is not None
    ]
    return statistics.median(values) if values else None


RATIO_KEYS = {
    "throughput": "workflows_per_s",
    "server_cpu_per_wf": "server_cpu_ms_per_wf",
    "start_p50": "start_p50_ms",
    "start_p99": "start_p99_ms",
    "e2e_p50": "e2e_p50_ms",
    "e2e_p99": "e2e_p99_ms",
}


def ratios(results: Sequence[RunResult], ours: str, theirs: str) -> dict[str, float]:
    """ours/theirs ratios of the per-server medians (empty if either is missing)."""
    out: dict[str, float] = {}
    for label, key in RATIO_KEYS.items():
        mine = median_of(results, ours, key)
        other = median_of(results, theirs, key)
        if mine is not None and other:
            out[label] = round(mine / other, 3)
    return out


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def report(results: Sequence[RunResult], argv: Sequence[str], json_out: Path | None) -> None:
    command = shlex.join([sys.executable, *argv])
    machine = machine_info()
    print()
    print_table(results)
    servers = list(dict.fromkeys(r.server for r in results))
    over_reference = {
        server: ratio
        for server in servers
        if server != REFERENCE and (ratio := ratios(results, server, REFERENCE))
    }
    for server, ratio in over_reference.items():
        print(f"\n{server}/{REFERENCE} ratios (medians over repeats):")
        for label, value in ratio.items():
            print(f"  {label:<18} {value}")
    scale_out = ratios(results, *SCALE_OUT).get("throughput")
    if scale_out is not None:
        print(f"\nscale-out throughput {SCALE_OUT[0]}/{SCALE_OUT[1]}: {scale_out}")
    print(f"\ncommand: {command}")
    print(f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r} {machine['platform']}")
    if json_out is not None:
        payload = {
            "command": command,
            "machine": machine,
            "results": [asdict(r) for r in results],
            "ratios_over_reference": over_reference,
            "scale_out_throughput_ratio": scale_out,
        }
        json_out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"json: {json_out}")


# --------------------------------------------------------------------------- CLI


def parse_servers(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SERVER_NAMES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"servers must be from {SERVER_NAMES}, got {value!r}")
    return names


def parse_admin_url(value: str) -> str:
    host = urlsplit(value).hostname
    if urlsplit(value).scheme not in ("postgresql", "postgres") or host != "127.0.0.1":
        raise argparse.ArgumentTypeError(f"expected postgresql://...@127.0.0.1/..., got {value!r}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--servers",
        type=parse_servers,
        default=["pytemporal", "reference"],
        help=f"comma list from {', '.join(SERVER_NAMES)} (default: pytemporal,reference)",
    )
    parser.add_argument("--workflows", type=int, default=1000, help="measured workflows")
    parser.add_argument("--concurrency", type=int, default=50, help="workflows in flight")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted warm-up workflows")
    parser.add_argument("--repeat", type=int, default=1, help="runs per server (fresh server)")
    parser.add_argument("--workflow-pollers", type=int, default=10, help="workflow task polls")
    parser.add_argument("--activity-pollers", type=int, default=10, help="activity task polls")
    parser.add_argument(
        "--nonsticky-ratio",
        type=float,
        default=0.2,
        help="share of workflow pollers on the normal (non-sticky) queue (SDK default 0.2)",
    )
    parser.add_argument(
        "--no-eager-activities",
        dest="eager_activities",
        action="store_false",
        help="disable eager activity dispatch (on by default, as in the SDK)",
    )
    parser.add_argument(
        "--pg-admin-url",
        type=parse_admin_url,
        default=DEFAULT_PG_ADMIN_URL,
        help="PostgreSQL maintenance database for CREATE/DROP DATABASE bench_<uuid>"
        f" (default {DEFAULT_PG_ADMIN_URL})",
    )
    parser.add_argument(
        "--pg-shards",
        type=int,
        default=None,
        help="PYTEMPORAL_NUM_HISTORY_SHARDS for every PG mode (default: pytemporal-pg 1,"
        " pytemporal-pg-x2 8)",
    )
    parser.add_argument(
        "--metrics",
        choices=("on", "off"),
        default="on",
        help="pytemporal's Prometheus metrics (default on: start-dev's default; off:"
        " --no-metrics, nothing counted); Temporal's dev server always has them",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="max seconds per load phase")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    if args.workflows < 1 or args.concurrency < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--workflows, --concurrency, --repeat must be >= 1; --warmup >= 0")
    if args.pg_shards is not None and args.pg_shards < 1:
        parser.error("--pg-shards must be >= 1")
    return args


async def bench_or_report(name: str, repeat: int, args: argparse.Namespace) -> RunResult | None:
    """Benchmark one server; a server that fails is reported and skipped, not fatal."""
    print(f"[{name} run {repeat}] starting ...", flush=True)
    try:
        result = await bench_server(name, repeat, args)
    except Exception as err:
        print(f"[{name} run {repeat}] FAILED: {err}", file=sys.stderr, flush=True)
        return None
    db = "" if result.db_cpu_ms_per_wf is None else f", db CPU {result.db_cpu_ms_per_wf} ms/wf"
    print(
        f"[{name} run {repeat}] {result.workflows_per_s} wf/s, "
        f"server CPU {result.server_cpu_ms_per_wf} ms/wf{db}",
        flush=True,
    )
    return result


async def main_async(args: argparse.Namespace) -> tuple[list[RunResult], int]:
    """All runs, interleaving servers so drift hits all alike; returns results, failures."""
    results: list[RunResult] = []
    failures = 0
    for repeat in range(1, args.repeat + 1):
        for name in args.servers:
            result = await bench_or_report(name, repeat, args)
            if result is None:
                failures += 1
            else:
                results.append(result)
    return results, failures


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    results, failures = asyncio.run(main_async(args))
    report(results, argv, args.json)
    if failures:
        raise SystemExit(f"{failures} run(s) failed")


if __name__ == "__main__":
    main()
