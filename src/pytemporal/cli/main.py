"""Entry point of the ``pytemporal`` command (and ``python -m pytemporal``)."""

from __future__ import annotations

import argparse
import sys

from pytemporal.cli import schema, start, start_dev
from pytemporal.cli.parser import parse_args


def _run(args: argparse.Namespace) -> int:
    if args.command == "schema":
        return schema.run(args)
    if args.server_command == "start":
        return start.run(args)
    if args.server_command in ("start-dev", "start-time-skipping"):
        return start_dev.run(args)
    return 2


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, exit with its status."""
    args = parse_args(argv)
    try:
        status = _run(args)
    except KeyboardInterrupt:
        status = start_dev.EXIT_INTERRUPTED
    sys.exit(status)
