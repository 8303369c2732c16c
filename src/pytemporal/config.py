"""Server configuration shared by the CLI and the composition root."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from pytemporal.common.tls import TLSConfig

# Shortest shared secret accepted for the internode port.
MIN_SECRET_LENGTH = 16


@dataclass
class InternodeConfig:
    """Where the server processes of a cluster call each other, and how they prove they
    belong. Served only when `ServerConfig.cluster`; never on the public port."""

    ip: str = "127.0.0.1"
    # 0: any free port (the bound one is advertised).
    port: int = 0
    # Address the other processes use to reach this listener (default: ip:port, with
    # 127.0.0.1 for a wildcard ip).
    advertise_address: str | None = None
    # Sent by callers in the `pytemporal-cluster-secret` header and required by the
    # listener. With internode TLS as well, both are checked.
    secret: str | None = None
    # Explicitly allow a listener with neither a secret nor internode TLS on a
    # non-loopback address.
    insecure: bool = False


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def internode_auth_problem(internode: InternodeConfig, tls: TLSConfig) -> str | None:
    """Why a cluster may not start with these settings, or None.

    Without a secret or internode TLS, the listener may only bind to a loopback
    address (reachable from this host alone), or must be declared `insecure`."""
    if internode.secret is not None and len(internode.secret) < MIN_SECRET_LENGTH:
        return f"cluster.secret must be at least {MIN_SECRET_LENGTH} characters long"
    if internode.secret or tls.internode is not None or internode.insecure:
        return None
    if is_loopback(internode.ip):
        return None
    return (
        f"the internode listener on {internode.ip} needs credentials: set cluster.secret"
        " (PYTEMPORAL_CLUSTER_SECRET) or tls.internode; or set cluster.insecure: true"
        " (PYTEMPORAL_CLUSTER_INSECURE) to run it unauthenticated"
    )


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
    # Seconds a stopping server lets calls in flight finish before cancelling them
    # (long polls never finish by themselves: this bounds every graceful stop).
    shutdown_grace: float = 1.0
    # True (dev server): an empty database gets the schema. False (`server start`): the
    # schema must exist and be current (`pytemporal schema setup/upgrade`).
    create_schema: bool = True
    # Fixed for the life of a database; accepted and recorded now, used by scale-out.
    num_history_shards: int = 1
    # Production servers (`server start`) share their database with other processes:
    # shard leases, fencing and routing between processes. The dev server owns all.
    cluster: bool = False
    # The listener for calls between the server processes (`cluster` only).
    internode: InternodeConfig = field(default_factory=InternodeConfig)
    # Certificates of the public port and of the internode port (Temporal's global.tls).
    tls: TLSConfig = field(default_factory=TLSConfig)
    # Extra namespaces created at start; "default" always exists.
    namespaces: list[str] = field(default_factory=list)
    # NAME -> Temporal search-attribute type name (Keyword, Text, Int, Double, Bool,
    # Datetime, KeywordList).
    search_attributes: dict[str, str] = field(default_factory=dict)
    # Temporal dynamic-config keys -> decoded JSON values. Unknown keys are logged and
    # ignored by the server.
    dynamic_config: dict[str, Any] = field(default_factory=dict)
    # The web UI (web/ui): off when headless; ui_port None means `port` + 1000.
    headless: bool = True
    ui_port: int | None = None
    # Web UI bind address; None: same as `ip`.
    ui_ip: str | None = None
    # Temporal's HTTP API (web/http_api.py); None: not served.
    http_port: int | None = None
    http_ip: str | None = None
    # Prometheus /metrics and /health (common/metrics.py); None: not served.
    metrics_port: int | None = None
    metrics_ip: str | None = None
    # Temporal CLI names: debug, info, warn, error, fatal, never / pretty, text, json.
    # The CLI configures logging from these (pytemporal.common.logging).
    log_level: str = "warn"
    log_format: str = "pretty"
    # Test server mode (docs/testing.md): serve TestService and skip time when idle.
    # Starts locked (lock count 1), as Temporal's Java test server when an SDK launches
    # it: the SDK unlocks while awaiting a result.
    time_skipping: bool = False
    # Start unlocked instead (the Java server's --enable-time-skipping): time skips
    # whenever nothing is runnable, with a plain client.
    time_skipping_unlocked: bool = False
    # None: every caller may call every API (Temporal's default, the noop authorizer).
    authorization: AuthorizationConfig | None = None
