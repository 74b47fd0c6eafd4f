"""The supporting pieces: checkpoint files, session documents, safe file access, the threads.

Each piece works on real files in a temporary directory, opened through a
:class:`~persistence._files.Directory` as the store opens them.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import stat
import threading
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from persistence import (
    CorruptionError,
    FileSessionStorage,
    InvalidSessionId,
    MemorySessionStorage,
    Problem,
    StorageError,
    VerifyReport,
    verify,
)
from persistence._durability import GroupCommitter, Periodic, check_mode
from persistence._files import (
    Directory,
    checked_id,
    component,
    make_private_dirs,
    storage_errors,
    timestamp_suffix,
    try_lock,
)
from persistence.tinydb._checkpoints import Checkpoints, _load, log_problem
from persistence.tinydb._documents import (
    CheckpointRef,
    SessionDocument,
    document_lock,
    parse_document,
    read_document,
    write_document,
)
from persistence.tinydb._lines import LogHeader
from persistence.tinydb._log_reader import LOG_NAME, LogFile
from persistence.tinydb._log_writer import write_new_log
from statecharts import (
    FORMAT_VERSION,
    InMemorySessionManager,
    PersistedSession,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    SessionNotFound,
    TimestampedEvent,
    new_session_id,
    state,
)

from .layout_helpers import can_make_immutable, immutable

CONFIG = SessionConfig(project_path="/p", max_iterations=3)


async def a_session() -> tuple[SessionId, datetime, list[TimestampedEvent], SessionCheckpoint]:
    """A session of two events, checkpointed at seq 2 (in memory)."""
    manager = InMemorySessionManager()
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    checkpoint = await manager.save_checkpoint(sid)
    recorded = await manager.get_events(sid)
    created_at = (await manager._reading(sid)).created_at
    manager.close()
    return sid, created_at, recorded, checkpoint


def open_dir(path: Path) -> Directory:
    return Directory.open_root(path, create=True)


def session_directory(path: Path, sid: SessionId) -> Directory:
    """``path`` opened as the directory of session ``sid`` (its errors name the session)."""
    with Directory.open_root(path.parent, create=True) as parent:
        return parent.subdir(path.name, create=True, session_id=sid)


# -- checkpoint files ------------------------------------------------------------------
@dataclass
class Written:
    """A checkpoint written at seq 2 beside its session's log, both still open."""

    path: Path
    directory: Directory
    files: Checkpoints
    log_file: LogFile
    sid: SessionId
    stored: SessionCheckpoint
    ref: CheckpointRef
    end_offset: int
    line_start: int

    def trouble(self, changed: CheckpointRef) -> str:
        """Why the checkpoint ``changed`` points at is not trusted (it must not be)."""
        found, why = self.files.examine(self.directory, self.sid, changed, self.log_file)
        assert found is None
        return str(why)


@pytest.fixture
async def written(tmp_path: Path) -> AsyncIterator[Written]:
    sid, created_at, recorded, checkpoint = await a_session()
    with open_dir(tmp_path) as directory:
        header = LogHeader(
            format_version=FORMAT_VERSION, session_id=sid, created_at=created_at, config=CONFIG
        )
        write_new_log(directory, header, recorded, sync=False)
        files = Checkpoints(sync=False)
        with LogFile.open(directory, sid) as log_file:
            start = log_file.header()[1]
            end, line_start, _torn = log_file.tail(start, (tmp_path / LOG_NAME).stat().st_size)
            stored, ref = files.write(directory, sid, checkpoint, end, line_start, current=None)
            yield Written(
                tmp_path, directory, files, log_file, sid, stored, ref, end.offset, line_start
            )


def test_a_checkpoint_file_is_private_and_tied_to_its_place_in_the_log(written: Written) -> None:
    ref, stored = written.ref, written.stored
    assert ref.file == "checkpoint-a.json" and (ref.seq, ref.offset) == (2, written.end_offset)
    assert stored.log_hash is not None and stored.log_hash == ref.log_hash
    assert stored.log_hash.startswith("crc32:")
    assert (written.path / ref.file).stat().st_mode & 0o777 == 0o600


