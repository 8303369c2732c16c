"""PostgreSQL backend of the store contract (asyncpg)."""

from pytemporal.persistence.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
