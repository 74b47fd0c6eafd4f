"""The PostgreSQL store against pgbench's simple insert rate, on the same server, in one run.

    SESSIONCHART_PG_DSN=postgresql://user:pw@127.0.0.1:5432/db python benchmarks/bench_postgres.py

Prints events/s through ``record_event`` (a manager over a
:class:`~persistence.PostgresSessionStorage`) for 1 session and in aggregate for
100 sessions driven at once, beside the baseline: ``pgbench`` running a
one-statement ``INSERT`` of an event-sized row into a table keyed like the
events table, with 1 client and with as many clients as the store has
connections.  Everything runs in a scratch schema, dropped at the end.  Every
rate is the best of several rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from persistence import PostgresSessionStorage
from statecharts import InMemorySessionManager, SessionConfig, SessionId, events

COMMANDS_PER_ITERATION = 3
PGBENCH_SCRIPT = """\
INSERT INTO pgbench_events (session_id, seq, recorded_at, kind, body)
VALUES ('client-' || :client_id, nextval('pgbench_seq'), now(), 'command_executed',
 '{"seq": 1, "timestamp": "2026-11-25T00:00:00Z",
   "event": {"kind": "command_executed", "command": "make test", "success": true}}');
"""


def iteration_events(number: int) -> Iterator[Any]:
    """One iteration of the mix: start, three commands, completion."""
    yield events.IterationStarted(number=number)
    for _ in range(COMMANDS_PER_ITERATION):
        yield events.CommandExecuted(command="make test", success=True)
    yield events.IterationCompleted()


def pgbench_binary() -> str:
    """pgbench on the PATH, else the newest in Debian's server directories."""
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not candidates:
        sys.exit("pgbench not found (install postgresql-client or the server)")
    return str(candidates[-1])


def pgbench_rate(dsn: str, schema: str, clients: int, seconds: int) -> float:
    """Transactions/s of pgbench's one-INSERT script with ``clients`` clients."""
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "insert.sql"
        script.write_text(PGBENCH_SCRIPT.replace("\n ", " "), encoding="utf-8")
        conninfo = psycopg.conninfo.make_conninfo(dsn, options=f"-c search_path={schema}")
        done = subprocess.run(
            [
                pgbench_binary(),
                "-n",
                "-c",
                str(clients),
                "-j",
                str(min(clients, os.cpu_count() or 1)),
                "-T",
                str(seconds),
                "-f",
                str(script),
                conninfo,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    assert match is not None, done.stdout
    return float(match.group(1))


def prepare(dsn: str, schema: str) -> None:
    """The scratch schema, with pgbench's table beside the store's."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        name = sql.Identifier(schema)
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(name))
        connection.execute(
            sql.SQL(
                "CREATE TABLE {}.pgbench_events (session_id text, seq bigint,"
                " recorded_at timestamptz NOT NULL, kind text NOT NULL, body jsonb NOT NULL,"
                " PRIMARY KEY (session_id, seq))"
            ).format(name)
        )
        connection.execute(sql.SQL("CREATE SEQUENCE {}.pgbench_seq").format(name))


def drop(dsn: str, schema: str) -> None:
    """Drop the scratch schema."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


async def drive(manager: InMemorySessionManager, sid: SessionId, iterations: int) -> int:
    """Record ``iterations`` iterations of the mix on one session; the number of events."""
    count = 0
    for number in range(1, iterations + 1):
        for event in iteration_events(number):
            await manager.record_event(sid, event)
            count += 1
    return count


async def store_rate(dsn: str, schema: str, sessions: int, iterations: int, pool: int) -> float:
    """Events/s through ``record_event`` on ``sessions`` sessions at once."""
    store = PostgresSessionStorage(dsn, schema=schema, pool_size=pool)
    manager = await InMemorySessionManager.open(store)
    config = SessionConfig(project_path="/bench", max_iterations=iterations + 1)
    ids = [await manager.create_session(config) for _ in range(sessions)]
    for sid in ids:
        await manager.start_session(sid)
    start = time.perf_counter()
    counts = await asyncio.gather(*(drive(manager, sid, iterations) for sid in ids))
    seconds = time.perf_counter() - start
    await manager.aclose()
    return sum(counts) / seconds


def main() -> None:
    """Run the benchmark and print the table for ``docs/performance.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds, not minutes)")
    parser.add_argument("--pool", type=int, default=10, help="the store's connections")
    args = parser.parse_args()
    dsn = os.environ.get("SESSIONCHART_PG_DSN")
    if not dsn:
        sys.exit("set SESSIONCHART_PG_DSN=postgresql://user:pw@host:port/db")
    rounds, seconds, one, many = (1, 2, 40, 4) if args.quick else (3, 8, 400, 30)
    schema = f"bench_{secrets.token_hex(4)}"
    prepare(dsn, schema)
    try:
        with psycopg.connect(dsn) as connection:
            version = connection.execute("SHOW server_version").fetchone()
            sync = connection.execute("SHOW synchronous_commit").fetchone()
        base_1 = max(pgbench_rate(dsn, schema, 1, seconds) for _ in range(rounds))
        base_n = max(pgbench_rate(dsn, schema, args.pool, seconds) for _ in range(rounds))
        rate_1 = max(asyncio.run(store_rate(dsn, schema, 1, one, args.pool)) for _ in range(rounds))
        rate_100 = max(
            asyncio.run(store_rate(dsn, schema, 100, many, args.pool)) for _ in range(rounds)
        )
    finally:
        drop(dsn, schema)
    assert version is not None and sync is not None
    print(
        f"PostgreSQL {version[0]}, synchronous_commit={sync[0]}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, store pool {args.pool} connections"
    )
    print("| what | events/s | against the baseline |")
    print("|---|---|---|")
    print(f"| pgbench one-INSERT, 1 client (baseline) | {base_1:,.0f} | — |")
    print(f"| pgbench one-INSERT, {args.pool} clients (baseline) | {base_n:,.0f} | — |")
    print(f"| `record_event`, 1 session | {rate_1:,.0f} | {rate_1 / base_1:.0%} of 1 client |")
    print(
        f"| `record_event`, 100 sessions at once | {rate_100:,.0f} | "
        f"{rate_100 / base_n:.0%} of {args.pool} clients (goal ≥ 50 %): "
        f"{'met' if rate_100 >= base_n / 2 else 'NOT met'} |"
    )


if __name__ == "__main__":
    main()
