"""Helpers shared by the PostgreSQL tests: store URLs, SQL on a test's schema, child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import psycopg

ROOT = Path(__file__).resolve().parents[2]
"""The repository (the children run as ``python -m tests.postgres.children`` from there)."""


def store_url(dsn: str, schema: str) -> str:
    """``dsn`` with ``schema=SCHEMA`` added to its query (built with the URL's own parser).

    ``f"{dsn}?schema=..."`` breaks a DSN that has a query string already, such as
    a socket DSN (``postgresql:///db?host=/run/postgresql``).
    """
    base, _, query = dsn.partition("?")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "schema"]
    return f"{base}?{urlencode([*pairs, ('schema', schema)], safe='/')}"


def table(dsn: str, schema: str, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` in ``schema`` (committed); its rows, if it returns any."""
    with psycopg.connect(dsn, options=f"-c search_path={schema}") as connection:
        cursor = connection.execute(query)
        return cursor.fetchall() if cursor.description else []


def child(*args: str) -> subprocess.Popen[str]:
    """``python -m tests.postgres.children ARGS`` in the repository."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.children", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def last_line(process: subprocess.Popen[str], timeout: float = 240) -> dict[str, Any]:
    """The JSON of the last line a child printed, once it exited successfully."""
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
