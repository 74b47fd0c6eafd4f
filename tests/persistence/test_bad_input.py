"""Storage failures: a typed error naming the file, and nothing changed — on disk or in memory.

Real failures, not mocks: a full disk is a tiny tmpfs, a read-only directory is
``chattr +i`` (we run as root, which ignores permission bits), permission denied
is a child process running as ``nobody``, a file too large is ``RLIMIT_FSIZE`` in
a child, and a deleted file is deleted.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persistence import StorageError, TinyDBSessionStorage, verify
from statecharts import InMemorySessionManager, SessionConfig, SessionId, events

from .children import context, fill_until_too_large, open_as_nobody
from .workload import drive

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mount, chattr, setuid)")


async def snapshot(manager: InMemorySessionManager, sid: SessionId) -> tuple[Any, ...]:
    """What the manager holds for a session (its progress without the clock)."""
    progress = await manager.get_progress(sid)
    return (
        await manager.get_state(sid),
        await manager.get_events(sid),
        progress.model_dump(exclude={"as_of", "duration"}),
    )


async def on_disk(path: Path, sid: SessionId) -> list[Any]:
    """The session's events as a fresh store instance reads them from the files."""
    store = TinyDBSessionStorage(path, "none")
    try:
        return [event async for event in store.load_events(sid)]
    finally:
        await store.close()


def run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


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


@needs_root
async def test_a_full_disk_refuses_the_event_and_changes_nothing(tiny_disk: Path) -> None:
    path = tiny_disk / "sessions.json"
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
    assert failure.path == path.with_name("sessions.json.logs") / f"{sid}.jsonl"
    assert await snapshot(manager, sid) == before
    assert await on_disk(path, sid) == before[1]  # no partial line left behind
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@needs_root
async def test_a_full_disk_during_a_lifecycle_change_rolls_the_event_back(
    tiny_disk: Path,
) -> None:
    path = tiny_disk / "sessions.json"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "strict"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    filler = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    with pytest.raises(OSError, match="No space left") as full:  # noqa: PT012 - fill it up
        while True:
            os.write(filler, b"\0" * 4096)
    os.close(filler)
    assert full.value.errno == errno.ENOSPC
    before = await snapshot(manager, sid)
    # the event fits in the log's last page; the database's new copy does not fit anywhere
    with pytest.raises(StorageError) as raised:
        await manager.pause_session(sid, reason="lunch")
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.path == path
    assert await snapshot(manager, sid) == before
    assert await on_disk(path, sid) == before[1]
    (tiny_disk / "filler").unlink()
    assert (await manager.pause_session(sid, reason="lunch")).status == "paused"
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Directories made read-only with ``chattr +i`` (even for root); undone afterwards."""
    made: list[Path] = []
    if not ROOT or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr")
    yield made
    for directory in made:
        run("chattr", "-i", str(directory))


@needs_root
async def test_a_read_only_directory(tmp_path: Path, immutable: list[Path]) -> None:
    path = tmp_path / "store" / "sessions.json"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "batched"))
    sid = await manager.create_session(CONFIG)
    await drive(manager, sid, 20, random.Random(1))
    if (await manager.get_state(sid)).status == "paused":
        await manager.resume_session(sid)
    for directory in (path.parent, path.with_name("sessions.json.logs")):
        if not run("chattr", "+i", str(directory)):
            pytest.skip("this filesystem has no immutable flag")
        immutable.append(directory)
    before = await snapshot(manager, sid)
    with pytest.raises(StorageError) as raised:  # a lifecycle change rewrites the database
        await manager.pause_session(sid, reason="lunch")
    assert raised.value.errno in (errno.EPERM, errno.EACCES, errno.EROFS)
    assert await snapshot(manager, sid) == before
    assert await on_disk(path, sid) == before[1]
    with pytest.raises(StorageError):  # a new session needs new files
        await manager.create_session(CONFIG)
    assert len(manager) == 1
    # events that only append to an open log still work: the file itself is writable
    await manager.send(sid, "analysis_completed")
    for directory in immutable:
        run("chattr", "-i", str(directory))
    await manager.aclose()
    assert [e.seq for e in await on_disk(path, sid)] == list(range(1, len(before[1]) + 2))


async def test_a_log_deleted_under_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "batched"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    log = path.with_name("sessions.json.logs") / f"{sid}.jsonl"
    log.unlink()
    before = await snapshot(manager, sid)
    with pytest.raises(StorageError) as raised:
        await manager.send(sid, "iteration_started", number=1)
    assert raised.value.errno == errno.ENOENT
    assert raised.value.path == log
    assert await snapshot(manager, sid) == before
    assert not log.exists()  # nothing written in its place
    await manager.aclose()


@needs_root
def test_permission_denied(tmp_path: Path) -> None:
    """A child running as ``nobody`` cannot open root's private store: EACCES, nothing made."""
    path = tmp_path / "sessions.json"
    TinyDBSessionStorage(path, "none")  # root's, 0700
    tmp_path.chmod(0o755)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=open_as_nobody, args=(str(path), sender))
    child.start()
    sender.close()
    outcome = receiver.recv()
    child.join(30)
    assert outcome[:2] == ("StorageError", errno.EACCES), outcome
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_file_too_large(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in a child: the append fails with EFBIG, the log stays whole."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=fill_until_too_large, args=(str(tmp_path / "s.json"), sender))
    child.start()
    sender.close()
    outcome = receiver.recv()
    child.join(30)
    assert outcome["errno"] == errno.EFBIG, outcome
    assert outcome["memory_unchanged"] and outcome["disk_matches_memory"], outcome
