"""Many writers on one server: processes, races, leases across owners."""

from __future__ import annotations

import pytest

from persistence import ConcurrentModification, PostgresSessionStorage, verify
from statecharts import INTERRUPTED, InMemorySessionManager, SessionConfig, SessionLocked, events

from .helpers import child, last_line, table

pytestmark = pytest.mark.postgres

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


async def test_four_processes_drive_250_sessions_each_without_losing_an_event(
    pg_dsn: str, pg_schema: str
) -> None:
    PostgresSessionStorage(pg_dsn, schema=pg_schema)  # nothing connects yet
    processes = [child("drive", pg_dsn, pg_schema, "250", "8", "0") for _ in range(4)]
    results = [last_line(p) for p in processes]
    expected = {sid: last for result in results for sid, last in result["last"].items()}
    assert len(expected) == 1000
    rows = table(
        pg_dsn,
        pg_schema,
        "SELECT session_id, count(*), min(seq), max(seq) FROM events GROUP BY session_id",
    )
    assert {sid: (n, lo, hi) for sid, n, lo, hi in rows} == {
        sid: (last, 1, last) for sid, last in expected.items()
    }
    sessions = table(pg_dsn, pg_schema, "SELECT id, last_seq, owner_token FROM sessions")
    assert {sid: (last, None) for sid, last, _ in [(r[0], r[1], r[2]) for r in sessions]} == {
        sid: (last, None) for sid, last in expected.items()
    }
    assert all(owner is None for _, _, owner in sessions)  # every owner let go
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    report = await verify(store)
    await store.close()
    assert report.ok, report
    assert (report.sessions, report.events) == (1000, sum(expected.values()))


async def test_two_processes_racing_on_one_session_win_each_transition_once(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager = await InMemorySessionManager.open(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    await manager.aclose()
    racers = [child("race", pg_dsn, pg_schema, sid, name, "150") for name in ("a", "b")]
    results = [last_line(p) for p in racers]
    won = {int(seq): command for r in results for seq, command in r["won"].items()}
    total_won = sum(len(r["won"]) for r in results)
    assert total_won == len(won)  # no seq was won twice
    assert all(r["won"] for r in results)  # both got turns (they really raced)
    rows = table(pg_dsn, pg_schema, "SELECT seq, kind, body->'event'->>'command' FROM events")
    assert sorted(seq for seq, _, _ in rows) == list(range(1, len(rows) + 1))  # gap-free
    commands = {seq: command for seq, kind, command in rows if kind == "command_executed"}
    assert commands == won  # every stored transition is the winner's, exactly once
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    assert (await verify(store)).ok
    await store.close()


async def test_a_writer_whose_lease_was_taken_over_gets_concurrent_modification(
    pg_dsn: str, pg_schema: str
) -> None:
    first = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    second = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    a = await InMemorySessionManager.open(first)
    sid = await a.create_session(CONFIG)
    await a.start_session(sid)
    b = await InMemorySessionManager.open(second)
    with pytest.raises(SessionLocked, match="pid"):
        await b.send(sid, "iteration_started", number=1)
    # the first owner stalls (no heartbeat for longer than the lease): the second takes over
    table(
        pg_dsn, pg_schema, "UPDATE sessions SET heartbeat = now() - interval '1 hour' RETURNING 1"
    )
    await b.send(sid, "iteration_started", number=1)
    with pytest.raises(ConcurrentModification, match="expected version"):
        await a.send(sid, "paused", reason="stale")
    assert (await a.get_state(sid)).status == "running"  # nothing of it was kept
    with pytest.raises(SessionLocked):  # and it cannot write while the other one owns it
        await a.send(sid, "iteration_started", number=1)
    await second.release(sid)
    # once free, the first reloads before deciding: it sees the other's event, no fork
    assert (await a.send(sid, "command_executed", command="x", success=True)).status == "running"
    assert [e.event.kind for e in await a.get_events(sid)] == [
        "started",
        "iteration_started",
        "command_executed",
    ]
    assert (await verify(first)).ok
    await a.aclose()
    await b.aclose()


async def test_a_session_whose_owner_lease_expired_is_interrupted_by_the_next_opener(
    pg_dsn: str, pg_schema: str
) -> None:
    first = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    a = await InMemorySessionManager.open(first)
    sid = await a.create_session(CONFIG)
    await a.start_session(sid)
    # the owner vanishes without letting go (its host died): its row still names it
    table(
        pg_dsn,
        pg_schema,
        "UPDATE sessions SET owner_host = 'elsewhere', owner_pid = 4242 RETURNING 1",
    )
    first._held.clear()
    first.closed = True
    # while the lease runs, the session is left alone
    second = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    b = await InMemorySessionManager.open(second)
    assert (await b.get_state(sid)).status == "running"
    await b.aclose()
    # once it expired, whoever opens the store next pauses it as interrupted
    table(
        pg_dsn, pg_schema, "UPDATE sessions SET heartbeat = now() - interval '1 hour' RETURNING 1"
    )
    third = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    c = await InMemorySessionManager.open(third)
    assert (await c.get_events(sid))[-1].event == events.Paused(reason=INTERRUPTED)
    assert (await c.resume_session(sid)).status == "running"
    await c.aclose()
    a.close()
    await first._pool.close()
