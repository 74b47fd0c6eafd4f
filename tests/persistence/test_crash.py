"""Crash tests with real processes: SIGKILL a child that records events, then recover.

A child (forked from a preloaded forkserver, so it starts in milliseconds)
drives a session and reports every acknowledged event over a pipe; the parent
kills it with SIGKILL after a random, seeded delay, then opens the store with a
fresh manager and checks that every acknowledged event is there, the log is
gap-free and the state equals a replay.  The next child carries on with the
recovered (``interrupted``) session.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from persistence import TinyDBSessionStorage, verify
from statecharts import InMemorySessionManager, SessionId
from statecharts._session import LiveSession

from .children import context, record_until_killed

KILLS = 32
SEED = 58


def receive(conn: object, acked: dict[SessionId, dict[int, str]]) -> None:
    """Record one acknowledgement sent by the child."""
    sid, seq, kind = conn.recv()  # type: ignore[attr-defined]
    acked[sid][seq] = kind


async def check(
    path: Path, durability: str, acked: dict[SessionId, dict[int, str]], touched: set[SessionId]
) -> int:
    """Open the store as a restarted process would, and check the touched sessions."""
    store = TinyDBSessionStorage(path, durability)  # type: ignore[arg-type]
    manager = await InMemorySessionManager.open(store)
    try:
        for sid in touched:
            stored = await manager.get_events(sid)
            assert [e.seq for e in stored] == list(range(1, len(stored) + 1)), "gap in the log"
            for seq, kind in acked[sid].items():
                assert seq <= len(stored), f"acknowledged seq {seq} lost ({len(stored)} stored)"
                assert stored[seq - 1].event.kind == kind
            live = await manager._reading(sid)
            replayed = LiveSession(sid, live.config, live.created_at)
            replayed.replay(stored)
            assert replayed.same_as(live), "the recovered state is not a replay of the log"
            assert live.state.status != "running", "a session of a dead process still runs"
        return len(manager)
    finally:
        await manager.aclose()


@pytest.mark.parametrize("durability", ["strict", "batched"])
async def test_sigkill_loses_no_acknowledged_event(tmp_path: Path, durability: str) -> None:
    path = tmp_path / "sessions.json"
    ctx = context()
    rng = random.Random(f"{SEED}-{durability}")
    acked: dict[SessionId, dict[int, str]] = defaultdict(dict)
    for round_number in range(KILLS):
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=record_until_killed,
            args=(str(path), durability, rng.randrange(1 << 30), sender),
        )
        child.start()
        sender.close()
        touched: set[SessionId] = set()
        deadline = time.monotonic() + rng.uniform(0.01, 0.15)
        while time.monotonic() < deadline:
            if receiver.poll(0.002):
                before = {sid: len(seqs) for sid, seqs in acked.items()}
                receive(receiver, acked)
                touched |= {sid for sid in acked if len(acked[sid]) != before.get(sid, 0)}
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        while True:  # what the child acknowledged before it died is still in the pipe
            try:
                if not receiver.poll():
                    break
                before = {sid: len(seqs) for sid, seqs in acked.items()}
                receive(receiver, acked)
                touched |= {sid for sid in acked if len(acked[sid]) != before.get(sid, 0)}
            except (EOFError, OSError):
                break
        receiver.close()
        assert child.exitcode == -signal.SIGKILL, f"round {round_number}: the child failed"
        await check(path, durability, acked, touched)
    assert sum(len(seqs) for seqs in acked.values()) > KILLS  # the children did work
    store = TinyDBSessionStorage(path, durability)  # type: ignore[arg-type]
    try:
        report = await verify(store)
        assert {p.kind for p in report.problems} <= {"torn_tail"}, str(report)
    finally:
        await store.close()
