"""The stored format: every older version keeps loading; migrations upgrade step by step."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import pytest

from persistence import (
    CorruptionError,
    FileSessionStorage,
    StorageError,
    TinyDBSessionStorage,
    verify,
)
from persistence.migrations import MIGRATIONS, upgrade
from statecharts import FORMAT_VERSION, InMemorySessionManager, SessionStorage

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1 = FIXTURES / "v1"
VERSIONS = list(range(1, FORMAT_VERSION + 1))


def copy_of(version: int, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / f"v{version}" / name, target)
    return target


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["tinydb", "files"])
async def test_every_format_s_fixture_still_loads(tmp_path: Path, kind: str, version: int) -> None:
    directory = copy_of(version, kind, tmp_path)
    storage: SessionStorage = (
        TinyDBSessionStorage(directory / "sessions.json", "none")
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


@pytest.mark.parametrize("version", VERSIONS)
def test_every_stored_document_carries_its_format_version(version: int) -> None:
    here = FIXTURES / f"v{version}"
    database = json.loads((here / "tinydb" / "sessions.json").read_text())
    assert {d["format_version"] for d in database["sessions"].values()} == {version}
    for log in (here / "tinydb" / "sessions.json.logs").iterdir():
        assert json.loads(log.read_text().splitlines()[0])["format_version"] == version
    for checkpoint in (here / "tinydb" / "sessions.json.checkpoints").iterdir():
        assert json.loads(checkpoint.read_text())["format_version"] == version
    for document in (here / "files").iterdir():
        assert json.loads(document.read_text())["format_version"] == version


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
    directory = copy_of(1, "tinydb", tmp_path)
    (checkpoint,) = (directory / "sessions.json.checkpoints").iterdir()
    malformed = b'{"format_version":1,"session_id":"x","checkpoint":{}}'
    checkpoint.write_bytes(malformed)
    database = directory / "sessions.json"
    tables = json.loads(database.read_text())
    for document in tables["sessions"].values():  # its checksum matches: only the shape is wrong
        if document.get("checkpoint"):
            document["checkpoint"]["crc"] = zlib.crc32(malformed)
    database.write_text(json.dumps(tables))

    def stored() -> dict[Path, bytes]:  # the data, not the lock files opening creates
        return {
            p: p.read_bytes() for p in directory.rglob("*") if p.is_file() and p.suffix != ".lock"
        }

    before = stored()
    report = await verify(TinyDBSessionStorage(database, "none"))
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]
    assert "not a checkpoint" in report.problems[0].detail
    assert stored() == before
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(database, "none"))
    try:  # the session is rebuilt from its whole log instead
        done = [i for i in await manager.list_sessions() if i.state.status == "completed"]
        assert len(done) == 1 and done[0].progress.commands_total == 1
    finally:
        await manager.aclose()
