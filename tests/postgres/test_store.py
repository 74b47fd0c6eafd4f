"""The PostgreSQL store beyond the contract: bad input, damage, migrations, the pool, the URL."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime

import psycopg
import pytest

from persistence import (
    ConcurrentModification,
    CorruptionError,
    PostgresSessionStorage,
    PostgresSignalBridge,
    StorageError,
    StorageUnavailable,
)
from persistence.postgres import LATEST_VERSION, migrate
from persistence.postgres._connections import parse_location
from statecharts import (
    InMemorySessionManager,
    PersistedSession,
    SessionConfig,
    SessionEvent,
    SessionId,
    SessionLocked,
    SessionNotFound,
    TimestampedEvent,
    events,
    new_session_id,
    state,
)

from ..cook.cli import cook
from .helpers import store_url, table

pytestmark = pytest.mark.postgres

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


def stamped(seq: int, event: SessionEvent) -> TimestampedEvent:
    return TimestampedEvent(seq=seq, timestamp=datetime.now(UTC), event=event)


async def started(store: PostgresSessionStorage) -> tuple[InMemorySessionManager, SessionId]:
    manager = await InMemorySessionManager.open(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    return manager, sid


# -- locations ------------------------------------------------------------------------------
def test_a_location_takes_its_schema_from_the_url_and_hides_the_password() -> None:
    where = parse_location("postgres://u:secret@db.example:6543/app?schema=runs&sslmode=disable")
    assert where.schema == "runs"
    assert "secret" not in repr(where) and repr(where) == "postgresql://db.example:6543/app (runs)"
    assert "sslmode=disable" in where.conninfo and "search_path=runs" in where.conninfo
    assert parse_location("dbname=app", "other").schema == "other"
    assert parse_location("postgresql:///app").schema == "sessionchart"


@pytest.mark.parametrize("dsn", ["", "   ", 42, "postgresql://h/db?schema=Bad-Name", "nonsense"])
def test_a_bad_location_is_a_storage_error(dsn: object) -> None:
    with pytest.raises(StorageError):
        PostgresSessionStorage(dsn)  # type: ignore[arg-type]


async def test_an_unreachable_server_is_storage_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = PostgresSessionStorage(f"postgresql://u:p@127.0.0.1:{port}/db?connect_timeout=2")
    with pytest.raises(StorageUnavailable, match=f"127.0.0.1:{port}"):
        await store.list()
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.acquire(new_session_id())
    await store.release(new_session_id())  # a closed store holds nothing


# -- migrations -----------------------------------------------------------------------------
async def test_migrations_are_idempotent_and_a_newer_schema_is_refused(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema, migrate=False)
    assert await store.migrate() == [1, 2]
    assert await store.migrate() == []
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as connection:
        assert await migrate(connection, pg_schema) == []
        await connection.execute(
            f"INSERT INTO {pg_schema}.schema_migrations (version, name) VALUES (99, 'future')"
        )
        with pytest.raises(StorageError, match="version 99, newer"):
            await migrate(connection, pg_schema)
    with pytest.raises(StorageError, match="newer"):
        await PostgresSessionStorage(pg_dsn, schema=pg_schema).list()
    await store.close()
    assert LATEST_VERSION == 2


def test_cook_db_migrate(pg_dsn: str, pg_schema: str, tmp_path: os.PathLike[str]) -> None:
    url = store_url(pg_dsn, pg_schema)
    first = cook("db", "migrate", "--store", url, "--json", cwd=tmp_path)  # type: ignore[arg-type]
    assert first.code == 0, first.err
    assert first.json() == {"schema": pg_schema, "version": LATEST_VERSION, "applied": [1, 2]}
    again = cook("db", "migrate", cwd=tmp_path, SESSIONCHART_STORE=url)  # type: ignore[arg-type]
    assert again.code == 0 and "already at version 2" in again.out
    # without a store given, the project's TinyDB store is meant: there is none here
    tiny = cook("db", "migrate", cwd=tmp_path)  # type: ignore[arg-type]
    assert tiny.code == 3 and "no store at" in tiny.err


async def test_cook_sessions_reads_a_postgres_store(
    pg_dsn: str, pg_schema: str, tmp_path: os.PathLike[str]
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager, sid = await started(store)
    await manager.complete_session(sid)
    await manager.aclose()
    listed = cook("sessions", "--json", "--store", store_url(pg_dsn, pg_schema), cwd=tmp_path)  # type: ignore[arg-type]
    assert listed.code == 0, listed.err
    assert [(s["id"], s["state"]["status"]) for s in listed.json()] == [(sid, "completed")]


# -- bad input changes nothing ------------------------------------------------------------
async def test_bad_appends_are_refused_and_change_nothing(pg_dsn: str, pg_schema: str) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager, sid = await started(store)
    running = state.Running(iteration=0)
    bad = [
        (iter([stamped(2, events.Resumed())]), running),  # not a sequence
        ("events", running),
        ([events.Resumed()], running),  # not recorded
        ([stamped(2, events.Resumed()), stamped(4, events.Resumed())], running),  # a gap
        ([stamped(2, events.Resumed())], "running"),  # not a state
    ]
    for batch, new_state in bad:
        with pytest.raises(StorageError):
            await store.append(sid, batch, new_state)  # type: ignore[arg-type]
    await store.append(sid, [], running)  # nothing to do
    with pytest.raises(StorageError):
        await store.save("a session")  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        await store.save_checkpoint(sid, "a checkpoint")  # type: ignore[arg-type]
    checkpoint = await manager.save_checkpoint(sid)
    with pytest.raises(StorageError, match="ends at seq 1"):
        await store.save_checkpoint(sid, checkpoint.model_copy(update={"seq": 5}))
    assert [e.seq async for e in store.load_events(sid)] == [1]
    assert [e.seq async for e in store.load_events(sid, -5)] == [1]
    await manager.aclose()


async def test_damaged_rows_are_corruption_errors(pg_dsn: str, pg_schema: str) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager, sid = await started(store)
    await manager.aclose()
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    table(pg_dsn, pg_schema, """UPDATE events SET body = '{"seq": 1}' RETURNING 1""")
    with pytest.raises(CorruptionError, match="seq 1") as caught:
        [e async for e in store.load_events(sid)]
    assert caught.value.kind == "bad_event" and caught.value.session_id == sid
    table(pg_dsn, pg_schema, """UPDATE sessions SET config = '{"nope": 1}' RETURNING 1""")
    with pytest.raises(CorruptionError) as caught:
        await store.load_head(sid)
    assert caught.value.kind == "bad_document"
    await store.close()


# -- writers that lost ----------------------------------------------------------------------
async def test_why_a_write_was_refused(pg_dsn: str, pg_schema: str) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema, notify=False)
    manager, sid = await started(store)
    # a seq taken behind our back (the primary key): ConcurrentModification
    taken = stamped(2, events.IterationStarted(number=1))
    table(
        pg_dsn,
        pg_schema,
        "INSERT INTO events (session_id, seq, recorded_at, kind, body) VALUES "
        f"('{sid}', 2, now(), 'iteration_started', '{taken.model_dump_json()}') RETURNING 1",
    )
    with pytest.raises(ConcurrentModification, match="seq is taken"):
        await manager.send(sid, "iteration_started", number=1)
    table(pg_dsn, pg_schema, "DELETE FROM events WHERE seq = 2 RETURNING 1")
    # our ownership taken with nothing written: SessionLocked, and no checkpoint either
    await store.acquire(sid)
    table(pg_dsn, pg_schema, "UPDATE sessions SET owner_token = 'other' RETURNING 1")
    with pytest.raises(SessionLocked):
        await manager.send(sid, "iteration_started", number=1)
    table(pg_dsn, pg_schema, "UPDATE sessions SET owner_token = NULL RETURNING 1")
    await store.acquire(sid)
    table(pg_dsn, pg_schema, "UPDATE sessions SET owner_token = 'other' RETURNING 1")
    with pytest.raises(SessionLocked):
        await manager.save_checkpoint(sid)
    # the session deleted under us: SessionNotFound
    table(pg_dsn, pg_schema, "UPDATE sessions SET owner_token = NULL RETURNING 1")
    await store.acquire(sid)
    table(pg_dsn, pg_schema, "DELETE FROM sessions RETURNING 1")
    with pytest.raises(SessionNotFound):
        await manager.send(sid, "iteration_started", number=1)
    await manager.aclose()


async def test_a_session_of_a_dead_process_on_this_host_is_taken_at_once(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager, sid = await started(store)
    await store.release(sid)
    table(
        pg_dsn,
        pg_schema,
        f"UPDATE sessions SET owner_host = '{socket.gethostname()}', owner_pid = 2147483646,"
        " owner_started = 1, owner_token = 'dead', heartbeat = now() RETURNING 1",
    )
    assert store.held() == ()
    assert await store.acquire(sid) == 1
    assert store.held() == (sid,)
    store.beat()  # the heartbeat refreshes it
    assert table(pg_dsn, pg_schema, "SELECT owner_token FROM sessions") == [(store.token,)]
    # a store of another (live) owner may neither replace nor delete it
    other = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    stored = await store.load(sid)
    assert stored is not None
    with pytest.raises(SessionLocked):
        await other.save(stored)
    with pytest.raises(SessionLocked):
        await other.delete(sid)
    # a finished session is saved with no owner
    finished = stored.model_copy(update={"state": state.Failed(error="x")})
    await store.save(finished)
    assert table(pg_dsn, pg_schema, "SELECT owner_token FROM sessions") == [(None,)]
    await other.save(stored)  # free again
    await other.close()
    await manager.aclose()


async def test_long_logs_are_read_in_batches_and_the_pool_is_shared(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema, pool_size=1)
    sid = new_session_id()
    many = [stamped(1, events.Started(config=CONFIG))] + [
        stamped(seq, events.CommandExecuted(command="c", success=True)) for seq in range(3, 2503)
    ]
    many.insert(1, stamped(2, events.IterationStarted(number=1)))
    await store.save(
        PersistedSession(
            id=sid,
            config=CONFIG,
            state=state.Running(iteration=1, phase="iterating"),
            created_at=datetime.now(UTC),
            events=tuple(many),
        )
    )
    loads = await asyncio.gather(*(store.load(sid) for _ in range(4)))  # one connection
    assert all(loaded is not None and len(loaded.events) == 2502 for loaded in loads)
    assert [e.seq async for e in store.load_events(sid, 2000)] == list(range(2001, 2503))
    await store.close()
    await store.close()


async def test_the_bridge_survives_deleted_and_unreplayable_sessions(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    broken = new_session_id()
    await store.save(
        PersistedSession(
            id=broken,
            config=CONFIG,
            state=state.Running(iteration=0),
            created_at=datetime.now(UTC),
            events=(stamped(1, events.Started()), stamped(2, events.Started())),
        )
    )
    async with PostgresSignalBridge(store, sessions=[broken]) as bridge:
        assert bridge.position(broken) == 1  # stopped at the event the chart refuses
        await store.delete(broken)
        await bridge.follow(new_session_id())  # unknown: nothing to follow
    await store.close()


async def test_dropped_connections_are_replaced_and_waiters_served(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema, pool_size=2)
    manager, sid = await started(store)
    await asyncio.gather(store.list(), store.list(), store.list())  # two connections, kept
    with psycopg.connect(pg_dsn, autocommit=True) as admin:  # the server drops them
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = current_user AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StorageUnavailable):
        await manager.send(sid, "iteration_started", number=1)
    assert await manager.get_state(sid) == state.Running(iteration=0, phase="idle")  # refused
    accepted = await manager.send(sid, "iteration_started", number=1)
    assert accepted == state.Running(iteration=1, phase="iterating")
    # a task waiting for a connection can be cancelled, and is told when the store closes
    pool = store._pool
    async with pool.connection(), pool.connection():
        waiting = asyncio.create_task(store.list())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        waiting = asyncio.create_task(store.list())
        await asyncio.sleep(0.05)
        await pool.close()
        with pytest.raises(StorageError, match="closed"):
            await waiting
    manager.close()
    await store.close()


async def test_the_bridge_waits_for_a_usable_database_after_losing_it(
    pg_dsn: str, pg_schema: str
) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    manager, sid = await started(store)
    other = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    async with PostgresSignalBridge(other, sessions=[sid], retry_delay=0.05) as bridge:
        assert bridge.position(sid) == 1
        table(pg_dsn, pg_schema, "ALTER TABLE sessions RENAME TO away")
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
            )
        await asyncio.sleep(0.3)  # it retries: the catch-up query fails meanwhile
        assert bridge.reconnects == 0
        table(pg_dsn, pg_schema, "ALTER TABLE away RENAME TO sessions")
        await manager.send(sid, "iteration_started", number=1)
        assert await bridge.wait_for(sid, 2, timeout=10)
        assert bridge.reconnects == 1
        assert not await bridge.wait_for(sid, 3, timeout=0.05)
    await manager.aclose()
    await other.close()


async def test_a_batch_with_a_bad_append_is_retried_one_by_one(pg_dsn: str, pg_schema: str) -> None:
    store = PostgresSessionStorage(pg_dsn, schema=pg_schema, writers=1)
    manager = await InMemorySessionManager.open(store)
    first, bad, good = [await manager.create_session(CONFIG) for _ in range(3)]
    taken = stamped(1, events.Started(config=CONFIG))
    table(
        pg_dsn,
        pg_schema,
        "INSERT INTO events (session_id, seq, recorded_at, kind, body) VALUES "
        f"('{bad}', 1, now(), 'started', '{taken.model_dump_json()}')",
    )
    results = await asyncio.gather(
        *(manager.start_session(sid) for sid in (first, bad, good)), return_exceptions=True
    )
    assert results[0] is None and results[2] is None  # written in one batch, then one by one
    assert isinstance(results[1], ConcurrentModification)
    assert [(await manager.get_state(sid)).status for sid in (first, bad, good)] == [
        "running",
        "created",
        "running",
    ]
    # an append cancelled while its batch is written: its fate is unknown, so it is re-read
    writing = asyncio.create_task(manager.send(first, "iteration_started", number=1))
    waiting = asyncio.create_task(manager.send(good, "iteration_started", number=1))
    await asyncio.sleep(0)
    writing.cancel()
    cancelled, other = await asyncio.gather(writing, waiting, return_exceptions=True)
    assert isinstance(cancelled, asyncio.CancelledError)
    assert not isinstance(other, BaseException) or isinstance(other, StorageError)
    for sid in (first, good):
        await manager.restore_session(sid)
        stored = [e.seq async for e in store.load_events(sid)]
        assert [e.seq for e in await manager.get_events(sid)] == stored
    await manager.aclose()
