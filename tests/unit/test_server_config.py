"""`pytemporal server start` configuration: the YAML file, PYTEMPORAL_* overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytemporal.cli import start
from pytemporal.cli.config_file import ENVIRONMENT, ConfigError, load_server_config
from pytemporal.cli.parser import parse_args

FULL = """
persistence:
  database_url: postgresql://app:secret@db.internal:5432/pytemporal
  pool_size: 20
listen:
  ip: 0.0.0.0
  port: 7300
num_history_shards: 8
namespaces: [orders, billing, default, orders]
search_attributes: {CustomerId: keyword}
dynamic_config: {limit.blobSize.error: 1024}
log_level: info
log_format: json
"""
PG = "postgresql://postgres@127.0.0.1:5432/db"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pytemporal.yaml"
    path.write_text(text)
    return str(path)


def test_every_setting_is_read_from_the_file(tmp_path: Path) -> None:
    config = load_server_config(write(tmp_path, FULL), {})
    assert config.database_url == "postgresql://app:secret@db.internal:5432/pytemporal"
    assert config.db_filename is None
    assert (config.pool_size, config.ip, config.port) == (20, "0.0.0.0", 7300)
    assert config.num_history_shards == 8
    assert config.namespaces == ["orders", "billing"]  # "default" always exists; no dupes
    assert config.search_attributes == {"CustomerId": "Keyword"}
    assert config.dynamic_config == {"limit.blobSize.error": 1024}
    assert (config.log_level, config.log_format) == ("info", "json")
    # A production server never creates its schema.
    assert config.create_schema is False


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    config = load_server_config(write(tmp_path, "persistence: {sqlite_path: /data/p.db}"), {})
    assert (config.db_filename, config.database_url) == ("/data/p.db", None)
    assert (config.ip, config.port, config.pool_size, config.num_history_shards) == (
        "127.0.0.1",
        7233,
        10,
        1,
    )
    assert (config.namespaces, config.log_level, config.log_format) == ([], "warn", "pretty")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "PYTEMPORAL_PORT": "7999",
        "PYTEMPORAL_IP": "10.0.0.5",
        "PYTEMPORAL_POOL_SIZE": "3",
        "PYTEMPORAL_NUM_HISTORY_SHARDS": "16",
        "PYTEMPORAL_NAMESPACES": "a, b,,c",
        "PYTEMPORAL_LOG_LEVEL": "debug",
        "PYTEMPORAL_LOG_FORMAT": "text",
    }
    config = load_server_config(write(tmp_path, FULL), env)
    assert (config.port, config.ip, config.pool_size, config.num_history_shards) == (
        7999,
        "10.0.0.5",
        3,
        16,
    )
    assert config.namespaces == ["a", "b", "c"]
    assert (config.log_level, config.log_format) == ("debug", "text")


@pytest.mark.parametrize(
    ("env", "url", "path"),
    [
        ({"PYTEMPORAL_DATABASE_URL": PG}, PG, None),
        ({"PYTEMPORAL_SQLITE_PATH": "/tmp/x.db"}, None, "/tmp/x.db"),
    ],
)
def test_a_database_in_the_environment_replaces_the_files(
    tmp_path: Path, env: dict[str, str], url: str | None, path: str | None
) -> None:
    config = load_server_config(write(tmp_path, FULL), env)
    assert (config.database_url, config.db_filename) == (url, path)


def test_the_environment_alone_is_enough() -> None:
    config = load_server_config(None, {"PYTEMPORAL_DATABASE_URL": PG})
    assert config.database_url == PG


def test_every_documented_variable_maps_to_a_setting() -> None:
    assert set(ENVIRONMENT) == {
        "PYTEMPORAL_DATABASE_URL",
        "PYTEMPORAL_SQLITE_PATH",
        "PYTEMPORAL_POOL_SIZE",
        "PYTEMPORAL_IP",
        "PYTEMPORAL_PORT",
        "PYTEMPORAL_NUM_HISTORY_SHARDS",
        "PYTEMPORAL_NAMESPACES",
        "PYTEMPORAL_LOG_LEVEL",
        "PYTEMPORAL_LOG_FORMAT",
        "PYTEMPORAL_CLUSTER_IP",
        "PYTEMPORAL_CLUSTER_PORT",
        "PYTEMPORAL_CLUSTER_ADVERTISE_ADDRESS",
        "PYTEMPORAL_CLUSTER_SECRET",
        "PYTEMPORAL_CLUSTER_INSECURE",
        "PYTEMPORAL_UI_ENABLED",
        "PYTEMPORAL_UI_IP",
        "PYTEMPORAL_UI_PORT",
        "PYTEMPORAL_METRICS_IP",
        "PYTEMPORAL_METRICS_PORT",
        "PYTEMPORAL_HTTP_IP",
        "PYTEMPORAL_HTTP_PORT",
    }


def test_the_http_api_is_configured_by_file_and_environment(tmp_path: Path) -> None:
    text = "persistence: {database_url: " + PG + "}\nhttp: {ip: 0.0.0.0, port: 7243}\n"
    config = load_server_config(write(tmp_path, text), {})
    assert (config.http_ip, config.http_port) == ("0.0.0.0", 7243)
    config = load_server_config(write(tmp_path, text), {"PYTEMPORAL_HTTP_PORT": "0"})
    assert config.http_port == 0
    assert load_server_config(None, {"PYTEMPORAL_DATABASE_URL": PG}).http_port is None


def test_the_ui_is_off_unless_enabled(tmp_path: Path) -> None:
    config = load_server_config(None, {"PYTEMPORAL_DATABASE_URL": PG})
    assert (config.headless, config.ui_port, config.ui_ip) == (True, 8233, None)
    path = tmp_path / "ui.yaml"
    path.write_text("ui: {enabled: true, ip: 0.0.0.0, port: 9000}\n")
    config = load_server_config(str(path), {"PYTEMPORAL_DATABASE_URL": PG})
    assert (config.headless, config.ui_port, config.ui_ip) == (False, 9000, "0.0.0.0")
    env = {
        "PYTEMPORAL_DATABASE_URL": PG,
        "PYTEMPORAL_UI_ENABLED": "false",
        "PYTEMPORAL_UI_PORT": "0",
    }
    config = load_server_config(str(path), env)
    assert (config.headless, config.ui_port) == (True, 0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PYTEMPORAL_UI_ENABLED": "yes"}, "PYTEMPORAL_UI_ENABLED: expected true or false"),
        (
            {"PYTEMPORAL_UI_PORT": "70000"},
            "PYTEMPORAL_UI_PORT: expected an integer from 0 to 65535",
        ),
    ],
)
def test_bad_ui_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_server_config(None, {"PYTEMPORAL_DATABASE_URL": PG, **env})


def test_metrics_listener_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"persistence: {{database_url: {PG}}}\nmetrics: {{ip: 0.0.0.0, port: 9090}}"
    )
    config = load_server_config(path, {})
    assert (config.metrics_ip, config.metrics_port) == ("0.0.0.0", 9090)
    config = load_server_config(path, {"PYTEMPORAL_METRICS_PORT": "9091"})
    assert config.metrics_port == 9091
    # Without the key a production server serves no metrics.
    assert load_server_config(None, {"PYTEMPORAL_DATABASE_URL": PG}).metrics_port is None
    with pytest.raises(ConfigError, match="metrics.port"):
        load_server_config(
            write(tmp_path, f"persistence: {{database_url: {PG}}}\nmetrics: {{port: x}}"), {}
        )


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("listen: {port: 7233}", {}, "set exactly one of persistence.database_url"),
        (
            "persistence: {database_url: " + PG + ", sqlite_path: /x.db}",
            {},
            "set exactly one of",
        ),
        ("persistence: {database_url: mysql://h/db}", {}, "unsupported database URL scheme"),
        ("persistence: {database_url: 'sqlite://'}", {}, "in-memory database"),
        ("persistence: {database_url: " + PG + ", pool_size: 0}", {}, r"pool_size: expected"),
        ("persistence: {database_url: " + PG + "}\nlisten: {port: 70000}", {}, "listen.port"),
        ("persistence: {database_url: " + PG + "}\nlisten: {port: true}", {}, "listen.port"),
        ("persistence: {database_url: " + PG + "}\nnum_history_shards: -1", {}, "shards"),
        ("persistence: {database_url: " + PG + "}\nlog_level: loud", {}, "one of debug"),
        ("persistence: {database_url: " + PG + "}\nnamespaces: [1, 2]", {}, "a list of"),
        ("persistence: {database_url: " + PG + "}\nsearch_attributes: {X: Blob}", {}, "Blob"),
        (
            "persistence: {database_url: " + PG + "}\ndynamic_config: {limit.blobSize.error: x}",
            {},
            "limit.blobSize.error",
        ),
        ("persistence: {database_url: " + PG + "}\nport: 7233", {}, "unknown setting 'port'"),
        (
            "persistence: {database_uri: " + PG + "}",
            {},
            "unknown setting 'persistence.database_uri'",
        ),
        ("persistence: " + PG, {}, "persistence: expected a mapping"),
        ("- a\n- b", {}, "mapping of settings at the top level"),
        ("persistence: {database_url: [", {}, "not valid YAML"),
        ("persistence: {database_url: " + PG + "}", {"PYTEMPORAL_PORT": "http"}, "PYTEMPORAL_PORT"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_server_config(write(tmp_path, text), env)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yaml"):
        load_server_config(str(tmp_path / "nope.yaml"), {})


def test_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "persistence: {database_url: " + PG + ", pool_size: many}")
    with pytest.raises(ConfigError, match=rf"{path}: persistence.pool_size"):
        load_server_config(path, {})


# -- the command ------------------------------------------------------------------


def test_log_flags_on_the_command_line_beat_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, FULL)
    monkeypatch.setenv("PYTEMPORAL_LOG_LEVEL", "error")
    given = start.build_config(
        parse_args(["--log-level", "debug", "server", "start", "--config", path])
    )
    assert (given.log_level, given.log_format) == ("debug", "json")
    # Not given: the parser's default ("warn") must not override the environment.
    default = start.build_config(parse_args(["server", "start", "--config", path]))
    assert default.log_level == "error"


def test_bad_config_exits_2_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "persistence: {pool_size: 3}")
    status = start.run(parse_args(["server", "start", "--config", path]))
    assert status == 2
    assert "set exactly one of persistence.database_url" in capsys.readouterr().err


def test_the_documented_example_loads() -> None:
    example = Path(__file__).parents[2] / "docs" / "pytemporal.example.yaml"
    config = load_server_config(str(example), {})
    assert config.database_url is not None and config.num_history_shards == 4
    assert config.namespaces == ["orders", "billing"]
