"""Run a pytemporal server inside the test process.

The server runs on its own thread with its own event loop, not on the caller's loop:

- it keeps answering while the test's loop is blocked (synchronous code in a test, a
  sync fixture, ``time.sleep`` in an activity run on the loop);
- it does not care which loop, if any, the caller runs: one server can serve tests
  that pytest-asyncio runs on function-, module- or session-scoped loops, and the
  synchronous API works without a loop at all;
- gRPC aio servers are bound to the loop that created them, so a server made on a
  test's loop would die with that loop.

The price is that the server and the test share the GIL (as they would on one loop);
bench/startup.py measures both modes. ``InProcessServer(..., own_thread=False)``
runs the server as a task of the caller's running loop instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytemporal.config import ServerConfig

# Seconds to wait for the server to listen, and for it to stop, before giving up.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
# A test's server stops when the test is over: the calls still in flight then are
# workers' long polls, which would hold the dev server's one-second grace every time.
SHUTDOWN_GRACE = 0.1


class ServerStartError(RuntimeError):
    """The in-process server did not start (bad options, database, port...)."""


def make_config(
    *,
    ip: str = "127.0.0.1",
    port: int = 0,
    db_filename: str | None = None,
    namespaces: list[str] | tuple[str, ...] = (),
    search_attributes: dict[str, str] | None = None,
    dynamic_config: dict[str, Any] | None = None,
    shutdown_grace: float = SHUTDOWN_GRACE,
    **extra: Any,
) -> ServerConfig:
    """A dev-server configuration for tests: in-memory SQLite and a free port unless told
    otherwise. ``extra`` are further :class:`pytemporal.config.ServerConfig` fields."""
    from pytemporal.config import ServerConfig

    names = [n for n in dict.fromkeys(namespaces) if n != "default"]
    fields = {f.name for f in dataclasses.fields(ServerConfig)}
    unknown = sorted(set(extra) - fields)
    if unknown:
        raise TypeError(f"unknown server option(s): {', '.join(unknown)}")
    return ServerConfig(
        ip=ip,
        port=port,
        db_filename=db_filename,
        namespaces=names,
        search_attributes=dict(search_attributes or {}),
        dynamic_config=dict(dynamic_config or {}),
        shutdown_grace=shutdown_grace,
        **extra,
    )


class InProcessServer:
    """A pytemporal server in this process. ``start()``/``stop()`` (blocking) or
    ``astart()``/``astop()``, or use it as a (async) context manager.

    ``target`` is the ``host:port`` to give ``Client.connect`` once started;
    ``endpoints`` has every listener's address then (keys "grpc", "http", "ui",
    "metrics", as configured)."""

    def __init__(self, config: ServerConfig | None = None, *, own_thread: bool = True) -> None:
        self.config = config if config is not None else make_config()
        self.own_thread = own_thread
        self._target: str | None = None
        self.endpoints: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        # Resolved with the address once listening (or with the start error).
        self._ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        # Resolved when `serve` has returned (or raised).
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._task: asyncio.Task[None] | None = None
        # A stop asked for before the server's loop has its stop event is recorded
        # here, and applied by _main (the lock orders the two).
        self._lock = threading.Lock()
        self._stop_requested = False

    @property
    def target(self) -> str:
        if self._target is None:
            raise RuntimeError("the server is not running")
        return self._target

    @property
    def running(self) -> bool:
        return self._target is not None and not self._done.done()

    # --- the server's side -------------------------------------------------------

    async def _main(self) -> None:
        from pytemporal.server import serve

        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            if self._stop_requested:
                self._stop.set()

        def on_ready(address: str) -> None:
            if not self._ready.done():
                self._ready.set_result(address)

        try:
            await serve(self.config, on_ready=on_ready, stop=self._stop, endpoints=self.endpoints)
        except BaseException as e:
            if not self._ready.done():
                error = ServerStartError(f"server failed to start: {e}")
                error.__cause__ = e
                self._ready.set_exception(error)
            self._done.set_exception(e)
            if not isinstance(e, Exception):
                raise
        else:
            if not self._ready.done():
                self._ready.set_exception(ServerStartError("server stopped before it was ready"))
            self._done.set_result(None)

    def _thread_main(self) -> None:
        with contextlib.suppress(BaseException):  # reported through self._done
            asyncio.run(self._main())

    def _begin(self) -> None:
        if self._thread is not None or self._task is not None:
            raise RuntimeError("an InProcessServer can be started once")
        if self.own_thread:
            self._thread = threading.Thread(
                target=self._thread_main, name="pytemporal-server", daemon=True
            )
            self._thread.start()
        else:
            self._task = asyncio.get_running_loop().create_task(self._main())

    def _request_stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            loop, stop = self._loop, self._stop
        if loop is None or stop is None or self._done.done():
            return
        if self.own_thread:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(stop.set)
        else:
            stop.set()

    def _finish(self) -> None:
        if self._thread is not None:
            self._thread.join()
        started, self._target = self._target is not None, None
        exc = self._done.exception(timeout=0)
        # A failed start was reported by start() already.
        if started and exc is not None and isinstance(exc, Exception):
            raise exc

    # --- blocking API --------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start on a thread of its own and wait until it listens; the target address."""
        if not self.own_thread:
            raise RuntimeError("use `await astart()` for a server on the caller's loop")
        self._begin()
        try:
            self._target = self._ready.result(timeout)
        except BaseException:
            self.stop()
            raise
        return self._target

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop gracefully and wait until the port is closed and the thread gone."""
        if self._thread is None:
            return
        self._request_stop()
        try:
            self._done.exception(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"the in-process server did not stop within {timeout}s") from None
        self._finish()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- async API -----------------------------------------------------------------

    async def astart(self, timeout: float = START_TIMEOUT) -> str:
        """Start without blocking the caller's loop; the target address."""
        self._begin()
        try:
            async with asyncio.timeout(timeout):
                self._target = await asyncio.wrap_future(self._ready)
        except BaseException:
            await self.astop()
            raise
        return self._target

    async def astop(self, timeout: float = STOP_TIMEOUT) -> None:
        if self._thread is None and self._task is None:
            return
        self._request_stop()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wrap_future(self._done)
        except TimeoutError:
            raise TimeoutError(f"the in-process server did not stop within {timeout}s") from None
        except BaseException:
            pass  # the failure is raised by _finish
        self._finish()

    async def __aenter__(self) -> str:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


@contextlib.asynccontextmanager
async def server(
    config: ServerConfig | None = None, *, own_thread: bool = True, **options: Any
) -> AsyncIterator[str]:
    """Run a server for the duration of the block; yields its target address.

    ``async with pytemporal.testing.server() as target:`` gives a dev server on
    in-memory SQLite and a free port. ``options`` are those of :func:`make_config`
    (``namespaces``, ``search_attributes``, ``dynamic_config``, ``db_filename``, ...);
    or pass a complete ``config``."""
    if config is not None and options:
        raise TypeError("pass either a config or options, not both")
    async with InProcessServer(
        config if config is not None else make_config(**options), own_thread=own_thread
    ) as target:
        yield target


@contextlib.contextmanager
def server_sync(config: ServerConfig | None = None, **options: Any) -> Iterator[str]:
    """:func:`server` for synchronous code: ``with server_sync() as target:``."""
    if config is not None and options:
        raise TypeError("pass either a config or options, not both")
    with InProcessServer(config if config is not None else make_config(**options)) as target:
        yield target
