"""Errors of opening a database, as opposed to the per-call errors in ``common.errors``.

``SchemaMismatch`` is raised before a store serves anything, so it is not a
``ServiceError``: it never reaches a gRPC client, only the operator starting a server.
"""

from __future__ import annotations


class SchemaMismatch(Exception):
    """The database holds no schema, or a schema version this code does not expect."""

    @classmethod
    def for_versions(cls, stored: int | None, expected: int, db: str) -> SchemaMismatch:
        """The error for a database at `stored` (None: no schema), naming the fix.

        `db` is the URL to put in the suggested command; pass it through
        ``urls.redact`` first so a password never lands in a log.
        """
        if stored is None:
            return cls(
                f"database {db} has no pytemporal schema; run `pytemporal schema setup --db {db}`"
            )
        if stored < expected:
            return cls(
                f"database schema version {stored} is older than version {expected},"
                f" which this server expects; run `pytemporal schema upgrade --db {db}`"
            )
        return cls(
            f"database schema version {stored} is newer than version {expected},"
            " which this server expects: this database was created by a newer pytemporal;"
            " run that version, or a newer one"
        )
