"""The stored format: version 1 keeps loading, and the migration table upgrades step by step."""

from __future__ import annotations

import json
import shutil
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

V1 = Path(__file__).resolve().parent / "fixtures" / "v1"


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(V1 / name, target)
    return target


@pytest.mark.parametrize("kind", ["tinydb", "files"])
async def test_the_version_1_fixture_still_loads(tmp_path: Path, kind: str) -> None:
    directory = copy_of(kind, tmp_path)
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
        assert infos["paused"].state.reason == "lunch"  # type: ignore[union-attr]
        assert infos["created"].config.execution_mode.mode == "worktree"
        # and it carries on in the current format
        resumed = await manager.resume_session(infos["paused"].id)
        assert resumed.status == "running"
    finally:
        await manager.aclose()


def test_every_stored_document_carries_its_format_version() -> None:
    database = json.loads((V1 / "tinydb" / "sessions.json").read_text())
    assert {d["format_version"] for d in database["sessions"].values()} == {1}
    for log in (V1 / "tinydb" / "sessions.json.logs").iterdir():
        assert json.loads(log.read_text().splitlines()[0])["format_version"] == 1
    for checkpoint in (V1 / "tinydb" / "sessions.json.checkpoints").iterdir():
        assert json.loads(checkpoint.read_text())["format_version"] == 1
    for document in (V1 / "files").iterdir():
        assert json.loads(document.read_text())["format_version"] == 1
    assert FORMAT_VERSION == 1 and all(table == {} for table in MIGRATIONS.values())


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
    assert upgrade("session", document, "db") == document  # current: nothing to do


@pytest.mark.parametrize("version", [None, 0, "1", True])
def test_a_missing_or_bogus_version_is_corruption(version: object) -> None:
    with pytest.raises(CorruptionError, match="unknown_format"):
        upgrade("session", {"format_version": version}, "db")


def test_a_newer_version_is_refused_not_misread() -> None:
    with pytest.raises(StorageError, match="newer than this sessionchart"):
        upgrade("session", {"format_version": FORMAT_VERSION + 1}, "db")
    with pytest.raises(CorruptionError, match="no migration"):
        upgrade("session", {"format_version": 1}, "db", current=2)
