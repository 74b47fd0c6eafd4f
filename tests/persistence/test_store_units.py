"""The TinyDB store's own behaviour, beyond the contract: ownership, leftovers, checkpoints."""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from persistence import (
    CorruptionError,
    SessionLocked,
    StorageError,
    TinyDBSessionStorage,
    repair,
    verify,
)
from persistence.ownership import Owner, is_gone, this_process
from statecharts import (
    InMemorySessionManager,
    PersistedSession,
    SessionConfig,
    SessionId,
    SessionNotFound,
    TimestampedEvent,
    events,
    state,
)
from statecharts.loading import load_session

from .workload import drive

CONFIG = SessionConfig(project_path="/p", max_iterations=1_000)


def database(path: Path) -> dict[str, dict[str, object]]:
    return json.loads(path.read_text())["sessions"]  # type: ignore[no-any-return]


def set_owner(path: Path, sid: SessionId, owner: Owner | None) -> None:
    data = json.loads(path.read_text())
    data["sessions"][sid]["owner"] = None if owner is None else owner.model_dump(mode="json")
    path.write_text(json.dumps(data))


async def one_session(path: Path, **kwargs: object) -> tuple[TinyDBSessionStorage, SessionId]:
    store = TinyDBSessionStorage(path, "none", **kwargs)  # type: ignore[arg-type]
    manager = InMemorySessionManager(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    manager.close()
    return store, sid


async def test_the_document_records_lifecycle_changes_and_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    document = database(path)[sid]
    assert document["state"] == {"status": "running", "iteration": 0, "phase": "idle"}
    owner = document["owner"]
    assert isinstance(owner, dict) and owner["pid"] == os.getpid()
    manager = InMemorySessionManager(store)
    manager._sessions[sid] = await load_session(store, sid)
    await manager.send(sid, "iteration_started", number=1)  # not a lifecycle change
    assert database(path)[sid]["last_seq"] == 1
    await manager.fail_session(sid, "boom")  # final: the session is let go
    document = database(path)[sid]
    assert document["state"] == {"status": "failed", "error": "boom"}
    assert document["owner"] is None and document["last_seq"] == 3
    checkpoint = await manager.save_checkpoint(sid)  # taken back, checkpointed, let go
    assert checkpoint.log_hash and checkpoint.log_hash.startswith("crc32:")
    assert database(path)[sid]["owner"] is None
    await manager.aclose()


async def test_a_dead_or_silent_owner_is_replaced_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    await store.close()
    now = datetime.now(UTC)
    elsewhere = Owner(host="elsewhere", pid=1, heartbeat=now)
    set_owner(path, sid, elsewhere)
    other = TinyDBSessionStorage(path, "none")
    with pytest.raises(SessionLocked, match="pid 1 on elsewhere"):
        await other.acquire(sid)  # fresh heartbeat, another host: trusted
    set_owner(path, sid, elsewhere.model_copy(update={"heartbeat": now - timedelta(hours=1)}))
    assert await other.acquire(sid) == 1  # its lease ran out
    await other.close()
    me = this_process()
    dead = me.model_copy(update={"pid": 2**22 + 17, "token": "dead"})
    set_owner(path, sid, dead)
    third = TinyDBSessionStorage(path, "none")
    assert await third.acquire(sid) == 1  # no such process on this host
    await third.close()


def test_owner_liveness() -> None:
    me = this_process()
    now = datetime.now(UTC)
    assert not is_gone(me, 30, now)
    assert is_gone(me, 30, now + timedelta(minutes=1))
    assert is_gone(me.model_copy(update={"started": me.started + 1}), 30, now)  # pid reused
    assert not is_gone(me.model_copy(update={"host": "elsewhere"}), 30, now)
    assert me.describe() == f"pid {me.pid} on {me.host}"


async def test_two_stores_of_one_process(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    first, sid = await one_session(path)
    second = TinyDBSessionStorage(path, "none")
    with pytest.raises(SessionLocked):
        await second.acquire(sid)
    await first.release(sid)
    assert database(path)[sid]["owner"] is None
    assert await second.acquire(sid) == 1
    await first.close()
    await second.close()
    await second.close()  # closing twice is harmless
    with pytest.raises(StorageError, match="closed"):
        await second.acquire(sid)


async def test_save_with_a_checkpoint_at_an_earlier_seq(tmp_path: Path) -> None:
    memory_manager = InMemorySessionManager()
    sid = await memory_manager.create_session(CONFIG)
    await drive(memory_manager, sid, 30, random.Random(5))
    checkpoint = await memory_manager.save_checkpoint(sid)
    await drive(memory_manager, sid, 10, random.Random(6))
    live = (await memory_manager._reading(sid))
    session = PersistedSession(
        id=sid,
        config=CONFIG,
        state=live.state,
        created_at=live.created_at,
        events=tuple(live.events),
        checkpoints=(checkpoint,),
    )
    store = TinyDBSessionStorage(tmp_path / "s.json", "strict")
    await store.save(session)
    head = await store.load_head(sid)
    assert head is not None and head.checkpoint is not None and head.checkpoint.seq == 30
    assert head.checkpoint.log_hash and head.checkpoint.log_hash.startswith("crc32:")
    loaded = await store.load(sid)
    assert loaded is not None and loaded.events == session.events
    bad = checkpoint.model_copy(update={"seq": 99})
    with pytest.raises(StorageError, match="no seq 99"):
        await store.save(session.model_copy(update={"checkpoints": (bad,)}))
    assert (await verify(store)).ok
    restored = InMemorySessionManager(store)
    restored._sessions[sid] = live
    await restored.restore_session(sid)  # from the checkpoint at 30, then 10 events
    assert (await restored._reading(sid)).same_as(live)
    await restored.aclose()
    memory_manager.close()


async def test_an_interrupted_delete_is_finished_on_list(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    await store.close()
    data = json.loads(path.read_text())
    data["sessions"][sid]["deleting"] = True
    path.write_text(json.dumps(data))
    again = TinyDBSessionStorage(path, "none")
    assert await again.load_head(sid) is None
    assert await again.list() == []
    assert not again.log_path(sid).exists() and sid not in database(path)
    await again.close()


async def test_an_orphan_log_being_created_is_not_listed_yet(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    data = json.loads(path.read_text())
    del data["sessions"][sid]
    path.write_text(json.dumps(data))
    other = TinyDBSessionStorage(path, "none")
    assert await other.list() == []  # its creator still holds it
    await store.close()
    with pytest.raises(CorruptionError, match="missing_document"):
        await other.list()  # it has an event: the database lost it
    await other.close()


async def test_a_document_ahead_of_its_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    await store.close()
    data = json.loads(path.read_text())
    data["sessions"][sid]["last_seq"] = 5
    data["sessions"][sid]["owner"] = None
    path.write_text(json.dumps(data))
    other = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError, match="document_mismatch"):
        await other.acquire(sid)
    await other.close()


async def test_a_failed_document_write_undoes_the_append(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    await store.close()
    store = TinyDBSessionStorage(path, "none")
    manager = await InMemorySessionManager.open(store)  # recovered: paused, interrupted
    await manager.resume_session(sid)
    table = store.table
    real_update = table.update

    def failing(*_args: object) -> None:
        raise StorageError("cannot write", path, OSError(28, "No space left on device"))

    table.update = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageError):
            await manager.pause_session(sid)
    finally:
        table.update = real_update  # type: ignore[method-assign]
    assert [e.seq async for e in store.load_events(sid)] == [1, 2, 3]  # no 4th
    assert (await manager.get_state(sid)).status == "running"
    assert (await manager.pause_session(sid)).status == "paused"
    await manager.aclose()


async def test_heartbeats_and_a_failing_close(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path, lease=0.03)
    before = database(path)[sid]["owner"]
    for _ in range(200):
        os.sched_yield()
        if database(path)[sid]["owner"] != before:
            break
        await asyncio.sleep(0.01)
    assert database(path)[sid]["owner"] != before  # refreshed by the heartbeat thread
    real_update = store.table.update

    def failing(*_args: object) -> None:
        raise StorageError("cannot write", path)

    store.table.update = failing  # type: ignore[method-assign]
    await store.close()  # logged, not raised: our locks die with our files anyway
    store.table.update = real_update  # type: ignore[method-assign]


async def test_loading_unknown_and_empty_sessions(tmp_path: Path) -> None:
    store = TinyDBSessionStorage(tmp_path / "s.json", "batched")
    manager = InMemorySessionManager(store)
    sid = await manager.create_session(CONFIG)
    assert [e async for e in store.load_events(sid)] == []
    loaded = await store.load(sid)
    assert loaded is not None and loaded.state == state.Created() and loaded.events == ()
    await store.append(sid, [], state.Created())  # nothing to append
    await store.delete(SessionId("01" + "Z" * 24))  # unknown: ignored
    with pytest.raises(SessionNotFound):
        await store.acquire(SessionId("01" + "Z" * 24))
    await manager.aclose()


async def test_repair_leaves_a_held_session_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    with store.log_path(sid).open("ab") as log:
        log.write(b"torn")
    report = await repair(TinyDBSessionStorage(path, "none"))
    assert not report.ok and any("another process holds it" in a for a in report.actions)
    assert "torn_tail" in str(report)
    await store.close()
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and "fixed 1" in str(fixed)


async def test_verify_reports_a_refused_event_and_a_wrong_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    manager._sessions[sid] = await load_session(store, sid)
    await drive(manager, sid, 20, random.Random(9))
    await manager.save_checkpoint(sid)
    await manager.aclose()
    # a checkpoint whose snapshot is not what the log replays to (but intact and in place)
    checkpoint_file = next(path.with_name("s.json.checkpoints").iterdir())
    content = json.loads(checkpoint_file.read_bytes())
    content["checkpoint"]["state_snapshot"]["progress"]["iterations_completed"] += 7
    data = json.dumps(content, separators=(",", ":")).encode()
    checkpoint_file.write_bytes(data)
    documents = json.loads(path.read_text())
    documents["sessions"][sid]["checkpoint"]["crc"] = zlib.crc32(data)
    path.write_text(json.dumps(documents))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert "checkpoint_mismatch" in {p.kind for p in report.problems}, str(report)
    # an event the chart refuses where it stands (well formed and chained)
    store = TinyDBSessionStorage(path, "none")
    manager = await InMemorySessionManager.open(store)
    log = store.held.hold(sid)
    last = (await manager._reading(sid)).last_seq
    log.log.append(
        [TimestampedEvent(seq=last + 1, timestamp=datetime.now(UTC), event=events.Started())]
    )
    await manager.aclose()
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert "replay_error" in {p.kind for p in report.problems}, str(report)
    assert not (await repair(TinyDBSessionStorage(path, "none"))).ok


def test_threads_with_their_own_event_loops_share_one_store(tmp_path: Path) -> None:
    store = TinyDBSessionStorage(tmp_path / "s.json", "batched")
    manager = InMemorySessionManager(store)
    ids: list[SessionId] = []
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        async def run() -> None:
            sid = await manager.create_session(CONFIG)
            ids.append(sid)
            await drive(manager, sid, 200, random.Random(seed))

        try:
            asyncio.run(run())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    async def check() -> None:
        for sid in ids:
            stored = [e async for e in store.load_events(sid)]
            assert stored == (await manager._reading(sid)).events
        await manager.aclose()
        assert (await verify(TinyDBSessionStorage(tmp_path / "s.json", "none"))).ok

    asyncio.run(check())


async def test_closing_while_the_heartbeat_beats_does_not_deadlock(tmp_path: Path) -> None:
    for attempt in range(20):
        store, sid = await one_session(tmp_path / f"s{attempt}.json", lease=0.003)
        await asyncio.sleep(0.002)  # the heartbeat thread is busy with the guard
        closing = threading.Thread(target=asyncio.run, args=(store.close(),), daemon=True)
        closing.start()
        closing.join(10)
        assert not closing.is_alive(), "close() deadlocked with the heartbeat"
        with pytest.raises(StorageError, match="closed"):
            await store.save(
                PersistedSession(
                    id=sid, config=CONFIG, state=state.Created(), created_at=datetime.now(UTC)
                )
            )
