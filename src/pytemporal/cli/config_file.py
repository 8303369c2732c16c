"""The configuration of ``pytemporal server start``: a YAML file plus environment variables.

Every key is optional except the database (one of ``database_url``, ``sqlite_path``);
docs/pytemporal.example.yaml is a commented example::

    persistence:
      database_url: postgresql://pytemporal@db.internal:5432/pytemporal
      # sqlite_path: /var/lib/pytemporal/pytemporal.db   (instead of database_url)
      pool_size: 10                 # most PostgreSQL connections (default 10)
    listen:
      ip: 0.0.0.0                   # default 127.0.0.1
      port: 7233                    # default 7233; 0: any free port
    cluster:                        # the port the server processes call each other on
      ip: 10.0.0.5                  # default 127.0.0.1
      port: 7234                    # default 0: any free port
      advertise_address: 10.0.0.5:7234  # how other processes reach it (default ip:port)
      secret: <16+ characters>      # required unless tls.internode or insecure: true
      insecure: false
    tls:                            # Temporal's global.tls (cli/tls_settings.py)
      frontend: {server: {certFile: f.pem, keyFile: f.key}}
      internode: {server: {...}, client: {...}}
    num_history_shards: 4           # default 1; fixed for the life of a database
    namespaces: [orders, billing]   # created at start; "default" always exists
    search_attributes: {CustomerId: Keyword}
    dynamic_config: {limit.blobSize.error: 2097152}
    log_level: info                 # debug, info, warn (default), error, fatal, never
    log_format: json                # pretty (default), text, json
    metrics:                        # Prometheus /metrics and /health (docs/metrics.md)
      ip: 0.0.0.0                   # default: listen.ip
      port: 9090                    # no port: no metrics endpoint; 0: any free port
    http: {ip: 0.0.0.0, port: 7243}  # Temporal's HTTP API (default: not served; ip: listen.ip)
    authorization:                  # JWT authorization (cli/authorization_config.py)
      jwtKeyProvider: {keySourceURIs: [https://idp.internal/.well-known/jwks.json]}
    ui:                             # the web UI (docs/ui.md)
      enabled: true                 # default false
      ip: 0.0.0.0                   # default: listen.ip
      port: 8233                    # default 8233

Precedence, lowest first: defaults, the file, the environment, then the global
``--log-level``/``--log-format`` flags when given on the command line. Environment
variables (``ENVIRONMENT`` below) override single keys; a database given there
replaces the file's database, whichever of the two kinds the file used.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

import yaml  # type: ignore[import-untyped]

from pytemporal.cli.authorization_config import parse_authorization
from pytemporal.cli.parser import search_attribute
from pytemporal.cli.tls_settings import tls_settings
from pytemporal.common.dynamic_config import DynamicConfig, DynamicConfigError
from pytemporal.common.logging import LOG_FORMATS, LOG_LEVELS
from pytemporal.common.tls import TLSConfig, TLSConfigError
from pytemporal.config import InternodeConfig, ServerConfig, internode_auth_problem
from pytemporal.persistence import urls

# Environment variable -> the setting it overrides.
ENVIRONMENT = {
    "PYTEMPORAL_DATABASE_URL": "database_url",
    "PYTEMPORAL_SQLITE_PATH": "sqlite_path",
    "PYTEMPORAL_POOL_SIZE": "pool_size",
    "PYTEMPORAL_IP": "ip",
    "PYTEMPORAL_PORT": "port",
    "PYTEMPORAL_NUM_HISTORY_SHARDS": "num_history_shards",
    "PYTEMPORAL_NAMESPACES": "namespaces",  # comma-separated
    "PYTEMPORAL_LOG_LEVEL": "log_level",
    "PYTEMPORAL_LOG_FORMAT": "log_format",
    "PYTEMPORAL_CLUSTER_IP": "cluster_ip",
    "PYTEMPORAL_CLUSTER_PORT": "cluster_port",
    "PYTEMPORAL_CLUSTER_ADVERTISE_ADDRESS": "cluster_advertise_address",
    "PYTEMPORAL_CLUSTER_SECRET": "cluster_secret",
    "PYTEMPORAL_CLUSTER_INSECURE": "cluster_insecure",
    "PYTEMPORAL_UI_ENABLED": "ui_enabled",
    "PYTEMPORAL_UI_IP": "ui_ip",
    "PYTEMPORAL_UI_PORT": "ui_port",
    "PYTEMPORAL_METRICS_IP": "metrics_ip",
    "PYTEMPORAL_METRICS_PORT": "metrics_port",
    "PYTEMPORAL_HTTP_IP": "http_ip",
    "PYTEMPORAL_HTTP_PORT": "http_port",
}
# Where each setting lives in the file: (section, key); section "" is the top level.
_FILE_KEYS = {
    ("persistence", "database_url"): "database_url",
    ("persistence", "sqlite_path"): "sqlite_path",
    ("persistence", "pool_size"): "pool_size",
    ("listen", "ip"): "ip",
    ("listen", "port"): "port",
    ("", "num_history_shards"): "num_history_shards",
    ("", "namespaces"): "namespaces",
    ("", "search_attributes"): "search_attributes",
    ("", "dynamic_config"): "dynamic_config",
    ("", "log_level"): "log_level",
    ("", "log_format"): "log_format",
    ("", "authorization"): "authorization",
    ("cluster", "ip"): "cluster_ip",
    ("cluster", "port"): "cluster_port",
    ("cluster", "advertise_address"): "cluster_advertise_address",
    ("cluster", "secret"): "cluster_secret",
    ("cluster", "insecure"): "cluster_insecure",
    ("", "tls"): "tls",
    ("ui", "enabled"): "ui_enabled",
    ("ui", "ip"): "ui_ip",
    ("ui", "port"): "ui_port",
    ("metrics", "ip"): "metrics_ip",
    ("metrics", "port"): "metrics_port",
    ("http", "ip"): "http_ip",
    ("http", "port"): "http_port",
}
_SECTIONS = {section for section, _ in _FILE_KEYS if section}
_DATABASE_KEYS = ("database_url", "sqlite_path")
MAX_SHARDS = 16384
# The web UI's port in `server start` (the Helm chart's; start-dev uses --port + 1000).
DEFAULT_UI_PORT = 8233


class ConfigError(ValueError):
    """A bad configuration file or value; the message names the file or variable."""


# A setting's value and where it came from ("config.yaml: persistence.pool_size").
Settings = dict[str, tuple[Any, str]]


def load_server_config(path: str | None, environ: Mapping[str, str]) -> ServerConfig:
    settings = _read_file(path) if path else {}
    overrides = {
        setting: (environ[var], var) for var, setting in ENVIRONMENT.items() if var in environ
    }
    if any(key in overrides for key in _DATABASE_KEYS):
        for key in _DATABASE_KEYS:
            settings.pop(key, None)
    settings.update(overrides)
    return _build(settings)


def _read_file(path: str) -> Settings:
    try:
        with open(path, encoding="utf-8") as fh:
            document = yaml.safe_load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    settings: Settings = {}
    for key, value in document.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {key}: expected a mapping")
            for sub, sub_value in value.items():
                settings[_setting(path, key, sub)] = (sub_value, f"{path}: {key}.{sub}")
        else:
            settings[_setting(path, "", key)] = (value, f"{path}: {key}")
    return settings


def _setting(path: str, section: str, key: object) -> str:
    setting = _FILE_KEYS.get((section, str(key)))
    if setting is None:
        where = f"{section}.{key}" if section else str(key)
        known = ", ".join(f"{s}.{k}" if s else k for s, k in _FILE_KEYS)
        raise ConfigError(f"{path}: unknown setting {where!r}; known settings: {known}")
    return setting


def _build(settings: Settings) -> ServerConfig:
    def get(key: str, parse: Callable[[Any, str], Any], default: Any) -> Any:
        if key not in settings:
            return default
        value, where = settings[key]
        return parse(value, where)

    config = ServerConfig(
        ip=get("ip", _text, "127.0.0.1"),
        port=get("port", _ranged(0, 65535), 7233),
        pool_size=get("pool_size", _ranged(1, 1000), 10),
        num_history_shards=get("num_history_shards", _ranged(1, MAX_SHARDS), 1),
        namespaces=get("namespaces", _namespaces, []),
        search_attributes=get("search_attributes", _search_attributes, {}),
        dynamic_config=get("dynamic_config", _dynamic_config, {}),
        log_level=get("log_level", _choice(LOG_LEVELS), "warn"),
        log_format=get("log_format", _choice(LOG_FORMATS), "pretty"),
        authorization=get("authorization", parse_authorization, None),
        create_schema=False,
        cluster=True,
        headless=not get("ui_enabled", _bool, False),
        ui_ip=get("ui_ip", _text, None),
        ui_port=get("ui_port", _ranged(0, 65535), DEFAULT_UI_PORT),
        internode=InternodeConfig(
            ip=get("cluster_ip", _text, "127.0.0.1"),
            port=get("cluster_port", _ranged(0, 65535), 0),
            advertise_address=get("cluster_advertise_address", _text, None),
            secret=get("cluster_secret", _text, None),
            insecure=get("cluster_insecure", _bool, False),
        ),
        tls=get("tls", _tls, TLSConfig()),
        metrics_ip=get("metrics_ip", _text, None),
        metrics_port=get("metrics_port", _ranged(0, 65535), None),
        # Temporal's HTTP API: served only when a port is given (0: any free port).
        http_ip=get("http_ip", _text, None),
        http_port=get("http_port", _ranged(0, 65535), None),
    )
    config.database_url, config.db_filename = _database(settings)
    problem = internode_auth_problem(config.internode, config.tls)
    if problem is not None:
        raise ConfigError(problem)
    return config


def _database(settings: Settings) -> tuple[str | None, str | None]:
    """(database_url, db_filename): exactly one of them."""
    given = [key for key in _DATABASE_KEYS if key in settings]
    if len(given) != 1:
        found = " and ".join(settings[k][1] for k in given) or "neither was given"
        raise ConfigError(
            "set exactly one of persistence.database_url (PYTEMPORAL_DATABASE_URL) and"
            f" persistence.sqlite_path (PYTEMPORAL_SQLITE_PATH): {found}"
        )
    value, where = settings[given[0]]
    text = _text(value, where)
    if given[0] == "sqlite_path":
        return None, text
    try:
        parsed = urls.parse(text)
    except urls.DatabaseURLError as e:
        raise ConfigError(f"{where}: {e}") from None
    if parsed.dialect == "sqlite" and parsed.sqlite_path is None:
        raise ConfigError(
            f"{where}: an in-memory database loses everything at exit; give a file or a"
            " PostgreSQL URL (or run `pytemporal server start-dev`)"
        )
    return text, None


# -- value parsers: (raw value, where it came from) -> typed value ---------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _ranged(low: int, high: int) -> Callable[[Any, str], int]:
    def parse(value: Any, where: str) -> int:
        # Environment values are strings; YAML's are ints (a bool is not a number here).
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{where}: expected an integer from {low} to {high}, got {value!r}")
        return value

    return parse


def _tls(value: Any, where: str) -> TLSConfig:
    try:
        return tls_settings(value, where)
    except TLSConfigError as e:
        raise ConfigError(str(e)) from None


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, where: str) -> str:
        if value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return parse


def _namespaces(value: Any, where: str) -> list[str]:
    if isinstance(value, str):  # from the environment: "orders,billing"
        value = [name.strip() for name in value.split(",") if name.strip()]
    if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
        raise ConfigError(f"{where}: expected a list of namespace names, got {value!r}")
    return [name for name in dict.fromkeys(value) if name != "default"]


def _search_attributes(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of NAME: TYPE, got {value!r}")
    try:
        return dict(search_attribute(f"{name}={kind}") for name, kind in value.items())
    except argparse.ArgumentTypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def _dynamic_config(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of key: value, got {value!r}")
    try:
        DynamicConfig.from_values(value)
    except DynamicConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return {str(k): v for k, v in value.items()}
