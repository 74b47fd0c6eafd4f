"""The database schema, created and migrated by the package: versioned, idempotent migrations.

Every table lives in one PostgreSQL schema (``sessionchart`` unless the store
is told otherwise), so that several stores can share a database.  Applied
migrations are recorded in ``schema_migrations``; :func:`migrate` applies the
missing ones in order, in one transaction, under an advisory lock (two
processes opening a new database at once do not both create it).  A database
migrated by a newer version of the package is refused, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from psycopg import AsyncConnection, sql

from .._errors import StorageError

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "check_schema_name", "migrate"]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: its ``version``, what it does, its SQL (``{schema}`` filled in)."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: Final = (
    Migration(
        1,
        "sessions and events",
        (
            """
            CREATE TABLE {schema}.sessions (
                id            text PRIMARY KEY,
                created_at    timestamptz NOT NULL,
                config        jsonb NOT NULL,
                state         jsonb NOT NULL,
                status        text NOT NULL,
                last_seq      bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
                version       bigint NOT NULL DEFAULT 1,
                checkpoint    jsonb,
                owner_host    text,
                owner_pid     integer,
                owner_started bigint,
                owner_token   text,
                heartbeat     timestamptz
            )
            """,
            """
            CREATE TABLE {schema}.events (
                session_id  text NOT NULL REFERENCES {schema}.sessions (id) ON DELETE CASCADE,
                seq         bigint NOT NULL CHECK (seq >= 1),
                recorded_at timestamptz NOT NULL,
                kind        text NOT NULL,
                body        jsonb NOT NULL,
                PRIMARY KEY (session_id, seq)
            )
            """,
        ),
    ),
    Migration(
        2,
        "owners: heartbeats and release by store token",
        (
            "CREATE INDEX sessions_owner_token ON {schema}.sessions (owner_token)"
            " WHERE owner_token IS NOT NULL",
        ),
    ),
)
"""Every migration, oldest first (append new ones; never change an applied one)."""

LATEST_VERSION: Final = MIGRATIONS[-1].version
"""The schema version this package writes."""


def check_schema_name(name: str) -> str:
    """``name`` if it can name a schema as is (lower-case letters, digits, ``_``), else raise."""
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise StorageError(
            f"invalid schema name {name!r}: lower-case letters, digits and _ (at most 63)"
        )
    return name


async def migrate(connection: AsyncConnection[Any], schema: str = "sessionchart") -> list[int]:
    """Bring ``schema`` to :data:`LATEST_VERSION`; returns the versions applied now (maybe none).

    Raises :class:`~persistence.StorageError` when the database was
    migrated by a newer package (its version is above :data:`LATEST_VERSION`).
    """
    name = sql.Identifier(check_schema_name(schema))
    applied: list[int] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
        await connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        await connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(name)
        )
        cursor = await connection.execute(
            sql.SQL("SELECT version FROM {}.schema_migrations").format(name)
        )
        done = {int(row[0]) for row in await cursor.fetchall()}
        newest = max(done, default=0)
        if newest > LATEST_VERSION:
            raise StorageError(
                f"the database schema {schema!r} is at version {newest}, newer than this "
                f"package's {LATEST_VERSION}: upgrade sessionchart"
            )
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            for statement in migration.statements:
                await connection.execute(sql.SQL(statement).format(schema=name))
            await connection.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version, name) VALUES (%s, %s)").format(
                    name
                ),
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied
