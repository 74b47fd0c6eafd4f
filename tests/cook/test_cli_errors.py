"""Every error a person can cause: one clear line on stderr, the documented exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli import cook, only_session, write_workflow
from .conftest import sh

OK_WORKFLOW = "max_iterations: 1\nsteps:\n  - shell: echo hi >> hi.txt\n"


def assert_one_line(err: str, starts: str) -> None:
    assert err.startswith(f"cook: error: {starts}"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_missing_workflow_file(repo: Path) -> None:
    done = cook("run", "nope.yaml", cwd=repo)
    assert done.code == 3
    assert_one_line(done.err, "nope.yaml: no such workflow file")


def test_bad_yaml(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "bad.yaml", "steps:\n  - shell: [oops\n")
    done = cook("run", workflow, cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, f"{workflow}:3: not valid YAML")


def test_invalid_workflow(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "bad.yaml", "steps:\n  - shell: x\n    timeout: soon\n")
    done = cook("run", workflow, cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, f"{workflow}:3: steps[0].timeout: Input should be a valid number")


def test_unknown_session_id(repo: Path) -> None:
    for command in ("show", "resume", "events", "watch"):
        done = cook(command, "01ARZ3NDEKTSV4RRFFQ69G5FAV", cwd=repo)
        assert done.code == 3, (command, done.err)
        assert_one_line(done.err, "unknown session id '01ARZ3NDEKTSV4RRFFQ69G5FAV'")


@pytest.mark.parametrize("command", ["show", "resume", "events", "watch"])
def test_malformed_session_id(repo: Path, command: str) -> None:
    done = cook(command, "../../etc/passwd", cwd=repo)
    assert done.code == 2
    assert "argument ID: invalid session id '../../etc/passwd'" in done.err


def test_not_a_git_repository(tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    plain = tmp_path / "plain"
    plain.mkdir()
    done = cook("run", workflow, cwd=plain)
    assert done.code == 4
    assert_one_line(done.err, f"{plain} is not a git repository")
    missing = cook("run", workflow, "--path", tmp_path / "missing", cwd=plain)
    assert missing.code == 4
    assert_one_line(missing.err, f"{tmp_path / 'missing'} is not a directory")


def test_a_repository_without_commits(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    sh(empty, "git", "init", "-q")
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    done = cook("run", workflow, cwd=empty)
    assert done.code == 4
    assert_one_line(done.err, f"{empty} has no commit yet: commit something first")
    assert cook("sessions", "--json", cwd=empty).json() == []  # no session was created


def test_worktree_name_taken(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    assert cook("run", workflow, "--worktree", "dup", cwd=repo).code == 0
    done = cook("run", workflow, "--worktree", "dup", cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, "worktree ")
    assert "already exists: choose another name" in done.err
    assert len(cook("sessions", "--json", cwd=repo).json()) == 1  # no second session


@pytest.mark.parametrize("name", ["../escape", "a b", "-dash"])
def test_invalid_worktree_names(repo: Path, tmp_path: Path, name: str) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    done = cook("run", workflow, f"--worktree={name}", cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, "1 validation error for Worktree")


def test_resuming_a_completed_session(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    assert cook("run", workflow, cwd=repo).code == 0
    session = only_session(repo)
    done = cook("resume", session["id"], cwd=repo)
    assert done.code == 5
    assert_one_line(done.err, f"session {session['id']} cannot take 'resumed' while completed")
    after = only_session(repo)
    assert after["state"] == session["state"]  # nothing changed
    assert cook("events", session["id"], cwd=repo).out.count("\n") == 6  # no 7th event


def test_usage_errors_are_argparses(repo: Path) -> None:
    done = cook("run", cwd=repo)
    assert done.code == 2
    assert "the following arguments are required: workflow" in done.err
    done = cook("run", "wf.yaml", "-n", "many", cwd=repo)
    assert done.code == 2


def test_debug_shows_the_traceback(repo: Path) -> None:
    done = cook("--debug", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV", cwd=repo)
    assert done.code == 3
    assert "Traceback" in done.err
    assert done.err.rstrip().endswith(
        "cook: error: unknown session id '01ARZ3NDEKTSV4RRFFQ69G5FAV'"
    )


def test_an_unreadable_store(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "sessionchart.json").write_text("{ not json", encoding="utf-8")
    done = cook("sessions", "--store", store, cwd=repo)
    assert done.code == 6
    assert "cook: error:" in done.err and "Traceback" not in done.err
