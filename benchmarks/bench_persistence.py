"""Durable persistence against the raw limits of the same disk, in one run.

    python benchmarks/bench_persistence.py [--quick] [--dir DIR]

Prints, for the TinyDB store with its event logs (``--dir``: where to put the
stores; default a temporary directory on the disk that holds the system's
temporary files):

- the raw limit of the disk: ``os.write`` of the very bytes of the log lines,
  one call per event, with and without ``fdatasync`` after each;
- events/s through ``record_event`` in ``strict`` and ``batched`` mode, beside
  the in-memory manager (no store) measured in the same run;
- whether appends stay flat: the log's own appends/s at its start and after
  100,000 events, and ``record_event`` (batched, and in memory for reference)
  from the 1,000th event and up to the 100,000th;
- a session of 1,000,000 events: restore from its checkpoint (a fresh manager
  opening the store), and a full replay with ``verify``;
- the naive store, one TinyDB insert per event, up to 10,000 events.

The event mix is the in-memory benchmark's: ``iteration_started``, three
``command_executed``, ``iteration_completed``.  No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from persistence import TinyDBSessionStorage, verify
from persistence._durability import GroupCommitter
from persistence._files import Directory
from persistence.tinydb._lines import LogHeader, encode_events
from persistence.tinydb._log_writer import EventLog, write_new_log
from statecharts import (
    InMemorySessionManager,
    SessionConfig,
    SessionId,
    SessionStorage,
    TimestampedEvent,
    events,
    new_session_id,
)

COMMANDS_PER_ITERATION = 3


def mix() -> Iterator[Any]:
    """The event mix, forever: one iteration after another."""
    number = 0
    while True:
        number += 1
        yield events.IterationStarted(number=number)
        for _ in range(COMMANDS_PER_ITERATION):
            yield events.CommandExecuted(command="make test", success=True)
        yield events.IterationCompleted()


CONFIG = SessionConfig(project_path=Path("/work/project"), max_iterations=10_000_000)


Started = tuple[InMemorySessionManager, SessionId, Iterator[Any]]


async def started(storage: SessionStorage | None) -> Started:
    """A manager (over ``storage``) with one started session, and the session's event source."""
    if storage is None:
        manager = InMemorySessionManager()
    else:
        manager = await InMemorySessionManager.open(storage)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    return manager, sid, mix()


async def record(session: Started, count: int) -> float:
    """Record ``count`` events of the session's mix; returns events/s."""
    manager, sid, source = session
    start = time.perf_counter()
    for _ in range(count):
        await manager.record_event(sid, next(source))
    return count / (time.perf_counter() - start)


# -- raw limits ----------------------------------------------------------------------------
def sample_lines(count: int) -> list[bytes]:
    """The log lines of ``count`` events of the mix, as the store writes them."""
    now = datetime.now(UTC)
    source = mix()
    recorded = [
        TimestampedEvent(seq=i + 2, timestamp=now, event=next(source)) for i in range(count)
    ]
    data, _running, lengths = encode_events(recorded, 0)
    lines, offset = [], 0
    for length in lengths:
        lines.append(data[offset : offset + length])
        offset += length
    return lines


def raw_rate(directory: Path, lines: list[bytes], sync: bool) -> float:
    """``os.write`` of each line (and ``fdatasync`` after each, if ``sync``); lines/s."""
    path = directory / "raw.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for line in lines:
            os.write(fd, line)
            if sync:
                os.fdatasync(fd)
        return len(lines) / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


# -- the store -----------------------------------------------------------------------------
async def store_rate(directory: Path, durability: str, count: int) -> float:
    """events/s through ``record_event`` over the TinyDB store in ``durability`` mode."""
    storage = TinyDBSessionStorage(directory / durability, durability)  # type: ignore[arg-type]
    session = await started(storage)
    rate = await record(session, count)
    await session[0].aclose()
    return rate


async def memory_rate(count: int) -> float:
    """events/s through ``record_event`` of the in-memory manager (no store)."""
    session = await started(None)
    rate = await record(session, count)
    session[0].close()
    return rate


async def flatness(
    storage: SessionStorage | None, count: int, window: int = 2000
) -> tuple[float, float]:
    """events/s through ``record_event`` from the 1,000th event and up to the ``count``-th.

    Each is the best of three windows of ``window`` events (the machine is noisy).
    """
    session = await started(storage)
    await record(session, 1000 - 2)
    early = max([await record(session, window) for _ in range(3)])
    await record(session, count - 1000 - 6 * window)
    late = max([await record(session, window) for _ in range(3)])
    await session[0].aclose()
    return early, late


def log_flatness(directory: Path, count: int, window: int = 2000) -> tuple[float, float]:
    """Appends/s of the log itself (``EventLog.append``, batched) at the start and at ``count``."""
    sid = new_session_id()
    header = LogHeader(
        format_version=1, session_id=sid, created_at=datetime.now(UTC), config=CONFIG
    )
    committer = GroupCommitter()
    place = directory / sid
    place.mkdir()
    with Directory.open_root(place, create=False) as opened:
        write_new_log(opened, header, [], sync=True)

    def opener() -> Directory:
        return Directory.open_root(place, create=False)

    log = EventLog(opener, place / "events.jsonl", sid, "batched", committer)
    log.open()
    now = datetime.now(UTC)
    source = mix()
    recorded = [
        TimestampedEvent.trusted(seq=seq, timestamp=now, event=next(source))
        for seq in range(1, count + 1)
    ]

    def rate(first: int) -> float:
        start = time.perf_counter()
        for event in recorded[first : first + window]:
            log.append((event,))
        return window / (time.perf_counter() - start)

    early = max(rate(i) for i in range(0, 3 * window, window))
    for event in recorded[3 * window : count - 3 * window]:
        log.append((event,))
    late = max(rate(i) for i in range(count - 3 * window, count, window))
    committer.close()
    log.close()
    return early, late


