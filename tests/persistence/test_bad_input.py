"""Storage failures: a typed error naming the file, and nothing changed — on disk or in memory.

Real failures, not mocks: a full disk is a tiny tmpfs, a read-only directory is
``chattr +i`` (we run as root, which ignores permission bits), permission denied
is a child process running as ``nobody``, a file too large is ``RLIMIT_FSIZE`` in
a child, a deleted file is deleted, and a record over the store's limits is one.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from persistence import InvalidSessionId, RecordTooLarge, StorageError, TinyDBSessionStorage, verify
from persistence._limits import MAX_LINE
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

from .children import context, fill_until_too_large, open_as_nobody
from .layout_helpers import (
    ROOT,
    can_make_immutable,
    document,
    document_path,
    immutable,
    log_path,
    needs_root,
    run,
    session_dir,
    stored_files,
)
from .workload import drive

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


async def snapshot(manager: InMemorySessionManager, sid: SessionId) -> tuple[Any, ...]:
    """What the manager holds for a session (its progress without the clock), and its events."""
    progress = await manager.get_progress(sid)
    live = await manager._reading(sid)
    return (
        await manager.get_state(sid),
        live.last_seq,
        await manager.get_events(sid),
        progress.model_dump(exclude={"as_of", "duration"}),
    )


async def on_disk(path: Path, sid: SessionId) -> list[Any]:
    """The session's events as a fresh (read-only) store instance reads them from the files."""
    store = TinyDBSessionStorage(path, "none", read_only=True)
    try:
        return [event async for event in store.load_events(sid)]
    finally:
        await store.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, to fill up for real."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not ROOT or not run("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield disk
    finally:
        run("umount", "-l", str(disk))


def fill(disk: Path) -> None:
    """Fill ``disk`` to the last byte."""
    filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left") as full:  # noqa: PT012
            while True:
                os.write(filler, b"\0" * 4096)
    finally:
        os.close(filler)
    assert full.value.errno == errno.ENOSPC


@needs_root
async def test_a_full_disk_refuses_the_event_and_changes_nothing(tiny_disk: Path) -> None:
    path = tiny_disk / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    big = events.CommandExecuted(command="make", success=True, output_tail="x" * 3000)
    failure = None
    for _ in range(1000):
        before = await snapshot(manager, sid)
        try:
            await manager.record_event(sid, big)
        except StorageError as error:
            failure = error
            break
    assert failure is not None and failure.errno == errno.ENOSPC
    assert failure.path == log_path(path, sid)
    assert await snapshot(manager, sid) == before
    assert await on_disk(path, sid) == before[2]  # no partial line left behind
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@needs_root
async def test_a_full_disk_during_a_lifecycle_change_rolls_the_event_back(
    tiny_disk: Path,
) -> None:
    path = tiny_disk / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    (session_dir(path, sid) / ".session.json.spare").unlink()  # its next write makes it anew
    fill(tiny_disk)
    before = await snapshot(manager, sid)
    old_document = document(path, sid)
    # the event fits in the log's last page; the document's new copy does not fit anywhere
    with pytest.raises(StorageError) as raised:
        await manager.pause_session(sid, reason="lunch")
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.path == document_path(path, sid)
    assert await snapshot(manager, sid) == before
    assert await on_disk(path, sid) == before[2]
    assert document(path, sid) == old_document
    left = {p.name for p in session_dir(path, sid).iterdir()}
    assert left - {".session.json.spare"} == {"events.jsonl", "lock", "session.json"}
    (tiny_disk / "filler").unlink()
    assert (await manager.pause_session(sid, reason="lunch")).status == "paused"
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@needs_root
async def test_a_full_disk_refuses_a_new_session_whole(tiny_disk: Path) -> None:
    path = tiny_disk / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    fill(tiny_disk)
    with pytest.raises(StorageError) as raised:
        await manager.create_session(CONFIG)
    assert raised.value.errno == errno.ENOSPC
    assert len(manager) == 1 and await manager._store().list() == [sid]
    assert sorted(p.name for p in (path / "sessions").iterdir()) == [sid]  # nothing half-made
    (tiny_disk / "filler").unlink()
    await manager.create_session(CONFIG)
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@pytest.mark.skipif(not can_make_immutable(), reason="needs root and chattr")
async def test_a_read_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "batched"))
    sid = await manager.create_session(CONFIG)
    await drive(manager, sid, 20, random.Random(1))
    if (await manager.get_state(sid)).status == "paused":
        await manager.resume_session(sid)
    before = await snapshot(manager, sid)
    with immutable(path, path / "sessions", session_dir(path, sid)):
        files = stored_files(path)
        with pytest.raises(StorageError) as raised:  # a lifecycle change rewrites the document
            await manager.pause_session(sid, reason="lunch")
        assert raised.value.errno in (errno.EPERM, errno.EACCES, errno.EROFS)
        assert raised.value.path == document_path(path, sid)
        assert await snapshot(manager, sid) == before
        assert await on_disk(path, sid) == before[2]
        with pytest.raises(StorageError):  # a new session needs a new directory
            await manager.create_session(CONFIG)
        assert len(manager) == 1
        assert stored_files(path) == files  # nothing changed
        # events that only append to an open log still work: the file itself is writable
        await manager.send(sid, "analysis_completed")
    await manager.aclose()
    assert [e.seq for e in await on_disk(path, sid)] == list(range(1, before[1] + 2))


