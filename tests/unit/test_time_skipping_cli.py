"""The test server command line: `pytemporal PORT [--enable-time-skipping]` and
`pytemporal server start-time-skipping`."""

from __future__ import annotations

import pytest

from pytemporal.cli import start_dev
from pytemporal.cli.parser import expand_test_server_argv, parse_args


def test_port_first_is_the_test_server_command_line() -> None:
    assert expand_test_server_argv(["7233"]) == [
        "server",
        "start-time-skipping",
        "--port",
        "7233",
        "--headless",
    ]
    assert expand_test_server_argv(["0", "--enable-time-skipping"])[-1] == "--enable-time-skipping"
    assert expand_test_server_argv(["server", "start-dev"]) == ["server", "start-dev"]


def test_sdk_invocation_builds_a_locked_time_skipping_config() -> None:
    config = start_dev.build_config(parse_args(["41234"]))
    assert config.port == 41234
    assert config.time_skipping
    assert not config.time_skipping_unlocked
    assert config.db_filename is None


def test_enable_time_skipping_starts_unlocked() -> None:
    config = start_dev.build_config(parse_args(["41234", "--enable-time-skipping"]))
    assert config.time_skipping and config.time_skipping_unlocked


def test_start_dev_does_not_skip_time() -> None:
    config = start_dev.build_config(parse_args(["server", "start-dev"]))
    assert not config.time_skipping


def test_unknown_test_server_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["41234", "--no-such-flag"])
    assert exit_info.value.code == 2
    assert "--no-such-flag" in capsys.readouterr().err
