"""The TinyDB store's own behaviour, beyond the contract.

Its directory, who holds a session, what crashes leave behind, checkpoints.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import random
import stat
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from persistence import CorruptionError, StorageError, TinyDBSessionStorage, repair, verify
from persistence._files import Directory
from persistence._ownership import hostname, is_gone, this_process
from persistence.tinydb._owners import Holder, Liveness, OwnerFile
from statecharts import (
    InMemorySessionManager,
    PersistedSession,
    SessionConfig,
    SessionId,
    SessionLocked,
    SessionNotFound,
    TimestampedEvent,
    events,
    new_session_id,
    state,
)
from statecharts._session import LiveSession

from .layout_helpers import (
    can_make_immutable,
    checkpoint_files,
    checkpoint_seqs,
    document,
    edit_document,
    immutable,
    line_offsets,
    log_path,
    owner_files,
    quarantined,
    run,
    session_dir,
    stored_files,
)
from .workload import drive

CONFIG = SessionConfig(project_path="/p", max_iterations=1_000)
needs_chattr = pytest.mark.skipif(not can_make_immutable(), reason="needs root and chattr")


async def one_session(path: Path, **kwargs: Any) -> tuple[TinyDBSessionStorage, SessionId]:
    """A store at ``path`` holding one running session (seq 1)."""
    store = TinyDBSessionStorage(path, "none", **kwargs)
    manager = InMemorySessionManager(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    manager.close()
    return store, sid


def a_holder(token: str, host: str, pid: int) -> dict[str, Any]:
    """A holder record as a document stores it."""
    return {
        "token": token,
        "host": host,
        "pid": pid,
        "started": 0,
        "since": datetime.now(UTC).isoformat(),
    }


def set_holder(path: Path, sid: SessionId, holder: dict[str, Any] | None) -> None:
    edit_document(path, sid, lambda fields: fields.update(holder=holder))


def write_owner_file(path: Path, token: str, host: str, age: float = 0.0) -> Path:
    """An owner file nobody locks (its instance is gone, or on another host), ``age`` s old."""
    owner = path / "owners" / f"{token}.lock"
    owner.write_text(json.dumps({"host": host, "pid": 1, "started": 0}))
    when = time.time() - age
    os.utime(owner, (when, when))
    return owner


# -- the store's directory -------------------------------------------------------------------
async def test_a_store_is_a_directory_of_sessions(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    assert json.loads((path / "sessionchart.json").read_bytes()) == {
        "kind": "sessionchart-store",
        "layout": 2,
    }
    for directory in (path, path / "sessions", path / "owners", session_dir(path, sid)):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert sorted(p.name for p in session_dir(path, sid).iterdir()) == [
        ".session.json.spare",  # the document's previous copy, reused by its next write
        "events.jsonl",
        "lock",
        "session.json",
    ]
    assert store.session_path(sid) == session_dir(path, sid)
    # one owner file for this instance, named by the document of the session it holds
    (owner,) = owner_files(path)
    assert owner.name == f"{document(path, sid)['holder']['token']}.lock"
    assert json.loads(owner.read_bytes())["pid"] == os.getpid()
    await store.close()
    assert owner_files(path) == []


async def test_what_a_store_will_not_open(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    read_only = TinyDBSessionStorage(empty, read_only=True)  # creates nothing
    assert await read_only.list() == [] and list(empty.iterdir()) == []
    with pytest.raises(StorageError, match="read-only"):
        await read_only.save(
            PersistedSession(
                id=new_session_id(),
                config=CONFIG,
                state=state.Created(),
                created_at=datetime.now(UTC),
            )
        )
    await read_only.close()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(
        StorageError, match=r"not a sessionchart store, and not empty \(notes.txt\)"
    ):
        TinyDBSessionStorage(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]  # nothing added to it
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "sessionchart.json").write_text('{"kind":"sessionchart-store","layout":3}')
    with pytest.raises(StorageError, match="layout 3, newer than"):
        TinyDBSessionStorage(newer)
    (newer / "sessionchart.json").write_text('{"kind":"something else","layout":2}')
    with pytest.raises(CorruptionError, match="bad_marker"):
        TinyDBSessionStorage(newer)
    assert sorted(p.name for p in newer.iterdir()) == ["sessionchart.json"]


# -- documents and holders ---------------------------------------------------------------------
async def test_the_document_records_lifecycle_changes_and_who_holds_the_session(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    fields = document(path, sid)
    assert fields["state"] == {"status": "running", "iteration": 0, "phase": "idle"}
    assert fields["last_seq"] == 1
    holder = fields["holder"]
    assert holder["pid"] == os.getpid() and holder["host"] == hostname()
    assert holder["token"] == store.held.token
    manager = InMemorySessionManager(store)
    await manager.send(sid, "iteration_started", number=1)  # not a lifecycle change
    assert document(path, sid) == fields  # the document is not rewritten for it
    await manager.fail_session(sid, "boom")  # final: the session is let go
    fields = document(path, sid)
    assert fields["state"] == {"status": "failed", "error": "boom"}
    assert fields["holder"] is None and fields["last_seq"] == 3
    assert fields["checkpoint"]["seq"] == 3  # the manager checkpoints a session that stops
    checkpoint = await manager.save_checkpoint(sid)  # taken, checkpointed, not held
    assert checkpoint.log_hash and checkpoint.log_hash.startswith("crc32:")
    assert document(path, sid)["holder"] is None
    await manager.aclose()


async def test_closing_a_store_rewrites_no_document_and_the_next_opener_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    before = document(path, sid)
    await store.close()
    assert document(path, sid) == before  # still running, still naming the closed store
    assert owner_files(path) == []  # ...whose owner file is gone: that holder is gone
    (row,) = await TinyDBSessionStorage(path, read_only=True).listing()
    assert row.orphaned and row.holder is None and row.status == "running"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    assert await manager.get_state(sid) == state.Paused(reason="interrupted")
    fields = document(path, sid)
    assert fields["holder"] is None and fields["state"]["status"] == "paused"
    assert fields["last_seq"] == 2
    await manager.aclose()


@pytest.mark.parametrize("trouble", ["locked", "unwritable"])
async def test_closing_needs_no_document_write(tmp_path: Path, trouble: str) -> None:
    """The session's document is locked by another writer, or cannot be written: close works."""
    path = tmp_path / "store"
    store, sid = await one_session(path)
    if trouble == "unwritable" and not can_make_immutable():
        pytest.skip("needs root and chattr")
    before = document(path, sid)
    lock = os.open(session_dir(path, sid) / "lock", os.O_RDWR)
    try:
        if trouble == "locked":
            fcntl.flock(lock, fcntl.LOCK_EX)
        with immutable(*([session_dir(path, sid)] if trouble == "unwritable" else [])):
            closing = threading.Thread(target=asyncio.run, args=(store.close(),), daemon=True)
            closing.start()
            closing.join(10)
            assert not closing.is_alive(), "close() waited for the session's document"
    finally:
        os.close(lock)
    assert owner_files(path) == []  # every session it held is free
    assert document(path, sid) == before


