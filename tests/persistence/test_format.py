"""The stored format: every older version keeps loading; migrations upgrade step by step.

Two kinds of change are covered here.  The *format* of a document (its
``format_version``) is upgraded when read, one step at a time
(:mod:`persistence._migrations`).  The *layout* of the TinyDB store changed from
layout 1 (one ``sessions.json`` database beside ``sessions.json.logs/`` and
``sessions.json.checkpoints/``) to layout 2 (a directory per session): the
fixture stores in ``fixtures/v<N>/tinydb`` are layout-1 stores, migrated when
first opened for writing (:mod:`persistence.tinydb._migrate`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from persistence import (
    CorruptionError,
    FileSessionStorage,
    StorageError,
    TinyDBSessionStorage,
    verify,
)
from persistence._migrations import MIGRATIONS, upgrade
from persistence._ownership import this_process
from statecharts import FORMAT_VERSION, InMemorySessionManager, SessionStorage

from .layout_helpers import (
    checkpoint_files,
    document,
    log_path,
    quarantined,
    session_dir,
    stored_files,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1 = FIXTURES / "v1"
VERSIONS = list(range(1, FORMAT_VERSION + 1))
OLD_TOP = ["sessions.json", "sessions.json.checkpoints", "sessions.json.logs"]
DONE = "migrated-from-layout-1"


def copy_of(version: int, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / f"v{version}" / name, target)
    return target


def old_documents(store: Path) -> dict[str, dict[str, Any]]:
    """The documents of a layout-1 store, by session id."""
    found: dict[str, dict[str, Any]] = json.loads((store / "sessions.json").read_bytes())[
        "sessions"
    ]
    return found


def old_logs(store: Path) -> dict[str, bytes]:
    """The logs of a layout-1 store, by session id."""
    return {log.stem: log.read_bytes() for log in (store / "sessions.json.logs").iterdir()}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root``: a file's bytes, None for anything else."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


async def migrate(store: Path) -> None:
    """Open the store for writing once (which migrates it), and close it."""
    await TinyDBSessionStorage(store, "none").close()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["tinydb", "files"])
async def test_every_format_s_fixture_still_loads(tmp_path: Path, kind: str, version: int) -> None:
    directory = copy_of(version, kind, tmp_path)
    storage: SessionStorage = (
        TinyDBSessionStorage(directory / "sessions.json", "none")  # the old database's path
        if kind == "tinydb"
        else FileSessionStorage(directory)
    )
    assert (await verify(storage)).ok
    manager = await InMemorySessionManager.open(storage)
    try:
        infos = {info.state.status: info for info in await manager.list_sessions()}
        assert sorted(infos) == ["completed", "created", "paused"]
        done = infos["completed"]
        kinds = [e.event.kind for e in await manager.get_events(done.id)]
        assert kinds == [
            "started",
            "iteration_started",
            "command_executed",
            "iteration_completed",
            "iteration_started",
            "analysis_completed",
            "iteration_completed",
            "completed",
        ]
        assert done.progress.files_changed == frozenset({Path("a.py")})
        assert (done.progress.commands_total, done.progress.commands_succeeded) == (1, 1)
        assert [m.number for m in done.progress.iterations] == [1, 2]
        assert infos["paused"].state.reason == "lunch"  # type: ignore[union-attr]
        assert infos["created"].config.execution_mode.mode == "worktree"
        # and it carries on in the current format
        resumed = await manager.resume_session(infos["paused"].id)
        assert resumed.status == "running"
    finally:
        await manager.aclose()
    if kind == "tinydb":  # migrated to layout 2 on the way
        assert json.loads((directory / "sessionchart.json").read_bytes())["layout"] == 2
        assert (await verify(TinyDBSessionStorage(directory, read_only=True))).ok


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_layout_1_store_is_migrated_whole(tmp_path: Path, version: int) -> None:
    store = copy_of(version, "tinydb", tmp_path)
    documents, logs = old_documents(store), old_logs(store)
    checkpoints = {p.name: p.read_bytes() for p in (store / "sessions.json.checkpoints").iterdir()}
    old = {name: tree(store / name) if (store / name).is_dir() else None for name in OLD_TOP}
    opened = TinyDBSessionStorage(store, "none")  # the directory names the store too
    assert await opened.list() == sorted(documents)
    await opened.close()
    assert json.loads((store / "sessionchart.json").read_bytes()) == {
        "kind": "sessionchart-store",
        "layout": 2,
    }
    for sid, old_document in documents.items():
        assert log_path(store, sid).read_bytes() == logs[sid]  # moved, byte for byte
        new = document(store, sid)
        assert new["format_version"] == FORMAT_VERSION and new["holder"] is None
        for field in ("state", "last_seq", "config"):
            assert new[field] == old_document[field], field
        ref = old_document.get("checkpoint")
        if ref is None:
            assert new["checkpoint"] is None and checkpoint_files(store, sid) == []
        else:  # copied under its new name, and pointed at
            assert new["checkpoint"] == {**ref, "file": "checkpoint-a.json"}
            (copied,) = checkpoint_files(store, sid)
            assert copied.read_bytes() == checkpoints[ref["file"]]
    assert quarantined(store) == []
    # the old files are kept aside, as they were (the logs moved out of theirs)
    assert not any((store / name).exists() for name in OLD_TOP)
    kept = sorted((store / DONE).iterdir())
    assert [p.name.rsplit(".", 2)[0] for p in kept] == OLD_TOP
    assert json.loads(kept[0].read_bytes())["sessions"] == documents
    assert tree(kept[1]) == old["sessions.json.checkpoints"] and tree(kept[2]) == {}
    # migrated once: opening again changes nothing
    files = stored_files(store)
    await migrate(store)
    assert stored_files(store) == files


async def test_the_old_database_path_still_names_the_store_once_migrated(tmp_path: Path) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    ids = sorted(old_documents(store))
    first = TinyDBSessionStorage(store / "sessions.json", "none")  # migrates
    assert await first.list() == ids
    await first.close()
    again = TinyDBSessionStorage(store / "sessions.json", "none")
    try:
        assert again.path == store and await again.list() == ids
    finally:
        await again.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_layout_1_store_opened_read_only_is_refused_and_unchanged(
    tmp_path: Path, version: int
) -> None:
    store = copy_of(version, "tinydb", tmp_path)
    before = tree(store)
    for path in (store, store / "sessions.json"):
        with pytest.raises(StorageError, match="open it for writing once to migrate it"):
            TinyDBSessionStorage(path, read_only=True)
    assert tree(store) == before


@pytest.mark.parametrize("version", VERSIONS)
async def test_verify_changes_nothing(tmp_path: Path, version: int) -> None:
    store = copy_of(version, "tinydb", tmp_path)
    await migrate(store)
    before = stored_files(store)
    for opened in (TinyDBSessionStorage(store, read_only=True), TinyDBSessionStorage(store)):
        report = await verify(opened)
        assert report.ok and report.notices == () and (report.sessions, report.events) == (3, 11)
        await opened.close()
    assert stored_files(store) == before


async def test_an_interrupted_migration_resumes_where_it_stopped(tmp_path: Path) -> None:
    done, log_moved, untouched = sorted(old_documents(V1 / "tinydb"))
    # what a complete run makes of the first session...
    reference = copy_of(1, "tinydb", tmp_path / "reference")
    await migrate(reference)
    # ...was in place when the run was killed, moving the log of the second one
    store = copy_of(1, "tinydb", tmp_path)
    logs = old_logs(store)
    shutil.copytree(session_dir(reference, done), session_dir(store, done))
    (store / "sessions.json.logs" / f"{done}.jsonl").unlink()
    building = store / "sessions" / f".migrating-{log_moved}"
    building.mkdir()
    (store / "sessions.json.logs" / f"{log_moved}.jsonl").rename(building / "events.jsonl")
    assert not (store / "sessionchart.json").exists()  # written last: still layout 1
    opened = TinyDBSessionStorage(store, "none")
    assert await opened.list() == [done, log_moved, untouched]
    assert sorted(p.name for p in (store / "sessions").iterdir()) == [done, log_moved, untouched]
    await opened.close()
    for sid in (done, log_moved, untouched):
        assert log_path(store, sid).read_bytes() == logs[sid]
        assert document(store, sid) == document(reference, sid)
    assert quarantined(store) == []
    report = await verify(TinyDBSessionStorage(store, read_only=True))
    assert report.ok and (report.sessions, report.events) == (3, 11), str(report)


async def test_a_layout_1_store_in_use_by_an_older_process_is_not_migrated(
    tmp_path: Path,
) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    sid = sorted(old_documents(store))[1]
    before = tree(store)
    lock = os.open(store / "sessions.json.logs" / f"{sid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # an older sessionchart drives the session
        with pytest.raises(StorageError, match="in use by an older sessionchart"):
            TinyDBSessionStorage(store, "none")
        assert not (store / "sessionchart.json").exists()
        after = {k: v for k, v in tree(store).items() if not k.endswith(".lock")}
        assert after.pop("sessions", None) is None  # at most an empty directory made
        assert after == before
    finally:
        os.close(lock)
    await migrate(store)  # once it stopped
    assert (store / "sessionchart.json").exists() and log_path(store, sid).exists()


async def test_a_layout_1_session_whose_owner_lives_is_not_migrated(tmp_path: Path) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    sid = sorted(old_documents(store))[1]
    tables = json.loads((store / "sessions.json").read_bytes())
    owner = this_process().model_dump(mode="json")  # this very process, its heartbeat fresh
    tables["sessions"][sid]["owner"] = owner
    (store / "sessions.json").write_text(json.dumps(tables))
    with pytest.raises(StorageError, match=f"pid {os.getpid()}.* drives session {sid}"):
        TinyDBSessionStorage(store, "none")
    assert not (store / "sessionchart.json").exists()
    tables["sessions"][sid]["owner"] = {**owner, "heartbeat": "2000-01-01T00:00:00Z"}
    (store / "sessions.json").write_text(json.dumps(tables))  # its lease long gone
    await migrate(store)
    assert document(store, sid)["holder"] is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.unlink(), id="deleted"),
        pytest.param(lambda db: db.write_bytes(b"\x00\x01garbage{{{"), id="garbage"),
        pytest.param(lambda db: db.write_bytes(b'{"sessions": [1, 2]}'), id="not-tables"),
        pytest.param(
            lambda db: db.write_text(json.dumps({"sessions": {"../x": {}, "a/b": []}})),
            id="invalid-ids",
        ),
    ],
)
async def test_a_layout_1_store_with_a_lost_database_is_migrated_from_its_logs(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    documents, logs = old_documents(store), old_logs(store)
    damage(store / "sessions.json")
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(store, "none"))
    try:
        infos = {info.id: info for info in await manager.list_sessions()}
        assert sorted(infos) == sorted(documents) and manager.damaged == {}
        for sid, info in infos.items():  # each state replayed from its log
            assert info.state.model_dump(mode="json") == documents[sid]["state"]
            assert log_path(store, sid).read_bytes() == logs[sid]
    finally:
        await manager.aclose()
    assert quarantined(store) == [] and not (store / "../x").exists()
    report = await verify(TinyDBSessionStorage(store, read_only=True))
    assert report.ok and report.notices == (), str(report)


async def test_a_layout_1_session_that_cannot_be_migrated_is_set_aside(tmp_path: Path) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    done, lost, deleted = sorted(old_documents(store))
    (store / "sessions.json.logs" / f"{lost}.jsonl").unlink()  # its events are gone
    tables = json.loads((store / "sessions.json").read_bytes())
    tables["sessions"][deleted]["deleting"] = True  # a delete the old store did not finish
    (store / "sessions.json").write_text(json.dumps(tables))
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(store, "none"))
    assert [info.id for info in await manager.list_sessions()] == [done]
    assert manager.damaged == {}
    await manager.aclose()
    (aside,) = quarantined(store)
    assert aside.name.startswith(f"{lost}-")
    assert json.loads((aside / "document-layout-1.json").read_bytes()) == tables["sessions"][lost]
    assert "log is missing" in (aside / "why.txt").read_text()
    assert not any(p.name == f"{deleted}.jsonl" for p in store.rglob("*"))  # forgotten
    report = await verify(TinyDBSessionStorage(store, read_only=True))
    assert report.ok and [n.kind for n in report.notices] == ["quarantined"], str(report)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_stored_document_carries_its_format_version(version: int) -> None:
    here = FIXTURES / f"v{version}"
    database = json.loads((here / "tinydb" / "sessions.json").read_text())
    assert {d["format_version"] for d in database["sessions"].values()} == {version}
    for log in (here / "tinydb" / "sessions.json.logs").iterdir():
        assert json.loads(log.read_text().splitlines()[0])["format_version"] == version
    for checkpoint in (here / "tinydb" / "sessions.json.checkpoints").iterdir():
        assert json.loads(checkpoint.read_text())["format_version"] == version
    for stored in (here / "files").iterdir():
        assert json.loads(stored.read_text())["format_version"] == version


def test_every_older_format_has_a_migration_of_every_kind() -> None:
    for table in MIGRATIONS.values():
        assert sorted(table) == VERSIONS[:-1]


def test_version_1_progress_gets_its_counters_from_the_full_history() -> None:
    checkpoint = json.loads(
        next((V1 / "tinydb" / "sessions.json.checkpoints").iterdir()).read_text()
    )
    progress = upgrade("checkpoint", checkpoint, "cp")["checkpoint"]["state_snapshot"]["progress"]
    assert progress["commands_total"] == progress["commands_succeeded"] == 1
    assert (progress["commits_total"], progress["lines_added"]) == (0, 0)


def test_a_version_1_running_iteration_keeps_its_commands() -> None:
    progress = {
        "commands_executed": [
            {"command": "a", "success": True, "iteration": 1},
            {"command": "b", "success": False, "iteration": 2},
        ],
        "iterations": [
            {"number": 1, "completed_at": "t", "changes": {"git_commits": [{}], "lines_added": 3}},
            {"number": 2, "completed_at": None, "changes": None, "commands": []},
        ],
    }
    checkpoint = {"format_version": 1, "checkpoint": {"state_snapshot": {"progress": progress}}}
    upgraded = upgrade("checkpoint", checkpoint, "cp")["checkpoint"]["state_snapshot"]["progress"]
    assert [c["command"] for c in upgraded["iterations"][-1]["commands"]] == ["b"]
    assert (upgraded["commands_total"], upgraded["commands_succeeded"]) == (2, 1)
    assert (upgraded["commits_total"], upgraded["lines_added"]) == (1, 3)


def test_migrations_run_one_step_at_a_time() -> None:
    database = json.loads((V1 / "tinydb" / "sessions.json").read_text())
    document = next(iter(database["sessions"].values()))
    steps = {
        "session": {
            1: lambda d: {**d, "labels": []},
            2: lambda d: {**d, "labels": [*d["labels"], "migrated"]},
        }
    }
    upgraded = upgrade("session", document, "db", current=3, migrations=steps)
    assert upgraded["format_version"] == 3 and upgraded["labels"] == ["migrated"]
    assert document["format_version"] == 1  # the stored one is not changed in place
    current = {**document, "format_version": FORMAT_VERSION}
    assert upgrade("session", current, "db") == current  # current: nothing to do


@pytest.mark.parametrize("version", [None, 0, "1", True])
def test_a_missing_or_bogus_version_is_corruption(version: object) -> None:
    with pytest.raises(CorruptionError, match="unknown_format"):
        upgrade("session", {"format_version": version}, "db")


def test_a_newer_version_is_refused_not_misread() -> None:
    with pytest.raises(StorageError, match="newer than this sessionchart"):
        upgrade("session", {"format_version": FORMAT_VERSION + 1}, "db")
    with pytest.raises(CorruptionError, match="no migration"):
        upgrade("session", {"format_version": FORMAT_VERSION}, "db", current=FORMAT_VERSION + 1)


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("checkpoint", {"format_version": 1, "checkpoint": {}}),
        ("checkpoint", {"format_version": 1, "checkpoint": {"state_snapshot": {"progress": 3}}}),
        ("file", {"format_version": 1, "checkpoints": "not a list"}),
    ],
)
def test_a_document_not_shaped_like_its_version_is_corruption(
    kind: str, document: dict[str, object]
) -> None:
    with pytest.raises(CorruptionError, match="invalid_document"):
        upgrade(kind, document, "doc")


async def test_a_malformed_version_1_checkpoint_is_reported_and_loses_nothing(
    tmp_path: Path,
) -> None:
    store = copy_of(1, "tinydb", tmp_path)
    (checkpoint,) = (store / "sessions.json.checkpoints").iterdir()
    malformed = b'{"format_version":1,"session_id":"x","checkpoint":{}}'
    checkpoint.write_bytes(malformed)
    database = store / "sessions.json"
    tables = json.loads(database.read_text())
    for fields in tables["sessions"].values():  # its checksum matches: only the shape is wrong
        if fields.get("checkpoint"):
            fields["checkpoint"]["crc"] = zlib.crc32(malformed)
    database.write_text(json.dumps(tables))
    await migrate(store)  # carried over as it is
    before = stored_files(store)
    report = await verify(TinyDBSessionStorage(store, read_only=True))
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]
    assert "not a checkpoint" in report.problems[0].detail
    assert stored_files(store) == before
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(store, "none"))
    try:  # the session is rebuilt from its whole log instead
        done = [i for i in await manager.list_sessions() if i.state.status == "completed"]
        assert len(done) == 1 and done[0].progress.commands_total == 1
        assert [e.seq for e in await manager.get_events(done[0].id)] == list(range(1, 9))
    finally:
        await manager.aclose()
