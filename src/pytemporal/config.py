"""Server configuration shared by the CLI and the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AuthorizationConfig:
    """JWT authorization of the public API, as Temporal's `global.authorization` with the
    default claim mapper and authorizer (frontend/authorization.py)."""

    # JWKS documents: file://, http:// or https:// URIs (`jwtKeyProvider.keySourceURIs`).
    key_source_uris: list[str] = field(default_factory=list)
    # Seconds between reloads of the keys (`jwtKeyProvider.refreshInterval`); 0: load once
    # (a token with an unknown key id still triggers a rate-limited reload).
    refresh_interval: float = 60.0
    permissions_claim_name: str = "permissions"
    # Optional regex with named groups `namespace` and `role` (`permissionsRegex`).
    permissions_regex: str | None = None
    # When set, tokens must carry this audience (`aud`).
    audience: str | None = None
    auth_header_name: str = "authorization"
    # pytemporal's option: the `worker` role grants what a worker calls (polls,
    # responses, heartbeats). Off: Temporal's default authorizer, where it grants nothing.
    worker_role_task_apis: bool = False


@dataclass
class ServerConfig:
    ip: str = "127.0.0.1"
    port: int = 7233
    # None: in-memory SQLite (nothing survives the process); a path: a file database.
    db_filename: str | None = None
    # A database URL (postgresql://... or sqlite:///...); when set, db_filename is unused.
    database_url: str | None = None
    # Most connections the store opens (PostgreSQL).
    pool_size: int = 10
    # True (dev server): an empty database gets the schema. False (`server start`): the
    # schema must exist and be current (`pytemporal schema setup/upgrade`).
    create_schema: bool = True
    # Fixed for the life of a database; accepted and recorded now, used by scale-out.
    num_history_shards: int = 1
    # Production servers (`server start`) share their database with other processes:
    # shard leases, fencing and routing between processes. The dev server owns all.
    cluster: bool = False
    # Address other processes use to reach this one (default: ip:port, with 127.0.0.1
    # for a wildcard ip).
    advertise_address: str | None = None
    # Extra namespaces created at start; "default" always exists.
    namespaces: list[str] = field(default_factory=list)
    # NAME -> Temporal search-attribute type name (Keyword, Text, Int, Double, Bool,
    # Datetime, KeywordList).
    search_attributes: dict[str, str] = field(default_factory=dict)
    # Temporal dynamic-config keys -> decoded JSON values. Unknown keys are logged and
    # ignored by the server.
    dynamic_config: dict[str, Any] = field(default_factory=dict)
    headless: bool = True
    ui_port: int | None = None
    # Web UI bind address; None: same as `ip`.
    ui_ip: str | None = None
    # Temporal CLI names: debug, info, warn, error, fatal, never / pretty, text, json.
    # The CLI configures logging from these (pytemporal.common.logging).
    log_level: str = "warn"
    log_format: str = "pretty"
    # None: every caller may call every API (Temporal's default, the noop authorizer).
    authorization: AuthorizationConfig | None = None