def test_a_checkpoint_file_as_written_is_trusted_and_read_back(written: Written) -> None:
    files, directory, sid, ref = written.files, written.directory, written.sid, written.ref
    assert files.examine(directory, sid, ref, written.log_file) == (written.stored, None)
    assert files.read(directory, sid, ref, written.log_file) == written.stored


def test_a_ref_that_does_not_match_its_file_is_not_trusted(written: Written) -> None:
    ref = written.ref
    assert "unexpected file name" in written.trouble(ref.model_copy(update={"file": "../x"}))
    assert "unexpected file name" in written.trouble(ref.model_copy(update={"file": "x.json"}))
    moved = ref.model_copy(update={"file": "checkpoint-b.json"})  # the other slot, empty
    assert "missing" in written.trouble(moved)
    assert "damaged (checksum)" in written.trouble(ref.model_copy(update={"crc": ref.crc ^ 1}))
    # the file says another log hash than its ref: not the checkpoint it points at
    assert "not a checkpoint" in written.trouble(ref.model_copy(update={"log_hash": "crc32:0"}))


def test_an_unknown_kind_of_log_hash_is_a_problem(written: Written) -> None:
    odd = written.ref.model_copy(update={"log_hash": "sha1:x"})
    assert "unknown log hash" in str(log_problem(odd, written.log_file))


def test_an_intact_checkpoint_file_of_another_session_is_not_trusted(written: Written) -> None:
    path = written.path / written.ref.file
    foreign = json.dumps({**json.loads(path.read_bytes()), "session_id": new_session_id()})
    path.write_bytes(foreign.encode())
    intact = written.ref.model_copy(update={"crc": zlib.crc32(foreign.encode())})
    assert "not a checkpoint" in written.trouble(intact)


def test_an_older_layout_of_a_checkpoint_file_goes_through_the_migrations(
    written: Written,
) -> None:
    path = written.path / written.ref.file
    data = json.dumps(json.loads(path.read_bytes()), indent=1).encode()
    assert _load(written.directory, written.sid, written.ref, data) == written.stored
    path.write_bytes(data)
    intact = written.ref.model_copy(update={"crc": zlib.crc32(data)})
    assert written.files.examine(written.directory, written.sid, intact, written.log_file) == (
        written.stored,
        None,
    )


def test_a_checkpoint_file_that_is_not_a_json_object_is_not_loaded(written: Written) -> None:
    assert _load(written.directory, written.sid, written.ref, b"{") is None
    assert _load(written.directory, written.sid, written.ref, b"[1]") is None


def test_a_checkpoint_past_the_end_of_a_cut_log_is_no_longer_trusted(written: Written) -> None:
    files, directory, sid, ref = written.files, written.directory, written.sid, written.ref
    assert files.read(directory, sid, ref, written.log_file) == written.stored  # cached
    os.truncate(written.path / LOG_NAME, written.line_start + 5)
    assert "damaged or gone" in written.trouble(ref)
    assert files.read(directory, sid, ref, written.log_file) is None  # the cache is dropped


def test_the_next_checkpoint_goes_to_the_other_slot_leaving_the_current_one_whole(
    written: Written,
) -> None:
    path, ref = written.path, written.ref
    kept = (path / ref.file).read_bytes()
    checkpoint = written.stored
    end = written.log_file.tail(written.log_file.header()[1], (path / LOG_NAME).stat().st_size)
    _, second = written.files.write(
        written.directory, written.sid, checkpoint, end[0], end[1], current=ref.file
    )
    assert second.file == "checkpoint-b.json" and (path / ref.file).read_bytes() == kept
    Checkpoints.remove_all(written.directory)  # a session stored anew, whole
    assert sorted(p.name for p in path.iterdir()) == [LOG_NAME]


# -- session documents -----------------------------------------------------------------
def a_document(sid: SessionId) -> SessionDocument:
    return SessionDocument(
        id=sid, config=CONFIG, created_at=datetime.now(UTC), state=state.Created()
    )


