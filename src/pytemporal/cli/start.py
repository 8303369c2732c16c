"""``pytemporal server start --config FILE``: the production server.

Unlike ``start-dev`` it never creates or migrates a schema (run ``pytemporal schema
setup|upgrade`` first) and takes its settings from a YAML file and ``PYTEMPORAL_*``
environment variables (``pytemporal.cli.config_file``). Exit status: 0 after a clean
shutdown (SIGINT/SIGTERM), 1 when the server cannot start (database unreachable,
schema missing or of another version, port taken), 2 for a bad flag or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from pytemporal.cli.config_file import ConfigError, load_server_config
from pytemporal.cli.parser import dynamic_config_value, search_attribute
from pytemporal.cli.start_dev import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Serve,
    load_serve,
    port_unavailable,
    serve_until_signal,
)
from pytemporal.cluster.membership import ClusterConfigError
from pytemporal.common.errors import PersistenceError
from pytemporal.common.logging import configure_logging
from pytemporal.common.tls import TLSConfigError
from pytemporal.config import ServerConfig
from pytemporal.persistence.errors import SchemaMismatch
from pytemporal.persistence.urls import DatabaseURLError

EXIT_BAD_CONFIG = 2
# Global flags that, given on the command line, beat the file and the environment.
_FLAG_OVERRIDES = ("log_level", "log_format")


def register(
    server_commands: Any,
    *,
    formatter_class: Callable[[str], argparse.HelpFormatter],
    add_global_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``start`` to the ``server`` command's `server_commands`."""
    parser = server_commands.add_parser(
        "start",
        prog="pytemporal server start",
        usage="%(prog)s [--config FILE] [--dynamic-config-value KEY=JSON ...]",
        help="Run a server from a YAML config file (PostgreSQL or SQLite).",
        description="Run a server configured by a YAML file and PYTEMPORAL_* environment"
        " variables. The database schema must be set up first (`pytemporal schema setup`).",
        formatter_class=formatter_class,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration; PYTEMPORAL_* environment variables override its keys"
        " (without it, the environment alone configures the server).",
    )
    # The same overrides as start-dev, so a harness can pass one set of flags to either.
    parser.add_argument(
        "--dynamic-config-value",
        metavar="KEY=JSON",
        action="append",
        default=[],
        type=dynamic_config_value,
        help="Dynamic config value (repeatable); overrides the file's dynamic_config.",
    )
    parser.add_argument(
        "--search-attribute",
        metavar="NAME=TYPE",
        action="append",
        default=[],
        type=search_attribute,
        help="Search attribute to register at start (repeatable).",
    )
    add_global_options(parser)


def build_config(args: argparse.Namespace) -> ServerConfig:
    config = load_server_config(args.config, os.environ)
    config.dynamic_config.update(dict(args.dynamic_config_value))
    config.search_attributes.update(dict(args.search_attribute))
    for name in _FLAG_OVERRIDES:
        if name in getattr(args, "explicit_global_flags", ()):
            setattr(config, name, getattr(args, name))
    return config


def run(args: argparse.Namespace, serve: Serve | None = None) -> int:
    try:
        config = build_config(args)
    except ConfigError as e:
        return _error(str(e), EXIT_BAD_CONFIG)
    configure_logging(config.log_level, config.log_format)
    problem = port_unavailable(config.ip, config.port) or port_unavailable(
        config.internode.ip, config.internode.port
    )
    if problem is not None:
        return _error(problem)
    serve = serve if serve is not None else load_serve()
    try:
        stopped_on_request = asyncio.run(serve_until_signal(serve, config))
    except asyncio.CancelledError:
        return EXIT_INTERRUPTED
    except (SchemaMismatch, DatabaseURLError, ClusterConfigError, TLSConfigError) as e:
        return _error(str(e))
    except PersistenceError as e:
        return _error(f"database unavailable: {e.message}")
    except OSError as e:
        return _error(f"server failed: {e}")
    if not stopped_on_request:
        return _error("server stopped before a shutdown was requested")
    return EXIT_OK


def _error(message: str, status: int = EXIT_ERROR) -> int:
    print(f"pytemporal: error: {message}", file=sys.stderr, flush=True)
    return status
