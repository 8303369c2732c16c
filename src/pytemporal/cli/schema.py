"""``pytemporal schema setup|upgrade --db URL``: create or migrate a database's schema.

Exit status: 0 when the schema is current afterwards (including "nothing to do"),
1 when the database refuses (unreachable, or a schema this version cannot handle),
2 for a bad flag or a missing URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from pytemporal.common.errors import PersistenceError
from pytemporal.common.logging import configure_logging
from pytemporal.persistence import schema_tool, urls
from pytemporal.persistence.errors import SchemaMismatch

DATABASE_ENV = "PYTEMPORAL_DATABASE_URL"
_COMMANDS = {
    "setup": "Create the schema in an empty database (nothing to do if it is current).",
    "upgrade": "Apply the migrations an older schema is missing, in order.",
}


def register(
    commands: Any,
    *,
    formatter_class: Callable[[str], argparse.HelpFormatter],
    add_global_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``schema`` and its subcommands to the root parser's `commands`."""
    schema = commands.add_parser(
        "schema",
        prog="pytemporal schema",
        usage="%(prog)s COMMAND --db URL",
        help="Set up or upgrade a database schema.",
        description="Set up or upgrade the schema of a SQLite or PostgreSQL database.",
        formatter_class=formatter_class,
    )
    add_global_options(schema)
    subcommands = schema.add_subparsers(dest="schema_command", metavar="COMMAND", required=True)
    for name, text in _COMMANDS.items():
        sub = subcommands.add_parser(
            name,
            prog=f"pytemporal schema {name}",
            usage="%(prog)s --db URL",
            help=text,
            description=text,
            formatter_class=formatter_class,
        )
        sub.add_argument(
            "--db",
            metavar="URL",
            help=f"postgresql://user@host:5432/db or sqlite:///path.db (default: ${DATABASE_ENV}).",
        )
        add_global_options(sub)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    url = args.db or os.environ.get(DATABASE_ENV)
    if not url:
        return _error(f"give the database with --db URL (or set {DATABASE_ENV})", status=2)
    action = schema_tool.setup if args.schema_command == "setup" else schema_tool.upgrade
    try:
        change = asyncio.run(action(url))
    except (SchemaMismatch, urls.DatabaseURLError) as e:
        return _error(str(e))
    except PersistenceError as e:
        return _error(e.message)
    db = urls.redact(url)
    if not change.changed:
        print(f"{db} is already at schema version {change.after}; nothing to do", flush=True)
    elif change.before is None:
        print(f"{db}: created schema version {change.after}", flush=True)
    else:
        print(f"{db}: upgraded schema from version {change.before} to {change.after}", flush=True)
    return 0


def _error(message: str, status: int = 1) -> int:
    print(f"pytemporal: error: {message}", file=sys.stderr, flush=True)
    return status