def test_documents_must_be_the_ones_of_their_key(tmp_path: Path) -> None:
    sid, other = new_session_id(), new_session_id()
    raw: dict[str, Any] = {
        "format_version": 1,
        "id": other,
        "config": CONFIG.model_dump(mode="json"),
        "created_at": datetime.now(UTC).isoformat(),
        "state": {"status": "created"},
    }
    with pytest.raises(CorruptionError, match="is the one of") as raised:
        parse_document(raw, tmp_path, sid)
    assert raised.value.kind == "invalid_document" and raised.value.session_id == sid
    assert parse_document(raw, tmp_path, other).id == other
    with pytest.raises(CorruptionError, match="invalid_document"):
        parse_document({**raw, "last_seq": -1}, tmp_path, other)
    with pytest.raises(CorruptionError, match="invalid_document"):
        parse_document({**raw, "format_version": None}, tmp_path, other)
    assert CheckpointRef(seq=0, line_start=0, offset=1, log_hash="crc32:0", file="f", crc=0)


def test_a_document_is_a_one_document_tinydb_database(tmp_path: Path) -> None:
    sid = new_session_id()
    with session_directory(tmp_path, sid) as directory:
        assert read_document(directory, sid) is None  # none yet
        document = a_document(sid)
        write_document(directory, document, sync=True)
        assert read_document(directory, sid) == document
        revised = document.revised(state=state.Running(iteration=0))
        assert revised.version == 2
        write_document(directory, revised, sync=False)
        assert read_document(directory, sid) == revised
    tables = json.loads((tmp_path / "session.json").read_bytes())
    assert list(tables) == ["session"] and list(tables["session"]) == [sid]
    assert tables["session"][sid]["version"] == 2 and tables["session"][sid]["holder"] is None
    assert (tmp_path / "session.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".session.json.spare").read_bytes() != (
        tmp_path / "session.json"
    ).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".session.json.spare", "session.json"]


def test_a_document_rewritten_elsewhere_is_read_afresh(tmp_path: Path) -> None:
    sid = new_session_id()
    with open_dir(tmp_path) as first, open_dir(tmp_path) as second:
        document = a_document(sid)
        write_document(first, document, sync=False)
        assert read_document(second, sid) == document
        paused = document.revised(state=state.Paused(reason="a"))
        write_document(second, paused, sync=False)
        assert read_document(first, sid) == paused
        again = paused.revised(state=state.Paused(reason="b"))  # the very same size
        write_document(first, again, sync=False)
        assert read_document(second, sid) == again  # no cache between two readers


@pytest.mark.parametrize(
    ("content", "message", "offset"),
    [
        (b"\x80garbage", "not JSON", None),
        (b'{"session": {}, "x": [', "not JSON", 22),
        (b'{"session": 1}', "not a TinyDB database", None),
        (b"[1, 2]", "not a TinyDB database", None),
        (b"", "holds no session", None),
        (b'{"session": {}}', "holds no session", None),
        (b'{"session": {"SID": {"format_version": 1}}}', "is invalid", None),
    ],
)
def test_a_damaged_document(
    tmp_path: Path, content: bytes, message: str, offset: int | None
) -> None:
    sid = new_session_id()
    (tmp_path / "session.json").write_bytes(content.replace(b"SID", sid.encode()))
    with (
        session_directory(tmp_path, sid) as directory,
        pytest.raises(CorruptionError, match=message) as raised,
    ):
        read_document(directory, sid)
    assert raised.value.kind == "invalid_document" and raised.value.offset == offset
    assert raised.value.path == tmp_path / "session.json" and raised.value.session_id == sid


def test_the_document_lock_excludes_other_writers(tmp_path: Path) -> None:
    with open_dir(tmp_path) as directory:
        with document_lock(directory):
            fd = os.open(tmp_path / "lock", os.O_RDWR)
            try:
                assert not try_lock(fd)  # another open file: another writer waits
            finally:
                os.close(fd)
        fd = os.open(tmp_path / "lock", os.O_RDWR)
        try:
            assert try_lock(fd)  # free again, with no descriptor left open by the document
        finally:
            os.close(fd)