async def big_session(directory: Path, count: int) -> dict[str, float]:
    """A session of ``count`` events: restore from a checkpoint, and full replay + verify."""
    path = directory / "big"
    storage = TinyDBSessionStorage(path, "none")
    session = await started(storage)
    manager, sid, _source = session
    built = time.perf_counter()
    await record(session, count - 1)
    built = time.perf_counter() - built
    start = time.perf_counter()
    await manager.save_checkpoint(sid)
    checkpoint = time.perf_counter() - start
    await manager.aclose()
    del manager, session

    start = time.perf_counter()
    restored = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    state = await restored.get_state(sid)
    restore = time.perf_counter() - start
    assert state.status == "paused"  # recovered: this run closed without pausing it
    await restored.aclose()
    del restored

    store = TinyDBSessionStorage(path, "none")
    start = time.perf_counter()
    report = await verify(store)
    replay = time.perf_counter() - start
    assert report.ok and report.events == count + 1, str(report)  # + the recovery's pause
    await store.close()
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {
        "build": count / built,
        "checkpoint": checkpoint,
        "restore": restore,
        "verify": count / replay,
        "bytes": float(size),
    }


def naive_tinydb(directory: Path, count: int) -> list[tuple[int, float]]:
    """One TinyDB insert per event (its default JSON storage): events/s at some counts."""
    db = TinyDB(directory / "naive.json")
    table = db.table("events")
    source = mix()
    now = datetime.now(UTC)
    marks = {500, 2000, 5000, count}
    rates = []
    start, done = time.perf_counter(), 0
    for seq in range(1, count + 1):
        event = TimestampedEvent(seq=seq, timestamp=now, event=next(source))
        table.insert(event.model_dump(mode="json"))
        if seq in marks:
            rates.append((seq, (seq - done) / (time.perf_counter() - start)))
            start, done = time.perf_counter(), seq
    db.close()
    return rates


def line(label: str, figure: str, note: str = "") -> None:
    print(f"  {label:<52} {figure:>16}  {note}")


async def main(directory: Path, quick: bool) -> None:
    n_fast = 20_000 if quick else 100_000
    n_sync = 500 if quick else 3000
    big = 100_000 if quick else 1_000_000
    print(f"persistence benchmark in {directory} (Python {sys.version.split()[0]})")
    lines = sample_lines(n_fast)
    raw_nosync = raw_rate(directory, lines, sync=False)
    raw_sync = raw_rate(directory, lines[:n_sync], sync=True)
    line("raw os.write per event", f"{raw_nosync:,.0f} /s")
    line("raw os.write + fdatasync per event", f"{raw_sync:,.0f} /s")
    memory = max([await memory_rate(n_fast) for _ in range(3)])
    line("in-memory manager, record_event", f"{memory:,.0f} /s")
    strict = max([await store_rate(directory, "strict", n_sync) for _ in range(2)])
    line(
        "strict, record_event",
        f"{strict:,.0f} /s",
        f"{strict / raw_sync:.0%} of raw write+fsync (goal >= 50%)",
    )
    batched = max([await store_rate(directory, "batched", n_fast) for _ in range(3)])
    line(
        "batched, record_event",
        f"{batched:,.0f} /s",
        f"{batched / memory:.0%} of in-memory (goal >= 80%)",
    )
    none = max([await store_rate(directory, "none", n_fast) for _ in range(2)])
    line("none, record_event", f"{none:,.0f} /s", f"{none / memory:.0%} of in-memory")
    flat = 100_000 if not quick else 20_000
    early, late = log_flatness(directory, flat)
    line("the log's own append, events 1-6,000", f"{early:,.0f} /s")
    line(
        f"the log's own append, the last 6,000 of {flat:,}",
        f"{late:,.0f} /s",
        f"{late / early:.0%} of the start (goal >= 80%)",
    )
    early, late = await flatness(TinyDBSessionStorage(directory / "flat", "batched"), flat)
    line("batched record_event, from the 1,000th event", f"{early:,.0f} /s")
    line(f"batched record_event, up to the {flat:,}th", f"{late:,.0f} /s", f"{late / early:.0%}")
    early, late = await flatness(None, flat)
    line(
        "in-memory record_event, same windows",
        f"{early:,.0f} -> {late:,.0f}",
        f"{late / early:.0%} (the manager's own growth)",
    )
    figures = await big_session(directory, big)
    line(
        f"building a {big:,}-event session (none mode)",
        f"{figures['build']:,.0f} /s",
        f"{figures['bytes'] / 1e6:,.0f} MB on disk",
    )
    line("  checkpoint of it", f"{figures['checkpoint']:.2f} s")
    line("  restore from the checkpoint (open)", f"{figures['restore']:.2f} s", "goal < 1 s")
    line("  full replay + verify", f"{figures['verify']:,.0f} /s", "goal >= 100,000/s")
    for count, rate in naive_tinydb(directory, 2000 if quick else 10_000):
        line(f"naive TinyDB insert per event, up to {count:,}", f"{rate:,.0f} /s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--dir", type=Path, help="where to put the stores")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        asyncio.run(main(Path(scratch), args.quick))
