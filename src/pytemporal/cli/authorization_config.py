"""The ``authorization:`` section of ``server start``'s config, shaped like Temporal's
``global.authorization``::

    authorization:
      jwtKeyProvider:
        keySourceURIs:                # JWKS documents: file://, http:// or https://
          - https://idp.internal/.well-known/jwks.json
        refreshInterval: 1m           # Go duration or seconds; default 1m; 0: load once
      permissionsClaimName: permissions   # default "permissions"
      permissionsRegex: "^(?P<namespace>[^:]+):(?P<role>\\w+)$"   # optional
      audience: temporal              # optional: tokens must carry this `aud`
      authorizer: default             # the only authorizer (Temporal's default)
      claimMapper: default            # the only claim mapper (Temporal's default JWT one)
      authHeaderName: authorization   # default "authorization"
      workerRoleTaskAPIs: false       # pytemporal's: `<ns>:worker` may poll and respond

Temporal's default authorizer ranks roles as numbers (admin > write > read > worker),
so `worker` alone grants nothing there; `workerRoleTaskAPIs: true` makes it grant the
calls a worker process makes (frontend/api_metadata.py WORKER_APIS) and nothing else.

With the section present every public call needs a token that grants the API's role;
without it nothing is checked.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from pytemporal.common.dynamic_config import parse_duration
from pytemporal.config import AuthorizationConfig

_KEYS = {
    "jwtKeyProvider",
    "permissionsClaimName",
    "permissionsRegex",
    "audience",
    "authorizer",
    "claimMapper",
    "authHeaderName",
    "workerRoleTaskAPIs",
}
_PROVIDER_KEYS = {"keySourceURIs", "refreshInterval"}


def parse_authorization(value: Any, where: str) -> AuthorizationConfig:
    from pytemporal.cli.config_file import ConfigError  # config_file imports this module

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}")

    if not isinstance(value, dict):
        raise fail(f"expected a mapping, got {value!r}")
    unknown = sorted(set(map(str, value)) - _KEYS)
    if unknown:
        raise fail(f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(_KEYS))}")
    for key in ("authorizer", "claimMapper"):
        if value.get(key, "default") != "default":
            raise fail(f"{key}: only `default` is supported, got {value[key]!r}")
    provider = value.get("jwtKeyProvider") or {}
    if not isinstance(provider, dict):
        raise fail(f"jwtKeyProvider: expected a mapping, got {provider!r}")
    unknown = sorted(set(map(str, provider)) - _PROVIDER_KEYS)
    if unknown:
        raise fail(f"jwtKeyProvider: unknown setting {unknown[0]!r}")
    uris = provider.get("keySourceURIs")
    if isinstance(uris, str):
        uris = [uris]
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise fail("jwtKeyProvider.keySourceURIs: expected a non-empty list of URIs")
    for uri in uris:
        if urllib.parse.urlsplit(uri).scheme not in ("file", "http", "https"):
            raise fail(f"jwtKeyProvider.keySourceURIs: {uri!r} is not a file, http or https URI")
    config = AuthorizationConfig(key_source_uris=list(uris))
    if "refreshInterval" in provider:
        raw = provider["refreshInterval"]
        try:
            seconds = (
                parse_duration(raw).total_seconds()
                if isinstance(raw, str)
                else float(raw)
                if isinstance(raw, int | float) and not isinstance(raw, bool)
                else -1.0
            )
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            raise fail(f"jwtKeyProvider.refreshInterval: expected a duration, got {raw!r}")
        config.refresh_interval = seconds
    for key, attr in (
        ("permissionsClaimName", "permissions_claim_name"),
        ("audience", "audience"),
        ("authHeaderName", "auth_header_name"),
        ("permissionsRegex", "permissions_regex"),
    ):
        if key in value:
            text = value[key]
            if not isinstance(text, str) or not text.strip():
                raise fail(f"{key}: expected a non-empty string, got {text!r}")
            setattr(config, attr, text.strip())
    if "workerRoleTaskAPIs" in value:
        flag = value["workerRoleTaskAPIs"]
        if not isinstance(flag, bool):
            raise fail(f"workerRoleTaskAPIs: expected true or false, got {flag!r}")
        config.worker_role_task_apis = flag
    if config.permissions_regex is not None:
        try:
            groups = set(re.compile(config.permissions_regex).groupindex)
        except re.error as e:
            raise fail(f"permissionsRegex: {e}") from None
        if not {"namespace", "role"} <= groups:
            raise fail("permissionsRegex: needs the named groups `namespace` and `role`")
    return config
