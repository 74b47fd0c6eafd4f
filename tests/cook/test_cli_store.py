"""The store through ``cook``: a hostile one, an old one, a read-only one, a damaged one.

Issues #10 and #11 as a user meets them: every case runs the installed ``cook``
on a real store in a real repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.persistence.hostile import digest

from .cli import cook, only_session, write_workflow

FIXTURES = Path(__file__).resolve().parent.parent / "persistence" / "fixtures"
ONE_STEP = "name: one\nmax_iterations: 1\nsteps:\n  - shell: echo x >> x.txt\n"


def old_store(project: Path) -> Path:
    """The project's store, as an older sessionchart wrote it (layout 1, three sessions)."""
    store = project / ".sessionchart"
    shutil.copytree(FIXTURES / "v2" / "tinydb", store)
    return store


def test_reading_an_old_store_says_how_to_migrate_it_and_changes_nothing(repo: Path) -> None:
    store = old_store(repo)
    before = digest(store)
    for command in (["sessions"], ["verify"], ["show", "01M8AD5HEDE5QJ7K01JHNNFWKN"]):
        done = cook(*command, cwd=repo)
        assert done.code == 6, (command, done.err)
        assert "cook db migrate" in done.err and done.err.count("\n") == 1
    assert digest(store) == before


def test_cook_db_migrate_migrates_an_old_store_once(repo: Path) -> None:
    old_store(repo)
    done = cook("db", "migrate", cwd=repo)
    assert done.code == 0, done.err
    assert "migrated from" in done.out and "(3 sessions)" in done.out
    again = cook("db", "migrate", cwd=repo)
    assert again.code == 0 and "already at layout 2 (3 sessions)" in again.out
    listed = cook("sessions", "--json", cwd=repo).json()
    assert {s["state"]["status"] for s in listed} == {"created", "paused", "completed"}
    assert cook("verify", cwd=repo).code == 0


def test_db_migrate_where_there_is_no_store_creates_nothing(repo: Path) -> None:
    done = cook("db", "migrate", "--store", repo / "nowhere", cwd=repo)
    assert done.code == 3 and "no store at" in done.err
    assert not (repo / "nowhere").exists()


def test_a_crafted_old_database_never_touches_what_is_outside_the_store(
    repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "home").mkdir(parents=True)
    for name in ("x.jsonl", "x.lock", "x.1.json", "home/a.b.json"):
        (outside / name).write_text("precious\n")
    store = old_store(repo)
    database = store / "sessions.json"
    tables = json.loads(database.read_text())
    template = next(iter(tables["sessions"].values()))
    for key in ("../../../outside/x", "../../../outside/home/*"):
        tables["sessions"][key] = {**template, "id": key, "deleting": True}
    database.write_text(json.dumps(tables))
    before = digest(tmp_path, skip=store)
    for command in (["sessions"], ["verify"], ["repair"], ["sessions"], ["verify"]):
        done = cook(*command, cwd=repo)
        assert "Traceback" not in done.err, done.err
    assert cook("verify", cwd=repo).code == 0
    assert len(cook("sessions", "--json", cwd=repo).json()) == 3
    assert digest(tmp_path, skip=store) == before


def test_a_store_in_a_read_only_directory_can_be_read(repo: Path) -> None:
    workflow = write_workflow(repo.parent / "wf.yaml", ONE_STEP)
    assert cook("run", workflow, cwd=repo).code == 0
    store = repo / ".sessionchart"
    if subprocess.run(["chattr", "-R", "+i", str(store)], check=False).returncode != 0:
        pytest.skip("cannot make the store immutable here (chattr)")
    try:
        listed = cook("sessions", "--json", cwd=repo)
        assert listed.code == 0, listed.err
        (session,) = listed.json()
        assert session["state"]["status"] == "completed"
        assert cook("show", session["id"], cwd=repo).code == 0
        assert cook("events", session["id"], cwd=repo).code == 0
        assert cook("verify", cwd=repo).code == 0
    finally:
        subprocess.run(["chattr", "-R", "-i", str(store)], check=True)


def test_repair_sets_aside_removes_or_keeps_what_it_cannot_fix(repo: Path) -> None:
    workflow = write_workflow(repo.parent / "wf.yaml", ONE_STEP)
    assert cook("run", workflow, cwd=repo).code == 0
    session = only_session(repo)
    log = repo / ".sessionchart" / "sessions" / session["id"] / "events.jsonl"
    damaged = b"not a header\n" + log.read_bytes()
    log.write_bytes(damaged)
    kept = cook("repair", "--keep-damaged", cwd=repo)
    assert kept.code == 1 and "left damaged session" in kept.out
    assert cook("verify", cwd=repo).code == 1
    aside = cook("repair", cwd=repo)
    assert aside.code == 0 and "set damaged session" in aside.out
    assert cook("sessions", cwd=repo).out == "no sessions\n"
    (quarantined,) = (repo / ".sessionchart" / "quarantine").iterdir()
    assert (quarantined / "events.jsonl").read_bytes() == damaged  # every file kept
    assert cook("run", workflow, cwd=repo).code == 0
    second = only_session(repo)
    log = repo / ".sessionchart" / "sessions" / second["id"] / "events.jsonl"
    log.write_bytes(b"not a header\n" + log.read_bytes())
    removed = cook("repair", "--remove", cwd=repo)
    assert removed.code == 0 and "removed damaged session" in removed.out
    assert not log.parent.exists()
    both = cook("repair", "--remove", "--keep-damaged", cwd=repo)
    assert both.code == 2 and both.err.count("\n") == 1


def test_a_damaged_session_is_left_out_and_the_others_run(repo: Path) -> None:
    workflow = write_workflow(repo.parent / "wf.yaml", ONE_STEP)
    assert cook("run", workflow, cwd=repo).code == 0
    broken = only_session(repo)["id"]
    (repo / ".sessionchart" / "sessions" / broken / "events.jsonl").unlink()
    assert cook("run", workflow, cwd=repo).code == 0  # a new session runs beside it
    listed = cook("sessions", "--json", cwd=repo)
    assert listed.code == 0 and broken in listed.err and "damaged" in listed.err
    assert [s["state"]["status"] for s in listed.json()] == ["completed"]
