"""``pytemporal server start-dev``: build a ServerConfig and run the server until a signal.

SIGINT/SIGTERM set the server's stop event (graceful shutdown, exit status 0); a second
signal cancels the shutdown (exit status 130). Note that the temporalio SDK's
``WorkflowEnvironment.shutdown()`` SIGKILLs the process it started: a file database
must survive that.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Protocol

from pytemporal.cli.parser import ignored_flags_given
from pytemporal.common.logging import configure_logging
from pytemporal.common.tls import ServerTLS, TLSConfig, TLSConfigError
from pytemporal.config import ServerConfig
from pytemporal.persistence.urls import redact

logger = logging.getLogger("pytemporal.cli")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Serve(Protocol):
    """The shape of :func:`pytemporal.server.serve`."""

    async def __call__(
        self,
        config: ServerConfig,
        *,
        on_ready: Callable[[str], None] | None = None,
        stop: asyncio.Event | None = None,
        endpoints: dict[str, str] | None = None,
    ) -> None: ...


def load_serve() -> Serve:
    serve: Serve = importlib.import_module("pytemporal.server").serve
    return serve


class UsageError(ValueError):
    pass


def frontend_tls(args: argparse.Namespace) -> ServerTLS | None:
    cert = getattr(args, "tls_cert_path", None)
    key = getattr(args, "tls_key_path", None)
    client_ca = getattr(args, "tls_client_ca_path", None)
    if cert is None and key is None and client_ca is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert-path and --tls-key-path go together")
    return ServerTLS(
        cert_file=cert,
        key_file=key,
        client_ca_files=[client_ca] if client_ca else [],
        require_client_auth=client_ca is not None,
    )


def build_config(args: argparse.Namespace) -> ServerConfig:
    namespaces = [n for n in dict.fromkeys(args.namespace) if n != "default"]
    time_skipping = getattr(args, "server_command", None) == "start-time-skipping"
    http_port = args.http_port
    if http_port is None and not time_skipping:
        http_port = 0  # as Temporal's dev server: always served, on a free port
    ui_port = args.ui_port
    if ui_port is None:
        ui_port = args.port + 1000 if 0 < args.port <= 65535 - 1000 else 0
    return ServerConfig(
        ip=args.ip,
        port=args.port,
        db_filename=args.db_filename,
        namespaces=namespaces,
        search_attributes=dict(args.search_attribute),
        dynamic_config=dict(args.dynamic_config_value),
        headless=args.headless,
        ui_port=ui_port,
        ui_ip=args.ui_ip,
        http_port=http_port,
        metrics_port=_metrics_port(args),
        log_level=args.log_level,
        log_format=args.log_format,
        tls=TLSConfig(frontend=frontend_tls(args)),
        time_skipping=time_skipping,
        time_skipping_unlocked=getattr(args, "enable_time_skipping", False),
    )


def _metrics_port(args: argparse.Namespace) -> int | None:
    if args.no_metrics:
        if args.metrics_port is not None:
            raise UsageError("--metrics-port and --no-metrics exclude each other")
        return None
    # Temporal's dev server always serves metrics; without the flag, on a free port.
    return args.metrics_port if args.metrics_port is not None else 0


# The start banner's endpoint lines: (key in serve()'s `endpoints`, label, URL form).
_ENDPOINT_LINES = (
    ("grpc", "gRPC", "{}"),
    ("http", "HTTP API", "http://{}"),
    ("ui", "Web UI", "http://{}"),
    ("metrics", "Metrics", "http://{}/metrics"),
)


def describe(config: ServerConfig, address: str, endpoints: Mapping[str, str] | None = None) -> str:
    """The banner printed once the server serves: a first line (which tools wait for),
    then one line per endpoint and the database, its password left out."""
    names = ["default", *config.namespaces]
    label = "namespace" if len(names) == 1 else "namespaces"
    database = redact(config.database_url or "") or config.db_filename or "in-memory"
    lines = [
        f"pytemporal server listening on {address} ({label} {', '.join(names)}, database {database})"
    ]
    listening = {"grpc": address, **(endpoints or {})}
    for key, name, form in _ENDPOINT_LINES:
        if listening.get(key):
            if key == "http" and config.tls.frontend is not None:
                form = "https://{}"  # the HTTP API serves the frontend's TLS
            lines.append(f"  {name + ':':<10}{form.format(listening[key])}")
    lines.append(f"  {'Database:':<10}{database}")
    return "\n".join(lines)


def port_unavailable(ip: str, port: int) -> str | None:
    """Why ``ip:port`` cannot be listened on, or None if it can (port 0 always can)."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            ip, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return f"cannot resolve --ip {ip!r}: {exc.strerror}"
    if port == 0:
        return None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Like gRPC's own listener, so a port in TIME_WAIT is not reported as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            return f"cannot listen on {ip}:{port}: {exc.strerror or exc}"
    return None


async def serve_until_signal(serve: Serve, config: ServerConfig) -> bool:
    """Run ``serve`` until SIGINT/SIGTERM; True if it stopped because we asked it to."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("received %s again, not waiting for a graceful shutdown", sig.name)
            if main_task is not None:
                main_task.cancel()
            return
        logger.info("received %s, shutting down", sig.name)
        stop.set()

    endpoints: dict[str, str] = {}

    def on_ready(address: str) -> None:
        print(describe(config, address, endpoints), flush=True)

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await serve(config, on_ready=on_ready, stop=stop, endpoints=endpoints)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return stop.is_set()


def _error(message: str) -> int:
    print(f"pytemporal: error: {message}", file=sys.stderr, flush=True)
    return EXIT_ERROR


def run(args: argparse.Namespace, serve: Serve | None = None) -> int:
    """Run the dev server described by ``args``; returns the process exit status."""
    configure_logging(args.log_level, args.log_format)
    try:
        config = build_config(args)
    except UsageError as exc:
        print(f"pytemporal: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    ignored = ignored_flags_given(args)
    if ignored:
        logger.info("accepted and ignored: %s", ", ".join(ignored))
    if args.log_config:
        print(json.dumps(dataclasses.asdict(config), indent=2), file=sys.stderr, flush=True)
    problem = port_unavailable(config.ip, config.port)
    if problem is not None:
        return _error(problem)
    serve = serve if serve is not None else load_serve()
    try:
        stopped_on_request = asyncio.run(serve_until_signal(serve, config))
    except asyncio.CancelledError:
        return EXIT_INTERRUPTED
    except OSError as exc:
        return _error(f"server failed: {exc}")
    except TLSConfigError as exc:
        return _error(str(exc))
    except RuntimeError as exc:
        if not str(exc).startswith("Failed to bind"):  # grpc's add_insecure_port
            raise
        return _error(f"cannot listen on {config.ip}:{config.port}: {exc}")
    if not stopped_on_request:
        return _error("server stopped before a shutdown was requested")
    return EXIT_OK
