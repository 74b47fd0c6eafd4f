"""The supporting pieces: checkpoint files, the database storage, the file store, the threads."""

from __future__ import annotations

import json
import logging
import resource
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from persistence import (
    CorruptionError,
    FileSessionStorage,
    MemorySessionStorage,
    StorageError,
    verify,
)
from persistence.checkpoints import CheckpointFiles, log_problem
from persistence.documents import CheckpointRef, parse_document
from persistence.durability import GroupCommitter, Periodic, check_mode
from persistence.files import atomic_write, backup_copy, raise_open_files_limit
from persistence.logs import LogPosition
from persistence.storages import AtomicJSONStorage
from persistence.verify import Problem, VerifyReport
from statecharts import (
    InMemorySessionManager,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    SessionNotFound,
    new_session_id,
)

CONFIG = SessionConfig(project_path="/p", max_iterations=3)


async def a_checkpoint() -> SessionCheckpoint:
    manager = InMemorySessionManager()
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    checkpoint = await manager.save_checkpoint(sid)
    manager.close()
    return checkpoint


# -- checkpoint files ------------------------------------------------------------------
async def test_checkpoint_files_that_cannot_be_trusted(tmp_path: Path) -> None:
    files = CheckpointFiles(tmp_path / "cp", sync=False)
    sid = new_session_id()
    log = tmp_path / "log"
    log.write_bytes(b"")
    stored, ref = files.write(sid, await a_checkpoint(), LogPosition(10, 5, 1), 0)
    assert stored.log_hash == "crc32:00000005"
    assert files.problem(sid, ref.model_copy(update={"file": "../x"}), log) is not None
    moved = ref.model_copy(update={"seq": 2, "file": f"{sid}.2.json"})
    assert "missing" in str(files.problem(sid, moved, log))
    assert "damaged" in str(files.problem(sid, ref.model_copy(update={"crc": ref.crc ^ 1}), log))
    assert "damaged or gone" in str(files.problem(sid, ref, log))  # the log has no such line
    assert files.read(sid, ref, log) is None  # the cached copy is dropped
    assert log_problem(ref.model_copy(update={"log_hash": "sha1:x"}), log) is not None
    path = files.directory / ref.file
    content = json.loads(path.read_bytes())
    foreign = json.dumps({**content, "session_id": new_session_id()}).encode()
    path.write_bytes(foreign)
    assert "not a checkpoint" in str(
        files.problem(sid, ref.model_copy(update={"crc": zlib.crc32(foreign)}), log)
    )
    # a document not in the current layout goes through the migrations
    data = json.dumps(content, indent=1).encode()
    path.write_bytes(data)
    fresh = CheckpointFiles(tmp_path / "cp", sync=False)
    assert fresh._load(sid, ref, data) == stored
    assert fresh._load(sid, ref, b"{") is None
    files.remove(sid)
    assert list(files.directory.iterdir()) == []


def test_documents_must_be_the_ones_of_their_key(tmp_path: Path) -> None:
    sid, other = new_session_id(), new_session_id()
    raw = {
        "format_version": 1,
        "id": other,
        "config": CONFIG.model_dump(mode="json"),
        "created_at": datetime.now(UTC).isoformat(),
        "state": {"status": "created"},
    }
    with pytest.raises(CorruptionError, match="is the one of"):
        parse_document(raw, tmp_path, sid)
    assert parse_document(raw, tmp_path, other).id == other
    assert CheckpointRef(seq=0, line_start=0, offset=1, log_hash="crc32:0", file="f", crc=0)


# -- the database storage --------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "offset"),
    [(b"\x80garbage", 0), (b'{"sessions": 1}', 0), (b'{"sessions": {}, "x": [', 23)],
)
def test_an_unreadable_database(tmp_path: Path, content: bytes, offset: int) -> None:
    storage = AtomicJSONStorage(tmp_path / "db.json")
    (tmp_path / "db.json").write_bytes(content)
    with pytest.raises(CorruptionError) as raised:
        storage.read()
    assert raised.value.kind == "unreadable_database" and raised.value.offset == offset
    storage.close()
    storage.close()


