"""The one place asyncpg's exceptions become pytemporal's.

Two questions are asked of a driver error:

* ``is_connection_error``: can the connection still be trusted? If not, the store
  terminates it (never hands it back to the pool) and expires the pool's idle
  connections, which were most likely cut by the same event (a PostgreSQL restart, a
  network partition).
* ``is_retryable``: would a fresh connection probably succeed? A statement that failed
  because its connection was already dead is worth one retry; a timeout is not (the
  server is slow or gone, and waiting twice as long helps nobody).

Anything that escapes a store method is a ``ServiceError``; driver errors leave as
``PersistenceError`` (gRPC UNAVAILABLE, retried by the SDKs).
"""

from __future__ import annotations

import json

import asyncpg  # type: ignore[import-untyped]

from pytemporal.common.errors import InvalidArgument, PersistenceError, ServiceError

# Errors that mean the session is gone or unusable, whatever statement was running.
_BROKEN = (
    OSError,  # ConnectionResetError, ConnectionRefusedError, TimeoutError...
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, crash shutdown
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"...
    asyncpg.exceptions.InternalClientError,  # protocol confusion
)
# Class 57 also holds query_canceled (a statement timeout), which leaves the session fine.
_NOT_BROKEN = (asyncpg.DataError, asyncpg.exceptions.QueryCanceledError)


# Text PostgreSQL cannot hold: NUL (U+0000) in a text column (22021) or escaped in
# jsonb (22P05). Always the client's string (SQLite stores it), so INVALID_ARGUMENT:
# as a store failure (UNAVAILABLE) the SDKs would retry it for ever.
CLIENT_TEXT_ERRORS = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)
CLIENT_TEXT_MESSAGE = "Request contains a NUL character (U+0000), which PostgreSQL cannot store."


def check_json_text(doc: str | None) -> None:
    """A JSON column is TEXT, read as jsonb by visibility queries, where an escaped
    NUL fails: refuse it on the way in, or one run would break its namespace's lists."""
    if doc and "\\u0000" in doc and _has_nul(json.loads(doc)):
        raise InvalidArgument(CLIENT_TEXT_MESSAGE)


def _has_nul(v: object) -> bool:
    if isinstance(v, str):
        return "\x00" in v
    if isinstance(v, dict):
        return any(_has_nul(k) or _has_nul(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_nul(x) for x in v)
    return False


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, _BROKEN) and not isinstance(exc, _NOT_BROKEN)


def is_retryable(exc: BaseException) -> bool:
    return is_connection_error(exc) and not isinstance(exc, TimeoutError)


def translate(exc: BaseException, doing: str) -> ServiceError:
    """`exc` as the error a store method raises (ours pass through unchanged)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, TimeoutError):
        return PersistenceError(f"postgres {doing} timed out")
    if isinstance(exc, CLIENT_TEXT_ERRORS):
        return InvalidArgument(CLIENT_TEXT_MESSAGE)
    return PersistenceError(f"postgres {doing} failed: {type(exc).__name__}: {exc}")