async def test_a_dead_or_silent_holder_is_replaced_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    await store.close()
    # another host, a fresh heartbeat: trusted (its locks may not reach us)
    elsewhere = "0123456789abcdef"
    owner = write_owner_file(path, elsewhere, "elsewhere")
    set_holder(path, sid, a_holder(elsewhere, "elsewhere", 1))
    other = TinyDBSessionStorage(path, "none", lease=2.0)
    with pytest.raises(SessionLocked, match="pid 1 on elsewhere") as raised:
        await other.acquire(sid)
    assert raised.value.holder is not None and raised.value.holder.heartbeat is not None
    (row,) = await other.listing()
    assert row.holder is not None and row.holder.host == "elsewhere" and not row.orphaned
    with pytest.raises(SessionLocked):
        await other.delete(sid)
    await other.close()
    assert owner.exists()  # another host's live instance: its file is not ours to remove
    # its lease ran out (2 s), long before its file counts as abandoned (10 leases)
    old = time.time() - 10
    os.utime(owner, (old, old))
    third = TinyDBSessionStorage(path, "none", lease=2.0)
    (row,) = await third.listing()
    assert row.orphaned and row.holder is None
    assert await third.acquire(sid) == 1
    assert document(path, sid)["holder"]["token"] == third.held.token
    await third.close()
    # this host, and nobody holds its owner file's lock: its process is gone
    dead = "fedcba9876543210"
    dead_owner = write_owner_file(path, dead, hostname())
    set_holder(path, sid, a_holder(dead, hostname(), 2**22 + 17))
    fourth = TinyDBSessionStorage(path, "none")
    assert not dead_owner.exists()  # swept when the store opened
    assert await fourth.acquire(sid) == 1
    await fourth.close()
    # a token that is not one (from a hand-edited document) names a holder that is gone
    set_holder(path, sid, a_holder("../../../etc/passwd", hostname(), 1))
    fifth = TinyDBSessionStorage(path, "none")
    assert await fifth.acquire(sid) == 1
    await fifth.close()