# -- safe file access ----------------------------------------------------------------------
def test_names_and_ids_are_checked_before_they_near_a_path() -> None:
    for bad in ("", ".", "..", "a/b", "a\0b"):
        with pytest.raises(ValueError, match="not a file name"):
            component(bad)
    assert component("session.json") == "session.json"
    for bad_id in ("../x", "a/b", "", "x" * 300, 7, None):
        with pytest.raises(InvalidSessionId):
            checked_id(bad_id)
    sid = new_session_id()
    assert checked_id(sid) == sid
    assert sorted([timestamp_suffix(datetime(2025, 1, 2, tzinfo=UTC)), timestamp_suffix()])[0] == (
        "20250102T000000.000000Z"
    )


def test_private_directories_and_files(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = make_private_dirs(tmp_path / "a" / "b" / "c")
        with Directory.open_root(made, create=False) as directory:
            directory.write_atomic("f", b"data")
            with directory.subdir("d", create=True):
                pass
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", made, made / "d"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE((made / "f").stat().st_mode) == 0o600
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError) as raised:
        make_private_dirs(tmp_path / "file")
    assert raised.value.errno == errno.ENOTDIR
    with pytest.raises(StorageError) as raised:
        Directory.open_root(tmp_path / "missing", create=False)
    assert raised.value.errno == errno.ENOENT and not (tmp_path / "missing").exists()


def test_nothing_but_regular_files_is_opened_and_no_link_is_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    inside = tmp_path / "store"
    inside.mkdir()
    (inside / "link").symlink_to(outside)
    (inside / "dirlink").symlink_to(tmp_path)
    os.mkfifo(inside / "fifo")
    (inside / "dir").mkdir()
    with Directory.open_root(inside, create=False) as directory:
        for name in ("link", "fifo", "dir"):  # a FIFO is refused, never waited on
            with pytest.raises(CorruptionError) as raised:
                directory.read(name, 100)
            assert raised.value.kind == "unsafe_file" and raised.value.path == inside / name
        for name in ("dirlink", "link"):
            with pytest.raises(CorruptionError, match="unsafe_file"):
                directory.subdir(name)
        with pytest.raises(StorageError) as missing:
            directory.subdir("nothing")
        assert isinstance(missing.value.cause, FileNotFoundError)
        assert sorted(directory.entries()) == [
            ("dir", "dir"),
            ("dirlink", "link"),
            ("fifo", "other"),
            ("link", "link"),
        ]
        assert directory.read("nothing", 100) is None and directory.stat("nothing") is None
        # a link in the way of a write is replaced, never written through
        directory.write_atomic("link", b"mine")
        assert (inside / "link").read_bytes() == b"mine" and not (inside / "link").is_symlink()
        # removing a link removes the link; removing a directory removes its tree
        assert directory.unlink("dirlink") and directory.unlink("dir")
        assert not directory.unlink("nothing")
    assert outside.read_bytes() == b"secret" and sorted(p.name for p in tmp_path.iterdir()) == [
        "outside",
        "store",
    ]


def test_reads_and_copies_have_a_size_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    with open_dir(tmp_path) as directory:
        assert directory.read("f", 100) == b"x" * 100
        with pytest.raises(CorruptionError, match="over the limit") as raised:
            directory.read("f", 99)
        assert raised.value.kind == "too_large"
        with open_dir(tmp_path / "copies") as copies:
            directory.copy_file("f", copies, "g", limit=100)
            with pytest.raises(CorruptionError, match="too_large"):
                directory.copy_file("f", copies, "h", limit=99)
    assert (tmp_path / "copies" / "g").read_bytes() == b"x" * 100
    assert stat.S_IMODE((tmp_path / "copies" / "g").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "copies").iterdir()) == ["g"]  # nothing half-made