def test_the_database_cache_follows_other_writers(tmp_path: Path) -> None:
    first = AtomicJSONStorage(tmp_path / "db.json")
    second = AtomicJSONStorage(tmp_path / "db.json", sync=False)
    assert first.read() is None
    (tmp_path / "db.json").write_bytes(b"")
    assert first.read() is None  # an empty file is an empty database
    first.write({"t": {"1": {"a": 1}}})
    assert second.read() == {"t": {"1": {"a": 1}}}
    second.write({"t": {"1": {"a": 2}}})  # same size, maybe the same mtime: the generation tells
    assert first.read() == {"t": {"1": {"a": 2}}}
    first.close()
    second.close()


# -- files ---------------------------------------------------------------------------------
def test_a_failed_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"old")
    with pytest.raises(StorageError):
        atomic_write(tmp_path / "missing" / "f", b"new")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    copy = backup_copy(target, "stamp")
    assert copy.name == "f.corrupt-stamp" and copy.read_bytes() == b"old"
    assert copy.stat().st_mode & 0o777 == 0o600


def test_the_open_files_limit_is_raised() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_open_files_limit(1024) == min(1024, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- threads -------------------------------------------------------------------------------
def test_durability_modes() -> None:
    assert check_mode("strict") == "strict"
    with pytest.raises(ValueError, match="unknown durability"):
        check_mode("fast")


class Flaky:
    """A log whose first fsync fails."""

    def __init__(self) -> None:
        self.calls = 0

    def sync(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise StorageError("cannot sync", "log", OSError(5, "I/O error"))


def test_a_failed_background_sync_is_retried_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    committer = GroupCommitter(window=0.005)
    flaky = Flaky()
    with caplog.at_level(logging.ERROR):
        committer.dirty(flaky)
        committer.dirty(flaky)  # already dirty: one sync covers both
        deadline = time.monotonic() + 5
        while flaky.calls < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    assert flaky.calls >= 2 and "background fsync failed" in caplog.text
    committer.close()
    direct = GroupCommitter()
    direct.dirty(Flaky())
    with pytest.raises(StorageError):
        direct.flush()  # a caller's flush raises it
    direct.discard(Flaky())
    direct.close()


def test_periodic_logs_failures_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    done = threading.Event()

    def action() -> None:
        calls.append(1)
        if len(calls) >= 2:
            done.set()
        raise RuntimeError("tick")

    with caplog.at_level(logging.ERROR):
        ticker = Periodic(0.001, action, "test-ticker")
        assert done.wait(5)
        ticker.stop()
    assert "test-ticker failed" in caplog.text


# -- the file store and verification through the port -------------------------------------
async def test_file_store_details(tmp_path: Path) -> None:
    store = FileSessionStorage(tmp_path)
    manager = await InMemorySessionManager.open(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    stored = await store.load(sid)
    assert stored is not None
    other = FileSessionStorage(tmp_path)
    copy = stored.model_copy(update={"id": new_session_id()})
    (tmp_path / f"{copy.id}.json").write_text(stored.model_dump_json())  # stored under the wrong id
    with pytest.raises(CorruptionError, match="the one of session"):
        await other.load(copy.id)
    (tmp_path / f"{copy.id}.json").write_text("[1, 2]")
    with pytest.raises(CorruptionError, match="unreadable"):
        await other.acquire(copy.id)
    with pytest.raises(SessionNotFound):
        [e async for e in other.load_events(new_session_id())]
    await other.save(stored.model_copy(update={"id": new_session_id()}))
    assert "FileSessionStorage" in repr(store)
    await manager.aclose()
    await other.close()


class Broken(MemorySessionStorage):
    """A store whose list or events cannot be read."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def list(self) -> list[SessionId]:
        if self.failing == "list":
            raise StorageError("cannot read", "somewhere")
        return await super().list()

    async def load_head(self, session_id: SessionId):  # type: ignore[no-untyped-def]
        if self.failing == "head":
            raise CorruptionError("bad", "somewhere", kind="bad_header", session_id=session_id)
        return await super().load_head(session_id)


async def test_verify_through_the_port_reports_store_errors() -> None:
    report = await verify(Broken("list"))
    assert [p.kind for p in report.problems] == ["unreadable"]
    assert "unreadable: somewhere" in str(report)
    broken = Broken("head")
    manager = InMemorySessionManager(broken)
    sid = await manager.create_session(CONFIG)
    report = await verify(broken)
    assert [(p.kind, p.session_id) for p in report.problems] == [("bad_header", sid)]
    assert str(VerifyReport(())) == "0 sessions, 0 events: ok"
    assert str(Problem("k", None, None, None, "why")) == "k: the store: why"
    manager.close()