def test_owner_liveness() -> None:
    me = this_process()
    now = datetime.now(UTC)
    assert not is_gone(me, 30, now)
    assert is_gone(me, 30, now + timedelta(minutes=1))
    assert is_gone(me.model_copy(update={"started": me.started + 1}), 30, now)  # pid reused
    assert not is_gone(me.model_copy(update={"host": "elsewhere"}), 30, now)
    assert me.describe() == f"pid {me.pid} on {me.host}"


def test_owner_files_lock_for_life_and_beat(tmp_path: Path) -> None:
    owners_path = tmp_path / "owners"
    owners_path.mkdir()
    with Directory.open_root(owners_path, create=False) as owners:
        mine = OwnerFile(owners, "00000000000000aa")
        watcher = Liveness(owners, "00000000000000bb", lease=30)
        holder = mine.holder()
        assert isinstance(holder, Holder) and holder.pid == os.getpid()
        assert watcher.alive(holder) and not watcher.alive(None)
        assert watcher.describe(holder).heartbeat is not None
        old = time.time() - 100
        os.utime(mine.path, (old, old))
        mine.beat()
        assert time.time() - mine.path.stat().st_mtime < 5  # the heartbeat touched it
        assert watcher.sweep() == 0  # alive: kept
        mine.close()
        mine.close()  # closing twice is harmless
        assert not mine.path.exists()
        later = Liveness(owners, "00000000000000bb", lease=30)
        assert not later.alive(holder) and later.heartbeat(holder) is None
        # a dead instance of this host left its file: removed; another host's fresh one: kept
        write_owner_file(tmp_path, "00000000000000cc", hostname())
        write_owner_file(tmp_path, "00000000000000dd", "elsewhere")
        write_owner_file(tmp_path, "00000000000000ee", "elsewhere", age=3600)  # abandoned
        (owners_path / "not-a-token.lock").write_text("{}")
        assert later.sweep() == 2
        assert sorted(p.name for p in owners_path.iterdir()) == [
            "00000000000000dd.lock",
            "not-a-token.lock",
        ]


async def test_the_heartbeat_touches_the_owner_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, _sid = await one_session(path, lease=0.03)
    (owner,) = owner_files(path)
    old = time.time() - 100
    os.utime(owner, (old, old))
    for _ in range(200):
        if owner.stat().st_mtime > old + 50:
            break
        await asyncio.sleep(0.01)
    assert owner.stat().st_mtime > old + 50  # refreshed by the heartbeat thread
    await store.close()


