"""The signal bridge: transitions recorded in another process, on this process's signals."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import psycopg
import pytest

from persistence import PostgresSessionStorage, PostgresSignalBridge
from statecharts import InMemorySessionManager, SessionConfig, signals

from .helpers import child, last_line

pytestmark = pytest.mark.postgres

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


class Received:
    """What the local signals received: (session, seq, kind, old status, new status)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, str, str, str]] = []
        self.named: list[tuple[str, int]] = []

    def on_change(self, sender: str, **data: Any) -> None:
        if not isinstance(data["manager"], PostgresSignalBridge):
            return  # a local manager's own signal
        event = data["event"]
        old, new = data["old_state"], data["new_state"]
        self.items.append((sender, event.seq, event.event.kind, old.status, new.status))

    def on_named(self, sender: str, **data: Any) -> None:
        self.named.append((sender, data["event"].seq))

    def seqs(self, session_id: str) -> list[int]:
        return [seq for sid, seq, *_ in self.items if sid == session_id]


async def test_a_watcher_receives_every_transition_of_another_process_in_seq_order(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    await store.migrate()
    received = Received()
    signals.state_changed.connect(received.on_change)
    signals.command_executed.connect(received.on_named)
    try:
        async with PostgresSignalBridge(store, receiver_timeout=5) as bridge:
            driver = child("drive", pg_dsn, pg_schema, "3", "60", "0.005")
            # mid-run, the listening connection is cut: the bridge catches up from the table
            await asyncio.sleep(0.4)
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
                )
            result = await asyncio.to_thread(last_line, driver)
            for sid, last in result["last"].items():
                assert await bridge.wait_for(sid, last, timeout=30)
            assert await bridge.drain_signals(timeout=10)
            assert bridge.reconnects >= 1
    finally:
        signals.state_changed.disconnect(received.on_change)
        signals.command_executed.disconnect(received.on_named)
        await store.close()
    for sid, last in result["last"].items():
        assert received.seqs(sid) == list(range(1, last + 1))  # every one, once, in order
        mine = [item for item in received.items if item[0] == sid]
        assert mine[0][2:] == ("started", "created", "running")
        for before, after in pairwise(mine):
            assert after[3] == before[4]  # each old state is the previous new state
    commands = {(sid, seq) for sid, seq, kind, *_ in received.items if kind == "command_executed"}
    assert set(received.named) == commands


async def test_the_bridge_follows_chosen_sessions_and_skips_its_own_writes(
    pg_dsn: str, pg_schema: str
) -> None:
    writer = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager = await InMemorySessionManager.open(writer)
    followed = await manager.create_session(CONFIG)
    ignored = await manager.create_session(CONFIG)
    await manager.start_session(followed)
    await manager.save_checkpoint(followed)
    await manager.send(followed, "iteration_started", number=1)
    received = Received()
    signals.state_changed.connect(received.on_change)
    other = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    try:
        bridge = PostgresSignalBridge(other, sessions=[followed])
        await bridge.start()
        await bridge.start()  # idempotent
        assert bridge.position(followed) == 2  # caught up from seq 1 on start
        await manager.send(followed, "command_executed", command="x", success=True)
        await manager.start_session(ignored)
        assert await bridge.wait_for(followed, 3, timeout=10)
        assert not await bridge.wait_for(ignored, 1, timeout=0.2)
        await bridge._notified("garbage")  # a stray notification is ignored
        # a bridge on the writer's own store does not echo what its manager emitted
        own = PostgresSignalBridge(writer)
        await own.start()
        await own.follow(ignored, after_seq=1)
        await manager.send(ignored, "paused", reason="own")
        assert await own.wait_for(ignored, 2, timeout=10)
        assert await bridge.drain_signals(timeout=5)
        assert await own.drain_signals(timeout=5)
        await own.aclose()
        await bridge.aclose()
    finally:
        signals.state_changed.disconnect(received.on_change)
        await manager.aclose()
        await other.close()
    assert [(sid, seq) for sid, seq, *_ in received.items if sid == followed] == [
        (followed, 1),
        (followed, 2),
        (followed, 3),
    ]
    assert [seq for sid, seq, *_ in received.items if sid == ignored] == []
