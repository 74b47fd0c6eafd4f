"""Fixtures for the tests that need a PostgreSQL server (marked ``postgres``).

The server is named by ``SESSIONCHART_PG_DSN``.  Without it the tests are
skipped — except in CI (``CI`` set), where a missing server is a failure.
Each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from .helpers import store_url

DSN_ENV = "SESSIONCHART_PG_DSN"


def server_dsn() -> str:
    """The server's DSN; skips the test outside CI when there is none, fails it in CI."""
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {DSN_ENV} is not: the PostgreSQL tests must run in CI")
        pytest.skip(f"no PostgreSQL server ({DSN_ENV} is unset)")
    return dsn


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The DSN of the test server (see :func:`server_dsn`)."""
    return server_dsn()


@pytest.fixture
def pg_store_url(pg_dsn: str, pg_schema: str) -> str:
    """The test server's URL with this test's schema: a store location for ``cook``."""
    return store_url(pg_dsn, pg_schema)


def drop_schema(dsn: str, schema: str) -> None:
    """Drop ``schema`` and everything in it."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema name for this test (created by the store's migration), dropped after."""
    schema = f"t_{secrets.token_hex(6)}"
    yield schema
    drop_schema(pg_dsn, schema)