async def test_two_stores_of_one_process(tmp_path: Path) -> None:
    path = tmp_path / "store"
    first, sid = await one_session(path)
    second = TinyDBSessionStorage(path, "none")
    with pytest.raises(SessionLocked, match=f"pid {os.getpid()}"):
        await second.acquire(sid)
    with pytest.raises(SessionLocked):
        await second.append(
            sid,
            [TimestampedEvent(seq=2, timestamp=datetime.now(UTC), event=events.Resumed())],
            state.Running(iteration=0),
        )
    assert [e.seq async for e in second.load_events(sid)] == [1]  # nothing written
    await first.release(sid)
    assert document(path, sid)["holder"] is None
    assert await second.acquire(sid) == 1
    assert document(path, sid)["holder"]["token"] == second.held.token
    await first.close()
    await second.close()
    await second.close()  # closing twice is harmless
    with pytest.raises(StorageError, match="closed"):
        await second.acquire(sid)


async def test_a_session_taken_over_is_not_written_by_its_old_holder(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    # another instance presumed this one gone and took the session (a hand edit here)
    set_holder(path, sid, a_holder("0123456789abcdef", "elsewhere", 1))
    with pytest.raises(SessionLocked):
        await manager.pause_session(sid)  # a lifecycle change checks the document first
    assert [e.seq async for e in store.load_events(sid)] == [1]  # its event was undone
    assert await manager.get_state(sid) == state.Running(iteration=0)
    await manager.aclose()


# -- checkpoints -------------------------------------------------------------------------------
async def test_save_with_a_checkpoint_at_an_earlier_seq(tmp_path: Path) -> None:
    memory_manager = InMemorySessionManager()
    sid = await memory_manager.create_session(CONFIG)
    await drive(memory_manager, sid, 30, random.Random(5))
    checkpoint = await memory_manager.save_checkpoint(sid)
    await drive(memory_manager, sid, 10, random.Random(6))
    live = await memory_manager._reading(sid)
    session = PersistedSession(
        id=sid,
        config=CONFIG,
        state=live.state,
        created_at=live.created_at,
        events=tuple(live.events),
        checkpoints=(checkpoint,),
    )
    path = tmp_path / "store"
    store = TinyDBSessionStorage(path, "strict")
    await store.save(session)
    head = await store.load_head(sid)
    assert head is not None and head.checkpoint is not None and head.checkpoint.seq == 30
    assert head.checkpoint.log_hash and head.checkpoint.log_hash.startswith("crc32:")
    assert [p.name for p in checkpoint_files(path, sid)] == ["checkpoint-a.json"]
    loaded = await store.load(sid)
    assert loaded is not None and loaded.events == session.events
    bad = checkpoint.model_copy(update={"seq": 99})
    with pytest.raises(StorageError, match="no seq 99"):
        await store.save(session.model_copy(update={"checkpoints": (bad,)}))
    assert (await verify(store)).ok
    restored = InMemorySessionManager(store)
    await restored.restore_session(sid)  # from the store: its checkpoint, then the events after
    assert (await restored._reading(sid)).same_as(live)
    await restored.aclose()
    memory_manager.close()


async def test_the_manager_checkpoints_on_its_own_and_two_files_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "store"
    manager = InMemorySessionManager(TinyDBSessionStorage(path, "none"), checkpoint_every=10)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    for _ in range(34):
        await manager.send(sid, "analysis_completed")
    assert document(path, sid)["checkpoint"]["seq"] == 30
    # two slots, the latest and the one before (a reader may just have read it)
    assert [p.name for p in checkpoint_files(path, sid)] == [
        "checkpoint-a.json",
        "checkpoint-b.json",
    ]
    assert checkpoint_seqs(path, sid) == [20, 30]
    await manager.pause_session(sid)  # a session that stops is checkpointed
    fields = document(path, sid)
    assert fields["checkpoint"]["seq"] == fields["last_seq"] == 36
    assert checkpoint_seqs(path, sid) == [30, 36]
    head = await manager._store().load_head(sid)
    assert head is not None and head.checkpoint is not None and head.checkpoint.seq == 36
    await manager.aclose()


# -- sessions arriving and leaving whole -------------------------------------------------------
async def test_a_delete_takes_the_whole_directory(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    keep = await manager.create_session(CONFIG)
    await store.delete(sid)
    assert not session_dir(path, sid).exists() and list((path / "trash").iterdir()) == []
    assert await store.list() == [keep] and await store.load_head(sid) is None
    await store.delete(sid)  # deleting twice is harmless
    await manager.aclose()


@needs_chattr
async def test_an_interrupted_delete_leaves_the_session_whole_or_gone(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    keep = await manager.create_session(CONFIG)
    await manager.start_session(keep)
    await manager.send(keep, "iteration_started", number=1)
    kept = stored_files(session_dir(path, keep))
    # removing the files fails after the session's directory moved to trash/ (one rename)
    assert run("chattr", "+i", str(log_path(path, sid)))
    try:
        failure: StorageError | None = None
        try:
            await store.delete(sid)
        except StorageError as error:  # the rename went through; removing the files did not
            failure = error
        assert failure is None or failure.errno == errno.EPERM
        assert not session_dir(path, sid).exists()
        assert await store.list() == [keep] and await store.load_head(sid) is None
        readers = TinyDBSessionStorage(path, read_only=True)
        assert await readers.list() == [keep] and (await verify(readers)).ok
        await readers.close()
        (leftover,) = (path / "trash").iterdir()
        assert leftover.name.startswith(f"{sid}-")
    finally:
        for log in [log_path(path, sid), *(path / "trash").glob("*/events.jsonl")]:
            run("chattr", "-i", str(log))
    await manager.aclose()
    # the next opener finishes the delete; the other session is whole
    again = TinyDBSessionStorage(path, "none")
    assert list((path / "trash").iterdir()) == []
    assert await again.list() == [keep]
    assert stored_files(session_dir(path, keep)).keys() >= kept.keys()
    assert [e.seq async for e in again.load_events(keep)] == [1, 2]
    await again.close()


@needs_chattr
async def test_a_trash_entry_that_cannot_be_removed_does_not_keep_the_store_shut(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    await store.close()
    leftover = path / "trash" / f"{new_session_id()}-0badf00d"
    leftover.mkdir(parents=True)
    (leftover / "events.jsonl").write_bytes(b"")
    assert run("chattr", "+i", str(leftover / "events.jsonl"))
    try:
        again = TinyDBSessionStorage(path, "none")
        assert await again.list() == [sid]
        await again.close()
    finally:
        run("chattr", "-i", str(leftover / "events.jsonl"))


async def test_an_abandoned_creation_is_a_notice_and_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    token = store.held.owner().token
    directory, name = store.layout.new_session_dir(new_session_id(), token)  # under way...
    directory.close()
    await store.close()  # ...and its creator gone
    readers = TinyDBSessionStorage(path, read_only=True)
    assert await readers.list() == [sid]  # never listed
    report = await verify(readers)
    assert report.ok and [n.kind for n in report.notices] == ["interrupted_creation"]
    assert report.notices[0].path == path / "sessions" / name
    await readers.close()
    again = TinyDBSessionStorage(path, "none")
    assert not (path / "sessions" / name).exists()
    assert (await verify(again)).notices == ()
    await again.close()


async def test_a_creation_under_way_in_a_live_instance_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, _sid = await one_session(path)  # a live instance (its owner file is locked)
    new_id = new_session_id()
    token = store.held.owner().token
    directory, name = store.layout.new_session_dir(new_id, token)  # it builds a session aside...
    directory.close()
    other = TinyDBSessionStorage(path, "none")  # ...when another instance opens the store
    try:
        assert (path / "sessions" / name).is_dir()
    finally:
        await other.close()
        await store.close()


# -- damage and repair -------------------------------------------------------------------------
async def test_a_document_ahead_of_its_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    await store.close()
    edit_document(path, sid, lambda fields: fields.update(last_seq=5, holder=None))
    other = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError, match="document_mismatch") as raised:
        await other.acquire(sid)
    assert raised.value.path == log_path(path, sid)
    assert document(path, sid)["holder"] is None  # not taken
    await other.close()


@needs_chattr
async def test_a_failed_document_write_undoes_the_append(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    await store.close()
    store = TinyDBSessionStorage(path, "none")
    manager = await InMemorySessionManager.open(store)  # recovered: paused, interrupted
    await manager.resume_session(sid)
    before = document(path, sid)
    with immutable(session_dir(path, sid)), pytest.raises(StorageError) as raised:
        await manager.pause_session(sid)  # its new document cannot be written
    assert raised.value.errno == errno.EPERM
    assert raised.value.path == session_dir(path, sid) / "session.json"
    assert [e.seq async for e in store.load_events(sid)] == [1, 2, 3]  # no 4th
    assert document(path, sid) == before
    assert (await manager.get_state(sid)).status == "running"
    assert (await manager.pause_session(sid)).status == "paused"
    assert [e.seq async for e in store.load_events(sid)] == [1, 2, 3, 4]
    await manager.aclose()


async def test_loading_unknown_and_empty_sessions(tmp_path: Path) -> None:
    store = TinyDBSessionStorage(tmp_path / "store", "batched")
    manager = InMemorySessionManager(store)
    sid = await manager.create_session(CONFIG)
    assert [e async for e in store.load_events(sid)] == []
    loaded = await store.load(sid)
    assert loaded is not None and loaded.state == state.Created() and loaded.events == ()
    await store.append(sid, [], state.Created())  # nothing to append
    unknown = SessionId("01" + "Z" * 24)
    await store.delete(unknown)  # unknown: ignored
    assert await store.load(unknown) is None and await store.load_head(unknown) is None
    with pytest.raises(SessionNotFound):
        await store.acquire(unknown)
    with pytest.raises(SessionNotFound):
        await store.quarantine(unknown)
    await manager.aclose()


async def test_repair_leaves_a_held_session_alone(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    for _ in range(5):
        await manager.send(sid, "analysis_completed")
    await manager.flush()
    log = log_path(path, sid)
    with log.open("ab") as file:
        file.write(b"torn")  # its holder's write in flight: a notice, not damage
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert report.ok and [n.kind for n in report.notices] == ["torn_tail"]
    log.write_bytes(log.read_bytes()[:-4])
    data = bytearray(log.read_bytes())
    data[line_offsets(log)[2] + 12] ^= 0x01  # damage inside a line its holder wrote
    log.write_bytes(bytes(data))
    repaired = await repair(TinyDBSessionStorage(path, "none"))
    assert not repaired.ok and any(
        "left session" in a and "being driven" in a for a in repaired.actions
    )
    assert log.read_bytes() == bytes(data) and quarantined(path) == []  # untouched
    await manager.aclose()
    fixed = await repair(TinyDBSessionStorage(path, "none"))  # its holder is gone: repaired
    assert fixed.ok and "checksum_mismatch" in {p.kind for p in fixed.fixed}, str(fixed)
    assert [e.seq async for e in TinyDBSessionStorage(path, read_only=True).load_events(sid)] == [1]


async def test_what_repair_cannot_fix_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store, sid = await one_session(path)
    manager = InMemorySessionManager(store)
    await drive(manager, sid, 20, random.Random(9))
    await manager.save_checkpoint(sid)
    other = await manager.create_session(CONFIG)
    await manager.aclose()
    # a checkpoint whose snapshot is not what the log replays to (but intact and in place)
    checkpoint_file = checkpoint_files(path, sid)[-1]
    content = json.loads(checkpoint_file.read_bytes())
    content["checkpoint"]["state_snapshot"]["progress"]["iterations_completed"] += 7
    data = json.dumps(content, separators=(",", ":")).encode()
    checkpoint_file.write_bytes(data)
    edit_document(path, sid, lambda fields: fields["checkpoint"].update(crc=zlib.crc32(data)))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert "checkpoint_mismatch" in {p.kind for p in report.problems}, str(report)
    # an event the chart refuses where it stands (well formed and chained)
    store = TinyDBSessionStorage(path, "none")
    manager = await InMemorySessionManager.open(store)
    held = store.held.hold(sid)
    last = (await manager._reading(sid)).last_seq
    held.log.append(
        [TimestampedEvent(seq=last + 1, timestamp=datetime.now(UTC), event=events.Started())]
    )
    await manager.aclose()
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert "replay_error" in {p.kind for p in report.problems}, str(report)
    files = stored_files(session_dir(path, sid))
    left = await repair(TinyDBSessionStorage(path, "none"), quarantine=False)
    assert not left.ok and any("left damaged session" in a for a in left.actions)
    assert stored_files(session_dir(path, sid)) == files
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and "replay_error" in {p.kind for p in fixed.fixed}, str(fixed)
    (aside,) = quarantined(path)
    assert aside.name.startswith(f"{sid}-") and any("aside" in a for a in fixed.actions)
    assert {p.name: b for p, b in stored_files(aside).items()} == {
        p.name: b for p, b in files.items()
    }  # every file kept
    store = TinyDBSessionStorage(path, "none")
    assert await store.list() == [other]
    report = await verify(store)
    assert report.ok and [n.kind for n in report.notices] == ["quarantined"]
    await store.close()
    removed = await repair(TinyDBSessionStorage(path, "none"), remove=True)
    assert removed.ok and removed.actions == ()  # nothing damaged is left to remove


async def test_open_logs_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "store"
    manager = InMemorySessionManager(TinyDBSessionStorage(path, "none", max_open_logs=2))

    def open_logs() -> int:
        found = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            found += target.startswith(str(path)) and target.endswith("events.jsonl")
        return found

    sids = [await manager.create_session(CONFIG) for _ in range(5)]
    for sid in sids:
        await manager.start_session(sid)
        assert open_logs() <= 2
    for sid in sids:  # suspended logs are reopened to be written
        await manager.send(sid, "iteration_started", number=1)
        assert open_logs() <= 2
    for sid in sids:
        assert [e.event.kind for e in await manager.get_events(sid)] == [
            "started",
            "iteration_started",
        ]
    await manager.aclose()
    assert open_logs() == 0
    assert (await verify(TinyDBSessionStorage(path, read_only=True))).ok


def test_threads_with_their_own_event_loops_share_one_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = TinyDBSessionStorage(path, "batched")
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
            live = await manager._reading(sid)
            assert [e.seq for e in stored] == list(range(1, 201)) and live.last_seq == 200
            replayed = LiveSession(sid, live.config, live.created_at)
            replayed.replay(stored)
            assert replayed.same_as(live)
        await manager.aclose()
        assert (await verify(TinyDBSessionStorage(path, read_only=True))).ok

    asyncio.run(check())


async def test_closing_while_the_heartbeat_beats_does_not_deadlock(tmp_path: Path) -> None:
    for attempt in range(20):
        store, sid = await one_session(tmp_path / f"s{attempt}", lease=0.003)
        await asyncio.sleep(0.002)  # the heartbeat thread is busy
        closing = threading.Thread(target=asyncio.run, args=(store.close(),), daemon=True)
        closing.start()
        closing.join(10)
        assert not closing.is_alive(), "close() deadlocked with the heartbeat"
        with pytest.raises(StorageError):
            await store.acquire(sid)


async def test_a_closed_store_says_it_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, sid = await one_session(tmp_path / "store")
    await store.close()
    stranger = new_session_id()
    (tmp_path / "elsewhere" / stranger).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(StorageError, match="closed"):
        await store.list()  # not the directories of wherever the process happens to be
    with pytest.raises(StorageError, match="closed"):
        await store.save(
            PersistedSession(
                id=sid, config=CONFIG, state=state.Created(), created_at=datetime.now(UTC)
            )
        )