@pytest.mark.skipif(not can_make_immutable(), reason="needs root and chattr")
def test_a_failed_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    with open_dir(tmp_path) as directory:
        directory.write_atomic("f", b"old")
        with immutable(tmp_path), pytest.raises(StorageError) as raised:
            directory.write_atomic("f", b"new")
        assert raised.value.errno == errno.EPERM and raised.value.path == tmp_path / "f"
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "x").write_bytes(b"")
        with pytest.raises(StorageError):
            directory.write_atomic("d", b"new")  # a directory in the way is not replaced
    assert (tmp_path / "f").read_bytes() == b"old" and (tmp_path / "d" / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "f"]  # no temporary left


def test_shared_locks_share_and_an_exclusive_one_waits_for_them(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_bytes(b"")
    first, second = os.open(path, os.O_RDONLY), os.open(path, os.O_RDONLY)
    try:
        assert try_lock(first, shared=True) and try_lock(second, shared=True)
        fcntl.flock(second, fcntl.LOCK_UN)
        assert not try_lock(second)  # exclusive while a shared lock is held
        fcntl.flock(first, fcntl.LOCK_UN)
        assert try_lock(second) and not try_lock(first, shared=True)
    finally:
        os.close(first)
        os.close(second)


def test_an_os_error_becomes_a_storage_error_naming_what_failed_and_where(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lock"
    with pytest.raises(StorageError, match="cannot frob") as raised, storage_errors("frob", path):
        raise PermissionError(errno.EACCES, "Permission denied")
    assert raised.value.errno == errno.EACCES and raised.value.path == path
    assert isinstance(raised.value.cause, PermissionError)


def test_a_directory_and_its_filesystem_can_be_synced(tmp_path: Path) -> None:
    with open_dir(tmp_path) as directory:
        directory.sync()
        directory.sync_filesystem()


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


def test_a_failed_sync_is_raised_by_a_caller_s_flush() -> None:
    direct = GroupCommitter()
    direct.dirty(Flaky())
    with pytest.raises(StorageError):
        direct.flush()
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
async def a_file_store_session(tmp_path: Path) -> tuple[FileSessionStorage, PersistedSession]:
    """A file store in ``tmp_path`` holding one started session, and that session."""
    store = FileSessionStorage(tmp_path)
    manager = await InMemorySessionManager.open(store)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.aclose()
    stored = await FileSessionStorage(tmp_path).load(sid)
    assert stored is not None
    return FileSessionStorage(tmp_path), stored


async def test_a_session_file_stored_under_another_id_is_corrupt(tmp_path: Path) -> None:
    store, stored = await a_file_store_session(tmp_path)
    other_id = new_session_id()
    (tmp_path / f"{other_id}.json").write_text(stored.model_dump_json())
    with pytest.raises(CorruptionError, match="the one of session"):
        await store.load(other_id)
    await store.close()


async def test_an_unreadable_session_file_cannot_be_acquired(tmp_path: Path) -> None:
    store, _ = await a_file_store_session(tmp_path)
    other_id = new_session_id()
    (tmp_path / f"{other_id}.json").write_text("[1, 2]")
    with pytest.raises(CorruptionError, match="unreadable"):
        await store.acquire(other_id)
    await store.close()


async def test_the_events_of_an_unknown_session_are_not_found(tmp_path: Path) -> None:
    store, _ = await a_file_store_session(tmp_path)
    with pytest.raises(SessionNotFound):
        [e async for e in store.load_events(new_session_id())]
    await store.close()


async def test_a_session_saved_under_a_new_id_is_a_new_file(tmp_path: Path) -> None:
    store, stored = await a_file_store_session(tmp_path)
    copy = stored.model_copy(update={"id": new_session_id()})
    await store.save(copy)
    assert (tmp_path / f"{copy.id}.json").exists()
    assert sorted(await store.list()) == sorted([stored.id, copy.id])
    await store.close()


def test_a_file_store_names_itself(tmp_path: Path) -> None:
    assert "FileSessionStorage" in repr(FileSessionStorage(tmp_path))


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
    manager.close()


def test_a_report_and_a_problem_read_as_text() -> None:
    assert str(VerifyReport(())) == "0 sessions, 0 events: ok"
    assert str(Problem("k", None, None, None, "why")) == "k: the store: why"
