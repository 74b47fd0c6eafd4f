"""Code that runs in child processes (forked from a preloaded forkserver): crash and sharing tests.

Each child reports over a pipe; a child killed with SIGKILL simply stops
reporting.  Nothing here runs under coverage (killed children cannot write it).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from persistence import TinyDBSessionStorage
from statecharts import (
    InMemorySessionManager,
    SessionConfig,
    SessionError,
    SessionId,
    SessionLocked,
)
from statecharts._session import LiveSession

from .workload import next_event

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)
ROTATE_AFTER = 1500  # events per session before a child completes it and starts another


def context() -> Any:
    """A forkserver context whose server has imported the domain, the stores and this module."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["statecharts", "persistence", __name__])
    return ctx


def record_until_killed(path: str, durability: str, seed: int, conn: Connection) -> None:
    """Drive one active session of the store (or a new one) and report every acknowledged seq."""
    asyncio.run(_record(Path(path), durability, random.Random(seed), conn))


async def _record(path: Path, durability: str, rng: random.Random, conn: Connection) -> None:
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, durability))  # type: ignore[arg-type]
    active = [info.id for info in await manager.list_active_sessions()]
    sid = active[-1] if active else await manager.create_session(CONFIG)
    while True:
        session = await manager._reading(sid)
        if (
            session.last_seq >= ROTATE_AFTER
            and session.state.status == "running"
            and (session.state.phase == "idle")
        ):
            await manager.complete_session(sid)
            conn.send((sid, (await manager._reading(sid)).last_seq, "completed"))
            sid = await manager.create_session(CONFIG)
            continue
        if rng.random() < 0.01:
            await manager.save_checkpoint(sid)
            continue
        event = next_event(session.state, session.tracker.iterations_completed, rng)
        recorded = await manager.record_event(sid, event)
        conn.send((sid, recorded.seq, recorded.event.kind))


def drive_own_session(path: str, count: int, seed: int, conn: Connection) -> None:
    """Create a session, record ``count`` events on it, report its id and last seq."""
    asyncio.run(_drive_own(Path(path), count, random.Random(seed), conn))


async def _drive_own(path: Path, count: int, rng: random.Random, conn: Connection) -> None:
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "batched"))
    sids = [await manager.create_session(CONFIG) for _ in range(2)]
    conn.send(("ready", sids))
    conn.recv()  # go
    for _ in range(count):
        for sid in sids:
            session = await manager._reading(sid)
            event = next_event(session.state, session.tracker.iterations_completed, rng)
            await manager.record_event(sid, event)
    conn.send(("done", {sid: (await manager._reading(sid)).last_seq for sid in sids}))
    await manager.aclose()


def hold_session(path: str, conn: Connection) -> None:
    """Create and start a session, report its id, hold it until told to stop."""
    asyncio.run(_hold(Path(path), conn))


async def _hold(path: Path, conn: Connection) -> None:
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    conn.send(sid)
    conn.recv()
    await manager.aclose()


def try_session(path: str, sid: SessionId, conn: Connection) -> None:
    """Open the store and try to drive ``sid``; report ``locked`` or the state reached."""
    asyncio.run(_try(Path(path), sid, conn))


async def _try(path: Path, sid: SessionId, conn: Connection) -> None:
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    try:
        if (await manager.get_state(sid)).status == "paused":  # interrupted: its driver left
            await manager.resume_session(sid)
        state = await manager.send(sid, "iteration_started", number=1)
    except SessionLocked as error:
        conn.send(("locked", str(error)))
    else:
        conn.send(("drove", state.status))
    await manager.aclose()


def fill_until_too_large(path: str, conn: Connection) -> None:
    """Record events under a small RLIMIT_FSIZE until an append fails; report what happened."""
    asyncio.run(_fill(Path(path), conn))


async def _fill(path: Path, conn: Connection) -> None:
    import resource  # noqa: PLC0415 - only this child limits its file size

    from statecharts import events  # noqa: PLC0415

    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
    event = events.AnalysisCompleted(results={"summary": "y" * 900})
    outcome: dict[str, Any] = {"errno": None}
    try:
        for _ in range(1000):
            live = await manager._reading(sid)
            before = (live.last_seq, live.state)
            await manager.record_event(sid, event)
    except SessionError as error:
        outcome["errno"] = getattr(error, "errno", None)
        live = await manager._reading(sid)
        outcome["memory_unchanged"] = before == (live.last_seq, live.state)
        # the log, read by a fresh instance, holds exactly what memory holds: no partial line
        reader = TinyDBSessionStorage(path, "none", read_only=True)
        stored = [e async for e in reader.load_events(sid)]
        replayed = LiveSession(sid, live.config, live.created_at)
        replayed.replay(stored)
        outcome["disk_matches_memory"] = (
            [e.seq for e in stored] == list(range(1, live.last_seq + 1))
            and replayed.same_as(live)
            and os.path.getsize(path / "sessions" / sid / "events.jsonl") < 64 * 1024
        )
        outcome["events"] = len(stored)
    conn.send(outcome)


def open_as_nobody(path: str, conn: Connection) -> None:
    """Drop to uid/gid 65534, then try to open the store; report the error."""
    os.setgid(65534)
    os.setuid(65534)
    try:
        TinyDBSessionStorage(path, "none")
    except (SessionError, OSError) as error:  # a StorageError is an OSError: the type is reported
        conn.send((type(error).__name__, getattr(error, "errno", None), str(error)))
    else:
        conn.send(("opened", None, ""))