async def test_a_log_deleted_under_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "batched"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    live = await manager._reading(sid)
    before = (live.state, live.last_seq)
    log = log_path(path, sid)
    log.unlink()
    with pytest.raises(StorageError) as raised:
        await manager.send(sid, "iteration_started", number=1)
    assert raised.value.errno == errno.ENOENT
    assert raised.value.path == log
    live = await manager._reading(sid)
    assert (live.state, live.last_seq) == before
    assert not log.exists()  # nothing written in its place
    await manager.aclose()


async def test_a_session_deleted_under_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = TinyDBSessionStorage(path, "none")
    manager = InMemorySessionManager(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await store.delete(sid)  # its holder deletes it: nothing of it is written again
    with pytest.raises(SessionNotFound):
        await manager.send(sid, "iteration_started", number=1)
    assert not session_dir(path, sid).exists() and await store.list() == []
    await manager.aclose()


async def test_records_over_the_store_s_limits_are_refused_and_change_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    before = await snapshot(manager, sid)
    files = stored_files(path)
    huge = events.AnalysisCompleted(results={"summary": "x" * MAX_LINE})
    with pytest.raises(RecordTooLarge) as raised:
        await manager.record_event(sid, huge)
    assert raised.value.errno == errno.EFBIG and raised.value.limit == MAX_LINE
    assert await snapshot(manager, sid) == before and stored_files(path) == files
    too_big = CONFIG.model_copy(update={"focus": "f" * MAX_LINE})
    with pytest.raises(RecordTooLarge, match="configuration"):
        await manager.create_session(too_big)
    assert len(manager) == 1 and stored_files(path) == files
    assert sorted(p.name for p in (path / "sessions").iterdir()) == [sid]
    await manager.send(sid, "analysis_completed")  # the session carries on
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, read_only=True))).ok


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", "x\0y", ""])
async def test_an_invalid_session_id_never_becomes_a_path(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "store"
    store = TinyDBSessionStorage(path, "none")
    sid = SessionId(bad)
    stamped = TimestampedEvent(seq=1, timestamp=datetime.now(UTC), event=events.Started())
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "load_head": lambda: store.load_head(sid),
        "load": lambda: store.load(sid),
        "delete": lambda: store.delete(sid),
        "acquire": lambda: store.acquire(sid),
        "append": lambda: store.append(sid, [stamped], state.Running(iteration=0)),
        "save": lambda: store.save(
            PersistedSession(
                id=SessionId("01" + "A" * 24),
                config=CONFIG,
                state=state.Created(),
                created_at=datetime.now(UTC),
            ).model_copy(update={"id": sid})
        ),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidSessionId):
            await call()
        assert sorted(p.name for p in tmp_path.rglob("*") if "owners" not in p.parts) == [
            "sessionchart.json",
            "sessions",
            "store",
        ], name
    with pytest.raises(InvalidSessionId):
        [e async for e in store.load_events(sid)]
    await store.close()


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory anyone may traverse (pytest's own are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="sessionchart-test-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def open_as(path: Path) -> tuple[str, int | None, str]:
    """What opening the store at ``path`` raises in a child running as ``nobody``."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=open_as_nobody, args=(str(path), sender))
    child.start()
    sender.close()
    outcome: tuple[str, int | None, str] = receiver.recv()
    child.join(30)
    return outcome


@needs_root
def test_permission_denied(public_dir: Path) -> None:
    """A child running as ``nobody`` cannot open root's private store: EACCES, nothing made."""
    path = public_dir / "store"
    TinyDBSessionStorage(path, "none")  # root's, 0700
    before = sorted(p.name for p in public_dir.rglob("*"))
    outcome = open_as(path)
    assert outcome[:2] == ("StorageError", errno.EACCES), outcome
    assert str(path) in outcome[2]  # the error names the store
    assert sorted(p.name for p in public_dir.rglob("*")) == before


@needs_root
def test_permission_denied_above_the_store(public_dir: Path) -> None:
    private = public_dir / "private"
    private.mkdir(mode=0o700)  # root's: nobody may not look inside
    outcome = open_as(private / "store")
    assert outcome[:2] == ("StorageError", errno.EACCES), outcome
    assert list(private.iterdir()) == []


def test_a_file_too_large(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in a child: the append fails with EFBIG, the log stays whole."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=fill_until_too_large, args=(str(tmp_path / "store"), sender))
    child.start()
    sender.close()
    outcome = receiver.recv()
    child.join(30)
    assert outcome["errno"] == errno.EFBIG, outcome
    assert outcome["memory_unchanged"] and outcome["disk_matches_memory"], outcome
    assert outcome["events"] > 10, outcome  # it did fill the log first
