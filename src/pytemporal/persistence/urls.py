"""Database URLs: which backend, and where.

None, "", sqlite://, sqlite://:memory:   in-memory SQLite (gone when the store closes)
sqlite:///relative/path.db              a SQLite file, relative to the working directory
sqlite:////absolute/path.db             a SQLite file, absolute path (SQLAlchemy's rule)
postgresql://user:pw@host:5432/db       PostgreSQL (also postgres://); query parameters
                                        are asyncpg's (sslmode=..., or server settings
                                        such as search_path=...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

_MEMORY = ("", ":memory:", "/:memory:")


class DatabaseURLError(ValueError):
    pass


@dataclass(frozen=True)
class DatabaseURL:
    dialect: Literal["sqlite", "postgresql"]
    url: str
    # SQLite only: the file, or None for an in-memory database.
    sqlite_path: str | None = None


def parse(url: str | None) -> DatabaseURL:
    if not url:
        return DatabaseURL("sqlite", "sqlite://")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseURLError(f"not a database URL: {redact(url)!r} (expected scheme://...)")
    if scheme == "sqlite":
        if rest in _MEMORY:
            return DatabaseURL("sqlite", url)
        if not rest.startswith("/") or rest == "/":
            raise DatabaseURLError(
                f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute.db"
            )
        return DatabaseURL("sqlite", url, sqlite_path=rest[1:])
    if scheme in ("postgresql", "postgres"):
        return DatabaseURL("postgresql", url)
    raise DatabaseURLError(
        f"unsupported database URL scheme {scheme!r} in {redact(url)!r};"
        " expected sqlite:// or postgresql://"
    )


def sqlite_url(path: str | None) -> str:
    """The URL of a SQLite file (None: in-memory), as the dev server's --db-filename gives it."""
    return f"sqlite:///{path}" if path else "sqlite://"


def redact(url: str) -> str:
    """`url` with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
