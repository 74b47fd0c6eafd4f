"""``cook ui``: the sessions page at 10,000 sessions, and how soon an event reaches a browser.

    python benchmarks/bench_ui.py [--sessions N] [--rounds N] [--events N] [--quick]

Runs the real ``cook ui`` (a process of its own, read-only) over a TinyDB store
of ``--sessions`` sessions (default 10,000) built for the run, and measures:

- **the sessions page and its API**: ``GET /`` and ``GET /api/sessions`` (the
  newest 50), ``--rounds`` times each; the server's own time (its
  ``Server-Timing`` header) and the client's, p50/p95.  Baselines in the same
  run: ``GET /api/store`` (the framework and HTTP alone) and the store's
  ``listing()`` called directly (what every page must read);
- **the latency of an event**: another process records ``--events`` events,
  one every 100 ms, in a running session; a Server-Sent Events client of
  ``/api/sessions/ID/stream`` takes the time each arrives, against the time the
  event was recorded (its timestamp; one clock: one machine); p50/p95.
  Baseline: an in-process reader polling the log every 100 ms (the floor the
  TinyDB feed's poll sets).

With ``SESSIONCHART_PG_DSN`` set, the same on a PostgreSQL store (a schema of
its own, dropped after), where the baseline of the latency is the signal
bridge's own ``wait_for`` in-process.  Nothing is asserted; figures are printed
as Markdown rows for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from persistence import TinyDBSessionStorage
from statecharts import (
    InMemorySessionManager,
    SessionConfig,
    SessionId,
    SessionStorage,
    WorkflowConfig,
)

COOK = str(Path(sys.executable).with_name("cook"))
WORKFLOWS = ("tests", "lint", "fix", "docs")


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def row(what: str, values: list[float], unit: str = "ms") -> str:
    """A Markdown row: p50 and p95."""
    return f"| {what} | {pct(values, 0.5):.1f} {unit} | {pct(values, 0.95):.1f} {unit} |"


async def populate(storage: SessionStorage, count: int) -> None:
    """``count`` sessions: a third completed, a third paused, a third running (interrupted)."""
    manager = await InMemorySessionManager.open(storage)
    try:
        for i in range(count):
            config = SessionConfig(
                project_path="/tmp",
                max_iterations=3,
                workflow=WorkflowConfig(name=WORKFLOWS[i % len(WORKFLOWS)]),
            )
            sid = await manager.create_session(config)
            await manager.start_session(sid)
            await manager.send(sid, "iteration_started", number=1)
            await manager.send(sid, "command_executed", command="pytest -q", success=True)
            await manager.send(sid, "iteration_completed")
            if i % 3 == 0:
                await manager.complete_session(sid)
            elif i % 3 == 1:
                await manager.pause_session(sid, reason="lunch")
    finally:
        await manager.aclose()


def serve(store: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``cook ui --read-only`` on ``store``; its process and base URL."""
    process = subprocess.Popen(
        [COOK, "ui", "--store", store, "--port", "0", "--read-only"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"open (http://\S+)", line)
        if found:
            url = found.group(1)
            for _ in range(600):
                try:
                    httpx.get(url + "api/store", timeout=60)
                except httpx.TransportError:
                    time.sleep(0.1)
                else:
                    return process, url
    raise SystemExit(f"cook ui did not start: {process.communicate()[1]}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def timings(client: httpx.Client, path: str, rounds: int) -> tuple[list[float], list[float]]:
    """Server and client times (ms) of ``rounds`` GETs of ``path``."""
    server, wall = [], []
    client.get(path)  # warm
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text[:200]
        found = re.search(r"dur=([\d.]+)", answer.headers["server-timing"])
        assert found is not None
        server.append(float(found.group(1)))
    return server, wall


def listing_times(make: Callable[[], SessionStorage], rounds: int) -> list[float]:
    """The store's own ``listing()``, called directly (ms)."""

    async def run() -> list[float]:
        storage: Any = make()
        out = []
        for _ in range(rounds):
            started = time.perf_counter()
            await storage.listing()
            out.append((time.perf_counter() - started) * 1000)
        await storage.close()
        return out

    return asyncio.run(run())


def pages(url: str, rounds: int, make: Callable[[], SessionStorage], count: int) -> list[str]:
    """The rows of the page benchmark."""
    out = []
    with httpx.Client(base_url=url, timeout=120) as client:
        total = client.get("/api/sessions?per_page=1").json()["total"]
        assert total == count, total
        store_s, _ = timings(client, "/api/store", rounds)
        api_s, api_w = timings(client, "/api/sessions", rounds)
        page_s, page_w = timings(client, "/", rounds)
    listing = listing_times(make, max(5, rounds // 4))
    out.append(row(f"baseline: the store's `listing()` of {count:,} sessions, in-process", listing))
    out.append(row("baseline: `GET /api/store` (server time)", store_s))
    out.append(row(f"`GET /api/sessions`, newest 50 of {count:,} (server time)", api_s))
    out.append(row("`GET /api/sessions` (client: request to last byte)", api_w))
    out.append(row(f"`GET /`, the sessions page, newest 50 of {count:,} (server time)", page_s))
    out.append(row("`GET /` (client)", page_w))
    return out


# -- latency ---------------------------------------------------------------------------------
WRITER = """
import asyncio, sys, time
from statecharts import InMemorySessionManager
sys.path.insert(0, {bench!r})
from bench_ui import open_store
async def main():
    manager = await InMemorySessionManager.open(open_store({store!r}), recover=False)
    for i in range({events}):
        await manager.send({sid!r}, "command_executed", command=f"step {{i}}", success=True)
        await asyncio.sleep(0.1)
    await manager.send({sid!r}, "iteration_completed")
    await manager.complete_session({sid!r})
    await manager.aclose()
asyncio.run(main())
"""


def open_store(location: str) -> SessionStorage:
    """The store at ``location`` (a directory or a PostgreSQL URL)."""
    if location.startswith("postgresql://"):
        from persistence import PostgresSessionStorage  # noqa: PLC0415 - psycopg: optional

        storage: SessionStorage = PostgresSessionStorage(location)
        return storage
    return TinyDBSessionStorage(location)


async def running_session(location: str) -> SessionId:
    manager = await InMemorySessionManager.open(open_store(location))
    sid = await manager.create_session(SessionConfig(project_path="/tmp", max_iterations=1))
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    await manager.aclose()
    return sid


def write(location: str, sid: SessionId, events: int) -> subprocess.Popen[bytes]:
    """Another process recording ``events`` events, 100 ms apart."""
    code = WRITER.format(bench=str(Path(__file__).parent), store=location, sid=sid, events=events)
    return subprocess.Popen([sys.executable, "-c", code])


def sse_latency(url: str, sid: SessionId, location: str, events: int) -> list[float]:
    """Each event's time from being recorded to reaching an SSE client (ms)."""
    got: list[float] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.stream("GET", f"{url}api/sessions/{sid}/stream", timeout=120) as answer:
            ready.set()
            for line in answer.iter_lines():
                if line.startswith("event: end"):
                    return
                if line.startswith("data: ") and '"kind":"command_executed"' in line:
                    arrived = datetime.now(UTC)
                    recorded = datetime.fromisoformat(json.loads(line[6:])["timestamp"])
                    got.append((arrived - recorded).total_seconds() * 1000)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(30)
    time.sleep(0.5)
    writer = write(location, sid, events)
    writer.wait()
    reader.join(60)
    return got


def poll_latency(location: str, sid: SessionId, events: int) -> list[float]:
    """Baseline: an in-process reader polling the log every 100 ms (TinyDB)."""

    async def run() -> list[float]:
        storage: Any = TinyDBSessionStorage(location, read_only=True)
        last = 0
        async for event in storage.load_events(sid):
            last = event.seq
        writer = write(location, sid, events)
        got: list[float] = []
        while writer.poll() is None or len(got) < events:
            async for event in storage.load_events(sid, last):
                last = event.seq
                if event.event.kind == "command_executed":
                    got.append((datetime.now(UTC) - event.timestamp).total_seconds() * 1000)
            if writer.poll() is not None and len(got) >= events:
                break
            await asyncio.sleep(0.1)
        await storage.close()
        return got

    return asyncio.run(run())


def bridge_latency(location: str, sid: SessionId, events: int) -> list[float]:
    """Baseline: the signal bridge's ``wait_for`` in-process (PostgreSQL)."""
    from persistence import PostgresSessionStorage, PostgresSignalBridge  # noqa: PLC0415

    async def run() -> list[float]:
        storage = PostgresSessionStorage(location)
        got: list[float] = []
        async with PostgresSignalBridge(storage, sessions=[sid], skip_own=False) as bridge:
            await bridge.wait_for(sid, 1, timeout=10)
            position = bridge.position(sid)
            writer = write(location, sid, events)
            while len(got) < events:
                if not await bridge.wait_for(sid, position + 1, timeout=30):
                    break
                position = bridge.position(sid)
                got += [
                    (datetime.now(UTC) - event.timestamp).total_seconds() * 1000
                    async for event in storage.load_events(sid, position - 1)
                    if event.event.kind == "command_executed"
                ]
            await asyncio.to_thread(writer.wait)
        await storage.close()
        return got

    return asyncio.run(run())


def latency_rows(
    name: str,
    url: str,
    location: str,
    events: int,
    baseline: Callable[[str, SessionId, int], list[float]],
    label: str,
) -> list[str]:
    base_sid = asyncio.run(running_session(location))
    base = baseline(location, base_sid, events)
    sid = asyncio.run(running_session(location))
    sse = sse_latency(url, sid, location, events)
    return [
        row(f"{name} baseline: {label}", base),
        row(f"{name}: event recorded by another process → SSE client", sse),
    ]


def run_pg(dsn: str, args: argparse.Namespace) -> list[str]:
    import psycopg  # noqa: PLC0415 - the postgres extra, only with a server
    from psycopg import sql  # noqa: PLC0415

    schema = f"bench_ui_{secrets.token_hex(4)}"
    sep = "&" if "?" in dsn else "?"
    location = f"{dsn}{sep}schema={schema}"
    try:
        started = time.perf_counter()
        from persistence import PostgresSessionStorage  # noqa: PLC0415

        asyncio.run(populate(PostgresSessionStorage(location), args.sessions))
        print(
            f"(PostgreSQL: {args.sessions:,} sessions made in "
            f"{time.perf_counter() - started:.0f} s)"
        )
        process, url = serve(location)
        try:
            out = pages(url, args.rounds, lambda: PostgresSessionStorage(location), args.sessions)
            out += latency_rows(
                "PostgreSQL",
                url,
                location,
                args.events,
                bridge_latency,
                "the signal bridge's `wait_for`, in-process",
            )
        finally:
            stop(process)
        return out
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="1,000 sessions, 10 rounds")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.rounds, args.events = 1000, 10, 10
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    rows: list[str] = []
    try:
        store = work / "store"
        started = time.perf_counter()
        asyncio.run(populate(TinyDBSessionStorage(store, durability="none"), args.sessions))
        print(f"(TinyDB: {args.sessions:,} sessions made in {time.perf_counter() - started:.0f} s)")
        process, url = serve(str(store))
        try:
            rows += pages(
                url, args.rounds, lambda: TinyDBSessionStorage(store, read_only=True), args.sessions
            )
            rows += latency_rows(
                "TinyDB",
                url,
                str(store),
                args.events,
                poll_latency,
                "an in-process reader polling the log every 100 ms",
            )
        finally:
            stop(process)
        dsn = os.environ.get("SESSIONCHART_PG_DSN")
        if dsn and not args.no_postgres:
            pg_rows = run_pg(dsn, args)
            rows += [
                r.replace("| `GET", "| PostgreSQL: `GET").replace(
                    "| baseline:", "| PostgreSQL baseline:"
                )
                for r in pg_rows
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
    )
    print("| what | p50 | p95 |")
    print("|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
