"""The argument parser: ``pytemporal server start-dev`` takes Temporal CLI's flags.

Anything that launches ``temporal server start-dev ...`` (the temporalio SDK's
``WorkflowEnvironment.start_local(dev_server_existing_path=...)`` among others) can
launch ``pytemporal server start-dev ...`` with the same arguments. Flags pytemporal
has no use for (UI assets, client profiles) are accepted, logged and
ignored. Values are checked as the Temporal CLI checks them; a bad one is a usage
error (a message and exit status 2; Temporal's CLI exits 1).

One deliberate difference: ``--log-level fatal`` is accepted. Temporal's CLI rejects it,
but ``start_local(dev_server_log_level=None)`` passes it when the SDK's logger is set
above ERROR.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from pytemporal import __version__
from pytemporal.common.dynamic_config import DynamicConfig, DynamicConfigError
from pytemporal.common.logging import LOG_FORMATS, LOG_LEVELS

SEARCH_ATTRIBUTE_TYPES = ("Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList")
_SA_TYPES_BY_LOWER = {name.lower(): name for name in SEARCH_ATTRIBUTE_TYPES}
_HELP_WIDTH = 100
GLOBAL_GROUP_TITLE = "global options"
IGNORED = "Accepted and ignored (a temporal CLI option)."

# start-dev flags we accept but do not act on: dest -> what it would have configured.
IGNORED_FLAGS = {
    "sqlite_pragma": "--sqlite-pragma",
    "ui_asset_path": "--ui-asset-path",
    "ui_codec_endpoint": "--ui-codec-endpoint",
    "ui_disable_news_fetch": "--ui-disable-news-fetch",
    "ui_public_path": "--ui-public-path",
    "color": "--color",
    "config_file": "--config-file",
    "env": "--env",
    "env_file": "--env-file",
    "profile": "--profile",
    "disable_config_env": "--disable-config-env",
    "disable_config_file": "--disable-config-file",
    "output": "--output",
    "time_format": "--time-format",
    "command_timeout": "--command-timeout",
    "client_connect_timeout": "--client-connect-timeout",
    "no_json_shorthand_payloads": "--no-json-shorthand-payloads",
}
# Defaults of the global options, which are parsed with SUPPRESS (see _add_global_options).
GLOBAL_DEFAULTS: dict[str, Any] = {"log_level": "warn", "log_format": "pretty"}


def _split_pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"invalid {what}: missing expected '=' in {text!r}")
    return key, value


def search_attribute(text: str) -> tuple[str, str]:
    """``NAME=TYPE`` with TYPE matched case-insensitively and normalized (``keyword`` → ``Keyword``)."""
    name, type_name = _split_pair(text, "search attribute")
    normalized = _SA_TYPES_BY_LOWER.get(type_name.lower())
    if normalized is None:
        raise argparse.ArgumentTypeError(
            f"invalid search attribute value type {type_name!r}; "
            f"expected one of {', '.join(SEARCH_ATTRIBUTE_TYPES)}"
        )
    return name, normalized


def dynamic_config_value(text: str) -> tuple[str, Any]:
    """``KEY=JSON``; the value must be one JSON value (``k=1``, ``k="s"``, ``k=true``)."""
    key, raw = _split_pair(text, "dynamic config value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid dynamic config value: invalid JSON value for key {key!r}: {exc}"
        ) from None
    try:
        DynamicConfig.from_values({key: value})
    except DynamicConfigError as exc:
        raise argparse.ArgumentTypeError(f"invalid dynamic config value: {exc}") from None
    return key, value


def port(text: str) -> int:
    """A TCP port; 0 asks the OS for a free one (a pytemporal extension)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: must be 0-65535")
    return value


