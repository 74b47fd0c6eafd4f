"""Two processes on one store: each drives its own sessions, and never one of the other's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from persistence import TinyDBSessionStorage, verify
from statecharts import InMemorySessionManager

from .children import context, drive_own_session, hold_session, try_session

EVENTS = 1000


def receive(pipe: Any) -> Any:
    """What a child sent, or a failure: never a wait for a child that died."""
    assert pipe.poll(60), "the child sent nothing for 60 s"
    try:
        return pipe.recv()
    except EOFError:
        pytest.fail("the child died without a word (see its traceback above)")


async def test_two_processes_drive_their_own_sessions_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    ctx = context()
    pipes, children = [], []
    for seed in (1, 2):
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=drive_own_session, args=(str(path), EVENTS, seed, theirs))
        child.start()
        pipes.append(mine)
        children.append(child)
    owned = [receive(pipe)[1] for pipe in pipes]
    for pipe in pipes:
        pipe.send("go")  # both drive at once
    last_seqs = {}
    for pipe in pipes:
        kind, seqs = receive(pipe)
        assert kind == "done"
        last_seqs.update(seqs)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert sorted(last_seqs) == sorted(sid for sids in owned for sid in sids)
    store = TinyDBSessionStorage(path, "strict")
    manager = await InMemorySessionManager.open(store)
    try:
        for sid, last in last_seqs.items():
            assert last == EVENTS
            stored = await manager.get_events(sid)
            assert [e.seq for e in stored[:EVENTS]] == list(range(1, EVENTS + 1))
            # a child that exits leaves its running sessions to be recovered by the next opener
            assert all(e.event.kind == "paused" for e in stored[EVENTS:])
        assert (await verify(store)).ok
    finally:
        await manager.aclose()


async def test_the_second_process_on_a_session_gets_session_locked(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    ctx = context()
    holder_pipe, holder_end = ctx.Pipe()
    holder = ctx.Process(target=hold_session, args=(str(path), holder_end))
    holder.start()
    sid = holder_pipe.recv()
    trier_pipe, trier_end = ctx.Pipe()
    trier = ctx.Process(target=try_session, args=(str(path), sid, trier_end))
    trier.start()
    outcome, detail = trier_pipe.recv()
    trier.join(30)
    assert outcome == "locked", detail
    assert f"pid {holder.pid}" in detail or "another store" in detail
    holder_pipe.send("stop")
    holder.join(30)
    # once the holder is gone, the session is free again (and was not touched meanwhile)
    trier_pipe, trier_end = ctx.Pipe()
    trier = ctx.Process(target=try_session, args=(str(path), sid, trier_end))
    trier.start()
    assert trier_pipe.recv() == ("drove", "running")
    trier.join(30)
    store = TinyDBSessionStorage(path, "strict")
    manager = await InMemorySessionManager.open(store)
    try:
        kinds = [e.event.kind for e in await manager.get_events(sid)]
        # the locked-out trier wrote nothing; the holder's exit left the session running, so
        # the next trier's open paused it (interrupted), then it resumed and drove it
        assert kinds == ["started", "paused", "resumed", "iteration_started", "paused"]
        assert (await verify(store)).ok
    finally:
        await manager.aclose()
