"""Temporal's default JWT claim mapper and token key provider.

A token is ``authorization: Bearer <JWT>``, signed RS256 or ES256 with a key from a
JWKS document (file or HTTP(S) URL) picked by the token's ``kid``. Its ``sub`` names
the caller; its permissions claim (``permissions`` by default) lists
``"<namespace>:<read|write|worker|admin>"`` entries, ``temporal-system`` standing for
the whole cluster. Signatures and registered claims are checked by PyJWT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pytemporal.config import AuthorizationConfig

log = logging.getLogger(__name__)

SYSTEM_NAMESPACE = "temporal-system"
# Temporal's Role bitmask; the default authorizer compares the OR of a caller's roles
# with the one an API needs as plain integers (so `worker` alone is below `read`).
ROLE_WORKER = 1
ROLE_READER = 2
ROLE_WRITER = 4
ROLE_ADMIN = 8
_ROLES = {"read": ROLE_READER, "write": ROLE_WRITER, "worker": ROLE_WORKER, "admin": ROLE_ADMIN}
# Temporal's SupportedMethods.
_ALGORITHMS = ("RS256", "ES256")
# An unknown `kid` reloads the keys (a key was rotated in) at most this often, so
# tokens with made-up key ids cannot make the server hammer the JWKS endpoint.
MIN_RELOAD_INTERVAL = 5.0
FETCH_TIMEOUT = 10.0


class TokenError(Exception):
    """Why a token was refused; logged, never sent to the caller."""


@dataclass
class Claims:
    subject: str = ""
    system: int = 0
    namespaces: dict[str, int] = field(default_factory=dict)


def parse_permissions(
    permissions: list[Any], pattern: re.Pattern[str] | None = None
) -> tuple[int, dict[str, int]]:
    """(system role, namespace -> role) from a permissions claim; bad entries ignored."""
    system = 0
    namespaces: dict[str, int] = {}
    for entry in permissions:
        if not isinstance(entry, str):
            continue
        if pattern is not None:
            match = pattern.search(entry)
            if match is None:
                continue
            namespace, role_name = match.group("namespace") or "", match.group("role") or ""
        else:
            namespace, sep, role_name = entry.partition(":")
            if not sep:
                continue
        role = _ROLES.get(role_name.lower(), 0)
        if namespace == SYSTEM_NAMESPACE:
            system |= role
        else:
            namespaces[namespace] = namespaces.get(namespace, 0) | role
    return system, namespaces


def read_uri(uri: str) -> bytes:
    """The bytes of a file:// or http(s):// URI (blocking)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise OSError(f"file URI with remote host is not supported: {uri}")
        with open(urllib.parse.unquote(parts.path), "rb") as fh:
            return fh.read()
    if parts.scheme in ("http", "https"):
        with urllib.request.urlopen(uri, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read()
            return body
    raise OSError(f"unsupported key source URI scheme: {uri}")


def parse_jwks(document: bytes) -> dict[tuple[str, str], Any]:
    """(key type, kid) -> public key, for the RSA and EC keys of a JWKS document."""
    keys: dict[tuple[str, str], Any] = {}
    data = json.loads(document)
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document: no `keys` list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            key = jwt.PyJWK(entry).key
        except jwt.PyJWTError as e:
            log.warning("skipping unusable JWKS key %r: %s", entry.get("kid"), e)
            continue
        kind = "RSA" if isinstance(key, RSAPublicKey) else "EC"
        if isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
            keys[(kind, str(entry.get("kid", "")))] = key
    return keys


class KeyProvider:
    """The keys of the configured JWKS URIs, reloaded every `refresh_interval` s."""

    def __init__(
        self,
        uris: list[str],
        refresh_interval: float,
        *,
        read: Callable[[str], bytes] = read_uri,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uris = [u for u in uris if u.strip()]
        self.refresh_interval = refresh_interval
        self._read = read
        self._clock = clock
        self._keys: dict[tuple[str, str], Any] = {}
        self._loaded_at: float | None = None
        self._reload: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reload()
        if self.refresh_interval > 0:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        for task in (self._ticker, self._reload):
            if task is not None:
                task.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            await self.reload()

    async def reload(self) -> None:
        """Load every URI; one in-flight load at a time. On any failure the old keys
        stay (as Temporal: keys swap only after all sources were read)."""
        if self._reload is None or self._reload.done():
            self._reload = asyncio.get_running_loop().create_task(self._load())
        await asyncio.shield(self._reload)

    async def _load(self) -> None:
        self._loaded_at = self._clock()
        keys: dict[tuple[str, str], Any] = {}
        try:
            for uri in self.uris:
                keys.update(parse_jwks(await asyncio.to_thread(self._read, uri)))
        except Exception as e:  # noqa: BLE001 - any failure keeps the old keys; logged
            log.error("error while loading token keys: %s", e)
            return
        self._keys = keys

    async def key(self, kind: str, kid: str) -> Any:
        found = self._keys.get((kind, kid))
        if found is None and (
            self._loaded_at is None or self._clock() - self._loaded_at >= MIN_RELOAD_INTERVAL
        ):
            await self.reload()
            found = self._keys.get((kind, kid))
        if found is None:
            raise TokenError(f"{kind} key not found for key ID: {kid}")
        return found


class ClaimMapper:
    """Temporal's default JWT claim mapper: an authorization header -> Claims."""

    def __init__(self, config: AuthorizationConfig, keys: KeyProvider) -> None:
        self.keys = keys
        self.claim_name = config.permissions_claim_name or "permissions"
        self.audience = (config.audience or "").strip() or None
        self.pattern = _permissions_pattern(config.permissions_regex)

    async def claims(self, header: str) -> Claims:
        """Claims of an `authorization` header value; TokenError if it is not valid."""
        scheme, sep, token = header.partition(" ")
        if not sep:
            raise TokenError("unexpected authorization token format")
        if scheme.lower() != "bearer":
            raise TokenError("unexpected name in authorization token")
        payload = await self._verified(token)
        subject = payload.get("sub")
        if not isinstance(subject, str):
            raise TokenError('unexpected value type of "sub" claim')
        permissions = payload.get(self.claim_name)
        system, namespaces = (
            parse_permissions(permissions, self.pattern)
            if isinstance(permissions, list)
            else (0, {})
        )
        return Claims(subject=subject, system=system, namespaces=namespaces)

    async def _verified(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise TokenError(f"malformed token: {e}") from None
        alg = header.get("alg")
        if alg not in _ALGORITHMS:
            raise TokenError(f"signing method {alg!r} is invalid")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenError('malformed token - no "kid" header')
        key = await self.keys.key("RSA" if alg == "RS256" else "EC", kid)
        if not isinstance(key, RSAPublicKey if alg == "RS256" else EllipticCurvePublicKey):
            raise TokenError(f"key {kid} does not suit {alg}")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                # Like golang-jwt's MapClaims.Valid: exp, nbf and iat are checked when
                # present; `aud` only when an audience is configured.
                options={"verify_aud": self.audience is not None, "require": []},
            )
        except jwt.PyJWTError as e:
            raise TokenError(str(e)) from None
        return payload


def _permissions_pattern(regex: str | None) -> re.Pattern[str] | None:
    if not regex:
        return None
    pattern = re.compile(regex)
    if not {"namespace", "role"} <= set(pattern.groupindex):
        raise ValueError("permissions regex has no `namespace` or `role` named group")
    return pattern
