"""Workflow throughput benchmark: pytemporal vs. Temporal's Go dev server.

Each selected server is started as a subprocess on a free port with a fresh file
database, then driven by the same harness: a ``temporalio`` worker running in this
process (unsandboxed) and C concurrent drivers that each ``start_workflow`` and await
the result, for N workflows that each execute exactly one activity.

Usage::

    python bench/throughput.py [--servers pytemporal,reference] [--workflows N]
                               [--concurrency C] [--repeat R] [--json OUT]

See bench/RESULTS.md for the figures and how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
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

import psutil
from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

SERVER_NAMES = ("pytemporal", "reference")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 4000

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


def reference_command(port: int, db_file: Path) -> list[str]:
    return [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--log-level", "warn",
        "--db-filename", str(db_file),
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=NORMAL",
    ]  # fmt: skip


def pytemporal_command(port: int, db_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytemporal", "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--log-level", "warn",
        "--db-filename", str(db_file),
    ]  # fmt: skip


COMMANDS: dict[str, Callable[[int, Path], list[str]]] = {
    "pytemporal": pytemporal_command,
    "reference": reference_command,
}


class ServerProcess:
    """A dev server subprocess with its own temp dir, database and log file."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bench-{name}-")
        self.db_file = Path(self._tmp.name) / "bench.db"
        self.log_file = Path(self._tmp.name) / "server.log"
        self.command = COMMANDS[name](self.port, self.db_file)
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = self.log_file.open("wb")
        self._proc = subprocess.Popen(
            self.command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self._tmp.name
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
        root = psutil.Process(self._proc.pid)
        return [root, *root.children(recursive=True)]

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
        self._tmp.cleanup()


async def connect_when_ready(server: ServerProcess, timeout_s: float) -> Client:
    """Poll until the server accepts a client and knows the default namespace."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        code = server.exit_code()
        if code is not None:
            raise RuntimeError(f"{server.name} exited with {code}:\n{server.log_tail()}")
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
        f"{server.name} not ready after {timeout_s}s: {last_error!r}\n{server.log_tail()}"
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
    client: Client, task_queue: str, prefix: str, count: int, concurrency: int
) -> tuple[Samples, float]:
    """Run ``count`` workflows keeping ``concurrency`` in flight; return samples, wall s."""
    samples = Samples()
    ids: Iterator[int] = iter(range(count))

    async def driver() -> None:
        for i in ids:
            await run_one(client, task_queue, f"{prefix}-{i}", samples)

    t0 = time.perf_counter()
    await asyncio.gather(*(driver() for _ in range(min(concurrency, count))))
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
    wall_s: float
    workflows_per_s: float
    start_p50_ms: float
    start_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    server_cpu_ms_per_wf: float
    bench_cpu_ms_per_wf: float
    other_cpu_cores: float
    server_rss_mb: float
    server_command: list[str]


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds: server tree, this process, and the whole machine (busy)."""

    server: float
    bench: float
    machine: float

    @classmethod
    def take(cls, server: ServerProcess) -> CpuSnapshot:
        own = psutil.Process().cpu_times()
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return cls(server.cpu_seconds(), float(own.user + own.system), float(busy))

    def __sub__(self, other: CpuSnapshot) -> CpuSnapshot:
        return CpuSnapshot(
            self.server - other.server, self.bench - other.bench, self.machine - other.machine
        )


@dataclass(frozen=True)
class Measurement:
    samples: Samples
    wall_s: float
    cpu: CpuSnapshot
    server_rss_mb: float


async def within(phase: Awaitable[T], timeout_s: float, server: ServerProcess) -> T:
    """Await a load phase, failing with the server's state if it overruns."""
    try:
        return await asyncio.wait_for(phase, timeout=timeout_s)
    except TimeoutError:
        state = f"exit code {server.exit_code()}\n{server.log_tail()}"
        raise TimeoutError(f"{server.name}: phase exceeded {timeout_s}s; {state}") from None


async def bench_server(name: str, repeat: int, args: argparse.Namespace) -> RunResult:
    server = ServerProcess(name)
    server.start()
    try:
        client = await connect_when_ready(server, READY_TIMEOUT_S)
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        async with build_worker(client, task_queue, WorkerConfig.from_args(args)):
            warm = drive(client, task_queue, f"{task_queue}-warm", args.warmup, args.concurrency)
            await within(warm, args.timeout, server)
            before = CpuSnapshot.take(server)
            run = drive(client, task_queue, f"{task_queue}-run", args.workflows, args.concurrency)
            samples, wall = await within(run, args.timeout, server)
            cpu = CpuSnapshot.take(server) - before
            measured = Measurement(samples, wall, cpu, server.rss_mb())
        return summarize(name, repeat, args.concurrency, measured, server.command)
    finally:
        server.stop()


def summarize(
    name: str, repeat: int, concurrency: int, m: Measurement, command: list[str]
) -> RunResult:
    n = len(m.samples.e2e_s)
    other_cpu = max(0.0, m.cpu.machine - m.cpu.server - m.cpu.bench)
    return RunResult(
        server=name,
        repeat=repeat,
        workflows=n,
        concurrency=concurrency,
        wall_s=round(m.wall_s, 3),
        workflows_per_s=round(n / m.wall_s, 1),
        start_p50_ms=round(percentile(m.samples.start_s, 50) * 1000, 2),
        start_p99_ms=round(percentile(m.samples.start_s, 99) * 1000, 2),
        e2e_p50_ms=round(percentile(m.samples.e2e_s, 50) * 1000, 2),
        e2e_p99_ms=round(percentile(m.samples.e2e_s, 99) * 1000, 2),
        server_cpu_ms_per_wf=round(m.cpu.server * 1000 / n, 3),
        bench_cpu_ms_per_wf=round(m.cpu.bench * 1000 / n, 3),
        other_cpu_cores=round(other_cpu / m.wall_s, 2),
        server_rss_mb=round(m.server_rss_mb, 1),
        server_command=command,
    )


COLUMNS = (
    ("server", "server", 10),
    ("repeat", "run", 3),
    ("workflows_per_s", "wf/s", 7),
    ("start_p50_ms", "start p50 ms", 12),
    ("start_p99_ms", "start p99 ms", 12),
    ("e2e_p50_ms", "e2e p50 ms", 10),
    ("e2e_p99_ms", "e2e p99 ms", 10),
    ("server_cpu_ms_per_wf", "srv CPU ms/wf", 13),
    ("bench_cpu_ms_per_wf", "bench CPU ms/wf", 15),
    ("server_rss_mb", "srv RSS MB", 10),
    ("other_cpu_cores", "other CPU cores", 15),
)


def format_row(values: Sequence[object]) -> str:
    return "  ".join(f"{v!s:>{width}}" for v, (_, _, width) in zip(values, COLUMNS, strict=True))


def print_table(results: Sequence[RunResult]) -> None:
    print(format_row([title for _, title, _ in COLUMNS]))
    for result in results:
        row = asdict(result)
        print(format_row([row[key] for key, _, _ in COLUMNS]))


def median_of(results: Sequence[RunResult], server: str, key: str) -> float | None:
    values = [float(getattr(r, key)) for r in results if r.server == server]
    return statistics.median(values) if values else None


RATIO_KEYS = {
    "throughput": "workflows_per_s",
    "server_cpu_per_wf": "server_cpu_ms_per_wf",
    "start_p50": "start_p50_ms",
    "start_p99": "start_p99_ms",
    "e2e_p50": "e2e_p50_ms",
    "e2e_p99": "e2e_p99_ms",
}


def ratios(results: Sequence[RunResult]) -> dict[str, float]:
    """pytemporal/reference ratios of the per-server medians (empty if either is missing)."""
    out: dict[str, float] = {}
    for label, key in RATIO_KEYS.items():
        ours = median_of(results, "pytemporal", key)
        theirs = median_of(results, "reference", key)
        if ours is not None and theirs:
            out[label] = round(ours / theirs, 3)
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
    ratio = ratios(results)
    if ratio:
        print("\npytemporal/reference ratios (medians over repeats):")
        for label, value in ratio.items():
            print(f"  {label:<18} {value}")
    print(f"\ncommand: {command}")
    print(f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r} {machine['platform']}")
    if json_out is not None:
        payload = {
            "command": command,
            "machine": machine,
            "results": [asdict(r) for r in results],
            "ratios_pytemporal_over_reference": ratio,
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=parse_servers, default=list(SERVER_NAMES))
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
    parser.add_argument("--timeout", type=float, default=600.0, help="max seconds per load phase")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    if args.workflows < 1 or args.concurrency < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--workflows, --concurrency, --repeat must be >= 1; --warmup >= 0")
    return args


async def bench_or_report(name: str, repeat: int, args: argparse.Namespace) -> RunResult | None:
    """Benchmark one server; a server that fails is reported and skipped, not fatal."""
    print(f"[{name} run {repeat}] starting ...", flush=True)
    try:
        result = await bench_server(name, repeat, args)
    except Exception as err:
        print(f"[{name} run {repeat}] FAILED: {err}", file=sys.stderr, flush=True)
        return None
    print(
        f"[{name} run {repeat}] {result.workflows_per_s} wf/s, "
        f"server CPU {result.server_cpu_ms_per_wf} ms/wf",
        flush=True,
    )
    return result


async def main_async(args: argparse.Namespace) -> tuple[list[RunResult], int]:
    """All runs, interleaving servers so drift hits both alike; returns results, failures."""
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