def _check_duration(text: str) -> str:
    if not re.fullmatch(r"(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+|0", text):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return text


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    """Temporal CLI's global options; accepted before and after the subcommand.

    Defaults are SUPPRESSed so a subcommand does not overwrite a value given before
    it; :data:`GLOBAL_DEFAULTS` fills the gaps after parsing.
    """
    group = parser.add_argument_group(GLOBAL_GROUP_TITLE)
    add = group.add_argument
    s = argparse.SUPPRESS
    add(
        "--log-level",
        choices=LOG_LEVELS,
        metavar="LEVEL",
        default=s,
        help=f"One of {', '.join(LOG_LEVELS)} (default: warn).",
    )
    add(
        "--log-format",
        choices=LOG_FORMATS,
        metavar="FORMAT",
        default=s,
        help=f"One of {', '.join(LOG_FORMATS)} (default: pretty).",
    )
    add("--color", choices=("always", "never", "auto"), metavar="WHEN", default=s, help=IGNORED)
    add("--config-file", metavar="PATH", default=s, help=IGNORED)
    add("--env", metavar="ENV", default=s, help=IGNORED)
    add("--env-file", metavar="PATH", default=s, help=IGNORED)
    add("--profile", metavar="NAME", default=s, help=IGNORED)
    add("--disable-config-env", action="store_true", default=s, help=IGNORED)
    add("--disable-config-file", action="store_true", default=s, help=IGNORED)
    add(
        "-o",
        "--output",
        choices=("text", "json", "jsonl", "none"),
        metavar="FORMAT",
        default=s,
        help=IGNORED,
    )
    add(
        "--time-format",
        choices=("relative", "iso", "raw"),
        metavar="FORMAT",
        default=s,
        help=IGNORED,
    )
    add("--command-timeout", type=_check_duration, metavar="DURATION", default=s, help=IGNORED)
    add(
        "--client-connect-timeout",
        type=_check_duration,
        metavar="DURATION",
        default=s,
        help=IGNORED,
    )
    add("--no-json-shorthand-payloads", action="store_true", default=s, help=IGNORED)


def _add_start_dev_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--ip",
        default="127.0.0.1",
        help="IP address the gRPC frontend binds to (default: 127.0.0.1).",
    )
    add(
        "-p",
        "--port",
        type=port,
        default=7233,
        help="Port of the gRPC frontend (default: 7233; 0: any free port).",
    )
    add(
        "-f",
        "--db-filename",
        metavar="PATH",
        help="SQLite file for persistent state. Omitted: in-memory, lost at exit.",
    )
    add(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NAME",
        help="Namespace to create at start (repeatable); 'default' always exists.",
    )
    add(
        "--search-attribute",
        action="append",
        type=search_attribute,
        default=[],
        metavar="NAME=TYPE",
        help="Custom search attribute to register (repeatable). TYPE: "
        + ", ".join(SEARCH_ATTRIBUTE_TYPES)
        + " (any case).",
    )
    add(
        "--dynamic-config-value",
        action="append",
        type=dynamic_config_value,
        default=[],
        metavar="KEY=JSON",
        help='Dynamic config value (repeatable), e.g. limit.blobSize.error=1024 or k="s".',
    )
    add("--headless", action="store_true", help="Disable the web UI.")
    add("--ui-ip", metavar="IP", help="IP address the web UI binds to (default: --ip).")
    add("--ui-port", type=port, metavar="PORT", help="Port of the web UI (default: --port + 1000).")
    add(
        "--http-port",
        type=port,
        metavar="PORT",
        help="Port of Temporal's HTTP API (/api/v1/...), on --ip (default: a free port).",
    )
    add(
        "--metrics-port",
        type=port,
        metavar="PORT",
        help="Port of the Prometheus /metrics endpoint (and /health), on --ip"
        " (default: a free port, as Temporal's dev server).",
    )
    add(
        "--no-metrics",
        action="store_true",
        help="Serve no metrics endpoint and count nothing (pytemporal's; Temporal's dev"
        " server always serves metrics).",
    )
    add("--log-config", action="store_true", help="Print the server config to stderr.")
    add(
        "--tls-cert-path",
        metavar="PATH",
        help="PEM certificate (chain) of the gRPC frontend: serve TLS. Needs --tls-key-path."
        " Read again when the file changes.",
    )
    add("--tls-key-path", metavar="PATH", help="PEM private key of --tls-cert-path.")
    add(
        "--tls-client-ca-path",
        metavar="PATH",
        help="PEM file of the CAs that sign client certificates: require one (mutual TLS).",
    )
    _add_ignored_start_dev_options(parser)


