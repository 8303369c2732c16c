"""The ``pytemporal`` command line: parser, start-dev lifecycle, logging, generated docs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.testing import WorkflowEnvironment

from pytemporal import __version__
from pytemporal.cli import start_dev
from pytemporal.cli.docs import render_markdown
from pytemporal.cli.main import main
from pytemporal.cli.parser import ignored_flags_given, parse_args
from pytemporal.common.logging import configure_logging
from pytemporal.common.tls import ServerTLS, TLSConfig
from pytemporal.config import ServerConfig

REPO_ROOT = Path(__file__).resolve().parents[2]

# What temporalio 1.35's WorkflowEnvironment.start_local() passes to
# `<dev_server_existing_path> ...` with default arguments (captured by pointing
# dev_server_existing_path at a script that logs its argv). The port is random.
START_LOCAL_ARGV = [
    "server",
    "start-dev",
    "--port",
    "36421",
    "--namespace",
    "default",
    "--ip",
    "127.0.0.1",
    "--log-format",
    "pretty",
    "--log-level",
    "warn",
    "--dynamic-config-value",
    "frontend.enableServerVersionCheck=false",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecution=true",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
    "--headless",
]

# start_local(namespace="ns1", port=37777, ui=True, ui_port=38888, search_attributes=[one
# of each type], dev_server_database_filename=..., dev_server_log_level=None (logger at
# INFO), dev_server_log_format="json", dev_server_extra_args=[...]).
START_LOCAL_ARGV_ALL_OPTIONS = [
    "server",
    "start-dev",
    "--port",
    "37777",
    "--namespace",
    "ns1",
    "--ip",
    "127.0.0.1",
    "--log-format",
    "json",
    "--log-level",
    "info",
    "--dynamic-config-value",
    "frontend.enableServerVersionCheck=false",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecution=true",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
    "--db-filename",
    "/tmp/db.sqlite",
    "--ui-port",
    "38888",
    "--search-attribute",
    "t1=Text",
    "--search-attribute",
    "k1=Keyword",
    "--search-attribute",
    "i1=Int",
    "--search-attribute",
    "f1=Double",
    "--search-attribute",
    "b1=Bool",
    "--search-attribute",
    "d1=Datetime",
    "--search-attribute",
    "kl1=KeywordList",
    "--dynamic-config-value",
    "x.y=1",
]

# The extra arguments the temporalio SDK's own test suite passes (tests/conftest.py).
SDK_TEST_SUITE_EXTRA_ARGS = [
    "--dynamic-config-value",
    "system.forceSearchAttributesCacheRefreshOnRead=true",
    "--dynamic-config-value",
    "limit.historyCount.suggestContinueAsNew=50",
    "--dynamic-config-value",
    "system.enableEagerWorkflowStart=true",
    "--dynamic-config-value",
    "frontend.enableExecuteMultiOperation=true",
    "--dynamic-config-value",
    "frontend.workerVersioningWorkflowAPIs=true",
    "--dynamic-config-value",
    "frontend.workerVersioningDataAPIs=true",
    "--dynamic-config-value",
    "system.enableDeploymentVersions=true",
    "--dynamic-config-value",
    "frontend.activityAPIsEnabled=true",
    "--dynamic-config-value",
    "component.nexusoperations.recordCancelRequestCompletionEvents=true",
    "--http-port",
    "7243",
]

# Every flag of `temporal server start-dev --help` (CLI 1.9.1), with a valid value.
EVERY_TEMPORAL_START_DEV_FLAG = [
    ["-f", "x.db"],
    ["--db-filename", "x.db"],
    ["--dynamic-config-value", 'k="v"'],
    ["--headless"],
    ["--http-port", "7243"],
    ["--ip", "0.0.0.0"],
    ["--log-config"],
    ["--metrics-port", "9090"],
    ["-n", "ns"],
    ["--namespace", "ns"],
    ["-p", "7000"],
    ["--port", "7000"],
    ["--search-attribute", "k=Keyword"],
    ["--sqlite-pragma", "journal_mode=WAL"],
    ["--ui-asset-path", "/tmp"],
    ["--ui-codec-endpoint", "http://localhost:8888"],
    ["--ui-disable-news-fetch"],
    ["--ui-ip", "127.0.0.1"],
    ["--ui-port", "3000"],
    ["--ui-public-path", "/ui"],
    # Global options (`temporal options`).
    ["--client-connect-timeout", "5s"],
    ["--color", "never"],
    ["--command-timeout", "1m30s"],
    ["--config-file", "/nonexistent.toml"],
    ["--disable-config-env"],
    ["--disable-config-file"],
    ["--env", "default"],
    ["--env-file", "/nonexistent"],
    ["--log-format", "text"],
    ["--log-level", "never"],
    ["--no-json-shorthand-payloads"],
    ["-o", "json"],
    ["--output", "jsonl"],
    ["--profile", "p"],
    ["--time-format", "iso"],
]


def start_dev_args(*flags: str) -> list[str]:
    return ["server", "start-dev", *flags]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- What launchers pass ----------------------------------------------------------


def test_start_local_default_argv_parses() -> None:
    config = start_dev.build_config(parse_args(START_LOCAL_ARGV))
    assert config == ServerConfig(
        ip="127.0.0.1",
        port=36421,
        db_filename=None,
        namespaces=[],
        search_attributes={},
        dynamic_config={
            "frontend.enableServerVersionCheck": False,
            "frontend.enableUpdateWorkflowExecution": True,
            "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
        },
        headless=True,
        ui_port=37421,
        http_port=0,
        metrics_port=0,  # Temporal's dev server serves metrics on a free port
        log_level="warn",
        log_format="pretty",
    )


def test_start_local_argv_with_every_option_parses() -> None:
    config = start_dev.build_config(parse_args(START_LOCAL_ARGV_ALL_OPTIONS))
    assert config.port == 37777
    assert config.namespaces == ["ns1"]
    assert config.db_filename == "/tmp/db.sqlite"
    assert (config.headless, config.ui_port) == (False, 38888)
    assert (config.log_level, config.log_format) == ("info", "json")
    assert config.search_attributes == {
        "t1": "Text",
        "k1": "Keyword",
        "i1": "Int",
        "f1": "Double",
        "b1": "Bool",
        "d1": "Datetime",
        "kl1": "KeywordList",
    }
    assert config.dynamic_config["x.y"] == 1


def test_sdk_test_suite_extra_args_parse() -> None:
    args = parse_args(START_LOCAL_ARGV + SDK_TEST_SUITE_EXTRA_ARGS)
    config = start_dev.build_config(args)
    assert config.dynamic_config["limit.historyCount.suggestContinueAsNew"] == 50
    assert config.dynamic_config["frontend.enableExecuteMultiOperation"] is True
    assert config.http_port == 7243
    assert ignored_flags_given(args) == []


@pytest.mark.parametrize("flag", EVERY_TEMPORAL_START_DEV_FLAG, ids=lambda f: f[0])
def test_every_temporal_start_dev_flag_is_accepted(flag: list[str]) -> None:
    parse_args(start_dev_args(*flag))


def test_global_flags_go_before_or_after_the_command_and_the_last_wins() -> None:
    args = parse_args(["--log-level", "debug", "--log-format", "json", *start_dev_args()])
    assert (args.log_level, args.log_format) == ("debug", "json")
    args = parse_args(["--log-format", "json", *start_dev_args("--log-format", "text")])
    assert args.log_format == "text"
    args = parse_args(start_dev_args())
    assert (args.log_level, args.log_format) == ("warn", "pretty")


def test_defaults() -> None:
    config = start_dev.build_config(parse_args(start_dev_args()))
    assert (config.ip, config.port, config.db_filename) == ("127.0.0.1", 7233, None)
    assert (config.headless, config.ui_port, config.ui_ip) == (False, 8233, None)
    assert (config.namespaces, config.search_attributes, config.dynamic_config) == ([], {}, {})


def test_short_flags() -> None:
    args = parse_args(start_dev_args("-p", "7000", "-f", "x.db", "-n", "a", "-o", "json"))
    assert (args.port, args.db_filename, args.namespace) == (7000, "x.db", ["a"])


# --- Repeatable flags ----------------------------------------------------------------


def test_namespaces_repeat_and_default_is_implicit() -> None:
    args = parse_args(start_dev_args("-n", "a", "--namespace", "default", "-n", "b", "-n", "a"))
    assert start_dev.build_config(args).namespaces == ["a", "b"]


def test_search_attributes_repeat_and_the_last_of_a_name_wins() -> None:
    args = parse_args(
        start_dev_args(
            "--search-attribute",
            "A=Int",
            "--search-attribute",
            "B=Bool",
            "--search-attribute",
            "A=Text",
        )
    )
    assert start_dev.build_config(args).search_attributes == {"A": "Text", "B": "Bool"}


def test_dynamic_config_values_repeat_and_decode_json() -> None:
    args = parse_args(
        start_dev_args(
            "--dynamic-config-value",
            'some.key="text"',
            "--dynamic-config-value",
            'other.key={"a": [1, 2.5, null]}',
            "--dynamic-config-value",
            "limit.blobSize.error=1024",
            "--dynamic-config-value",
            "limit.blobSize.error=2048",
        )
    )
    assert start_dev.build_config(args).dynamic_config == {
        "some.key": "text",
        "other.key": {"a": [1, 2.5, None]},
        "limit.blobSize.error": 2048,
    }


# --- Validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("keyword", "Keyword"),
        ("KEYWORDLIST", "KeywordList"),
        ("text", "Text"),
        ("INT", "Int"),
        ("double", "Double"),
        ("bool", "Bool"),
        ("DateTime", "Datetime"),
    ],
)
def test_search_attribute_type_is_case_insensitive_and_normalized(
    given: str, normalized: str
) -> None:
    args = parse_args(start_dev_args("--search-attribute", f"Name={given}"))
    assert args.search_attribute == [("Name", normalized)]


def expect_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("value", ["x=Float", "x=bogus", "x=", "x"])
def test_bad_search_attribute_is_an_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = expect_usage_error(capsys, start_dev_args("--search-attribute", value))
    assert "--search-attribute" in err
    assert "Keyword" in err or "missing expected '='" in err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k=notjson", "invalid JSON value for key 'k'"),
        ("k=", "invalid JSON value for key 'k'"),
        ("k=1=2", "invalid JSON value for key 'k'"),
        ("k", "missing expected '='"),
        ('limit.blobSize.error="big"', "limit.blobSize.error: expected an integer"),
        ("frontend.enableUpdateWorkflowExecution=1", "expected a boolean"),
    ],
)
def test_bad_dynamic_config_value_is_an_error(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    err = expect_usage_error(capsys, start_dev_args("--dynamic-config-value", value))
    assert "--dynamic-config-value" in err
    assert message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "abc"],
        ["--port", "70000"],
        ["--ui-port", "-1"],
        ["--log-level", "warning"],
        ["--log-level", "DEBUG"],
        ["--log-format", "JSON"],
        ["--command-timeout", "soon"],
        ["--tls"],
        ["--address", "localhost:7233"],
    ],
)
def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    expect_usage_error(capsys, start_dev_args(*argv))


@pytest.mark.parametrize("level", ["debug", "info", "warn", "error", "fatal", "never"])
def test_log_levels(level: str) -> None:
    assert parse_args(start_dev_args("--log-level", level)).log_level == level


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    expect_usage_error(capsys, [])
    expect_usage_error(capsys, ["server"])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"pytemporal {__version__}\n"


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["server", "start-dev", "--help"])
    assert exited.value.code == 0
    assert "--dynamic-config-value KEY=JSON" in capsys.readouterr().out


# --- start-dev lifecycle with a stub server ------------------------------------------


def stub_serve(
    body: Callable[[ServerConfig, Callable[[str], None], asyncio.Event], object],
) -> start_dev.Serve:
    async def serve(
        config: ServerConfig,
        *,
        on_ready: Callable[[str], None] | None = None,
        stop: asyncio.Event | None = None,
        endpoints: dict[str, str] | None = None,
    ) -> None:
        assert on_ready is not None and stop is not None
        result = body(config, on_ready, stop)
        if asyncio.iscoroutine(result):
            await result

    return serve


def run_start_dev(serve: start_dev.Serve, *flags: str) -> int:
    return start_dev.run(parse_args(start_dev_args("--port", "0", *flags)), serve=serve)


def test_sigterm_stops_the_server_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[ServerConfig] = []

    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        seen.append(config)
        on_ready("127.0.0.1:45678")
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)

    status = run_start_dev(stub_serve(body), "-n", "ns1", "-f", "state.db")
    assert status == 0
    assert seen[0].namespaces == ["ns1"]
    assert capsys.readouterr().out == (
        "pytemporal server listening on 127.0.0.1:45678 "
        "(namespaces default, ns1, database state.db)\n"
        "  gRPC:     127.0.0.1:45678\n"
        "  Database: state.db\n"
    )


def test_sigint_stops_the_server_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        on_ready("127.0.0.1:45678")
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(stop.wait(), timeout=10)

    assert run_start_dev(stub_serve(body)) == 0
    assert "(namespace default, database in-memory)" in capsys.readouterr().out


def test_a_second_signal_abandons_the_graceful_shutdown() -> None:
    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(10)  # a shutdown that hangs; the second signal cancels it

    assert run_start_dev(stub_serve(body)) == start_dev.EXIT_INTERRUPTED


def test_signal_handlers_are_removed_after_the_server_stops() -> None:
    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)

    before = signal.getsignal(signal.SIGTERM)
    run_start_dev(stub_serve(body))
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    def body(config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event) -> None:
        raise AssertionError("the server must not be started")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = start_dev.run(
            parse_args(start_dev_args("--port", str(port))), serve=stub_serve(body)
        )
    assert status == 1
    assert f"pytemporal: error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_server_that_fails_to_bind_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    def body(config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event) -> None:
        raise OSError(98, "Address already in use")

    assert run_start_dev(stub_serve(body)) == 1
    assert "pytemporal: error: server failed:" in capsys.readouterr().err


def test_a_server_that_returns_on_its_own_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    def body(config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event) -> None:
        return None

    assert run_start_dev(stub_serve(body)) == 1
    assert "stopped before a shutdown was requested" in capsys.readouterr().err


def test_log_config_prints_the_config_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)

    run_start_dev(stub_serve(body), "--log-config", "--log-level", "never")
    err = capsys.readouterr().err
    assert json.loads(err)["port"] == 0


def test_ignored_flags_are_logged_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    async def body(
        config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event
    ) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)

    flags = ("--log-level", "info", "--sqlite-pragma", "journal_mode=WAL", "--ui-asset-path", "/x")
    run_start_dev(stub_serve(body), *flags)
    err = capsys.readouterr().err
    assert "accepted and ignored: --sqlite-pragma, --ui-asset-path" in err


def test_metrics_port_is_served_not_ignored() -> None:
    args = parse_args(start_dev_args("--metrics-port", "9090"))
    assert start_dev.build_config(args).metrics_port == 9090
    assert "metrics" not in " ".join(ignored_flags_given(args))
    assert start_dev.build_config(parse_args(start_dev_args())).metrics_port == 0
    assert start_dev.build_config(parse_args(start_dev_args("--no-metrics"))).metrics_port is None
    with pytest.raises(start_dev.UsageError, match="exclude each other"):
        start_dev.build_config(parse_args(start_dev_args("--no-metrics", "--metrics-port", "1")))


def test_describe_names_every_namespace_and_the_database() -> None:
    config = ServerConfig(namespaces=["a", "b"], db_filename="/var/x.db")
    assert start_dev.describe(config, "0.0.0.0:7233") == (
        "pytemporal server listening on 0.0.0.0:7233 (namespaces default, a, b, database /var/x.db)\n"
        "  gRPC:     0.0.0.0:7233\n"
        "  Database: /var/x.db"
    )


def test_the_banner_lists_every_endpoint_and_hides_the_password() -> None:
    config = ServerConfig(database_url="postgresql://temporal:s3cret@db:5432/temporal")
    endpoints = {"http": "127.0.0.1:7243", "ui": "127.0.0.1:8233", "metrics": "0.0.0.0:9090"}
    banner = start_dev.describe(config, "127.0.0.1:7233", endpoints)
    assert banner.splitlines()[1:] == [
        "  gRPC:     127.0.0.1:7233",
        "  HTTP API: http://127.0.0.1:7243",
        "  Web UI:   http://127.0.0.1:8233",
        "  Metrics:  http://0.0.0.0:9090/metrics",
        "  Database: postgresql://temporal:***@db:5432/temporal",
    ]
    assert "s3cret" not in banner
    tls = ServerConfig(tls=TLSConfig(frontend=ServerTLS(cert_file="c", key_file="k")))
    https = start_dev.describe(tls, "127.0.0.1:7233", {"http": "127.0.0.1:7243"})
    assert "  HTTP API: https://127.0.0.1:7243" in https.splitlines()


# --- The real launcher: temporalio's start_local ------------------------------------

STUB_LAUNCHER = textwrap.dedent(
    """\
    import asyncio, sys
    import grpc
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, GetSystemInfoResponse
    from pytemporal.cli import main, start_dev

    async def get_system_info(request, context):
        return GetSystemInfoResponse(server_version="stub")

    HANDLER = grpc.method_handlers_generic_handler(
        "temporal.api.workflowservice.v1.WorkflowService",
        {
            "GetSystemInfo": grpc.unary_unary_rpc_method_handler(
                get_system_info,
                request_deserializer=GetSystemInfoRequest.FromString,
                response_serializer=GetSystemInfoResponse.SerializeToString,
            )
        },
    )

    async def serve(config, *, on_ready=None, stop=None, endpoints=None):
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([HANDLER])
        port = server.add_insecure_port(f"{config.ip}:{config.port}")
        await server.start()
        on_ready(f"{config.ip}:{port}")
        await stop.wait()
        await server.stop(1)

    start_dev.load_serve = lambda: serve
    with open(sys.argv[0] + ".argv", "w") as f:
        f.write("\\n".join(sys.argv[1:]))
    main.main()
    """
)


async def test_start_local_launches_the_cli(tmp_path: Path) -> None:
    """start_local runs `<path> server start-dev ...`, waits for gRPC, then SIGKILLs it."""
    launcher = tmp_path / "pytemporal-stub"
    launcher.write_text(f"#!{sys.executable}\n{STUB_LAUNCHER}")
    launcher.chmod(0o755)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(launcher), dev_server_extra_args=SDK_TEST_SUITE_EXTRA_ARGS
    )
    try:
        info = await env.client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version == "stub"
    finally:
        await env.shutdown()
    argv = (tmp_path / "pytemporal-stub.argv").read_text().split("\n")
    port = argv[argv.index("--port") + 1]
    assert argv == [
        *START_LOCAL_ARGV[:3],
        port,
        *START_LOCAL_ARGV[4:],
        *SDK_TEST_SUITE_EXTRA_ARGS,
    ]


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytemporal", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"pytemporal {__version__}\n")


# --- Logging -------------------------------------------------------------------------


def log_lines(level: str, fmt: str) -> list[str]:
    stream = io.StringIO()
    configure_logging(level, fmt, stream=stream)
    log = logging.getLogger("pytemporal.test")
    log.debug("hidden at info")
    log.info("started", extra={"port": 7233})
    log.warning('quote " and space')
    return stream.getvalue().splitlines()


def test_json_logging_is_one_object_per_line() -> None:
    records = [json.loads(line) for line in log_lines("info", "json")]
    assert [(r["level"], r["logger"], r["msg"]) for r in records] == [
        ("INFO", "pytemporal.test", "started"),
        ("WARN", "pytemporal.test", 'quote " and space'),
    ]
    assert records[0]["port"] == 7233


def test_text_logging_is_logfmt() -> None:
    lines = log_lines("info", "text")
    assert "level=INFO logger=pytemporal.test msg=started port=7233" in lines[0]
    assert 'msg="quote \\" and space"' in lines[1]


def test_pretty_logging_is_human_text() -> None:
    lines = log_lines("warn", "pretty")
    assert len(lines) == 1
    assert lines[0].endswith('WARN  pytemporal.test  quote " and space')


def test_never_logs_nothing() -> None:
    assert log_lines("never", "json") == []


def test_reconfiguring_replaces_the_handler() -> None:
    configure_logging("info", "json", stream=io.StringIO())
    configure_logging("info", "json", stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_OurHandler"]
    assert len(ours) == 1


def test_configure_logging_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("verbose", "json")
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")


# --- Docs that tests check -------------------------------------------------------------


def test_docs_cli_md_matches_the_parser() -> None:
    expected = render_markdown()
    actual = (REPO_ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: python -m pytemporal.cli.docs > docs/cli.md"


def test_a_grpc_bind_failure_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    def body(config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event) -> None:
        raise RuntimeError("Failed to bind to address 127.0.0.1:0; set GRPC_VERBOSITY=debug")

    assert run_start_dev(stub_serve(body)) == 1
    assert (
        "pytemporal: error: cannot listen on 127.0.0.1:0: Failed to bind" in capsys.readouterr().err
    )


def test_other_server_errors_propagate() -> None:
    def body(config: ServerConfig, on_ready: Callable[[str], None], stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_start_dev(stub_serve(body))