def _add_ignored_start_dev_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("accepted for compatibility with temporal, and ignored")
    add = group.add_argument
    add(
        "--sqlite-pragma",
        action="append",
        metavar="PRAGMA=VALUE",
        help="SQLite pragma (repeatable).",
    )
    add("--ui-asset-path", metavar="PATH", help="Web UI custom assets path.")
    add("--ui-codec-endpoint", metavar="URL", help="Web UI remote codec endpoint.")
    add("--ui-disable-news-fetch", action="store_true", help="Disable the web UI newsfeed.")
    add("--ui-public-path", metavar="PATH", help="Public base path of the web UI.")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=_HELP_WIDTH, max_help_position=36)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytemporal",
        usage="%(prog)s [global flags] COMMAND ...",
        description="pytemporal: the Temporal server, in Python.",
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"pytemporal {__version__}")
    _add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server = commands.add_parser(
        "server",
        prog="pytemporal server",
        usage="%(prog)s COMMAND [flags]",
        help="Run a server.",
        description="Run a server.",
        formatter_class=_formatter,
    )
    _add_global_options(server)
    server_commands = server.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    start_dev = server_commands.add_parser(
        "start-dev",
        prog="pytemporal server start-dev",
        usage="%(prog)s [flags]",
        help="Run a development server (flags of `temporal server start-dev`).",
        description="Run a development server. Takes the flags of `temporal server start-dev`.",
        formatter_class=_formatter,
    )
    _add_start_dev_options(start_dev)
    _add_global_options(start_dev)
    time_skipping = server_commands.add_parser(
        "start-time-skipping",
        prog="pytemporal server start-time-skipping",
        usage="%(prog)s [flags]",
        help="Run a time-skipping test server (docs/testing.md).",
        description="Run a development server that also serves Temporal's TestService and"
        " skips time when nothing is runnable (what `temporal-test-server` does). Takes the"
        " flags of start-dev. `pytemporal PORT [--enable-time-skipping]`, the test server's"
        " command line, runs this command.",
        formatter_class=_formatter,
    )
    _add_start_dev_options(time_skipping)
    time_skipping.add_argument(
        "--enable-time-skipping",
        action="store_true",
        help="Start with time skipping unlocked (default: locked once, as SDKs expect).",
    )
    _add_global_options(time_skipping)
    # Imported here: those modules use this one's helpers (search_attribute, port...).
    from pytemporal.cli import schema, start

    hooks: dict[str, Any] = {
        "formatter_class": _formatter,
        "add_global_options": _add_global_options,
    }
    start.register(server_commands, **hooks)
    schema.register(commands, **hooks)
    return parser


def expand_test_server_argv(argv: list[str]) -> list[str]:
    """``PORT [flags]`` (how SDKs launch Temporal's test server, e.g.
    ``WorkflowEnvironment.start_time_skipping(test_server_existing_path=...)``) as
    ``server start-time-skipping --port PORT --headless [flags]``; other argv unchanged."""
    if argv and argv[0].isdigit():
        return ["server", "start-time-skipping", "--port", argv[0], "--headless", *argv[1:]]
    return argv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; exits with status 2 and a message on a bad flag or value."""
    args = build_parser().parse_args(
        expand_test_server_argv(sys.argv[1:] if argv is None else argv)
    )
    # Which global flags were given, for commands whose config files also set them.
    args.explicit_global_flags = {name for name in GLOBAL_DEFAULTS if hasattr(args, name)}
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def ignored_flags_given(args: argparse.Namespace) -> list[str]:
    """The accepted-but-ignored flags that were given, for a log line."""
    return [flag for dest, flag in IGNORED_FLAGS.items() if getattr(args, dest, None)]
