"""Crash and resume, through the installed ``cook`` command: SIGKILL, SIGINT, SIGTERM, SIGHUP."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .cli import cook, only_session, start, wait_for, write_workflow
from .processes import gone
from .repos import sh

# Iteration 2 waits (when $WAIT is set) after writing, before committing: the place to crash.
WAITING = """\
max_iterations: 3
steps:
  - name: write
    shell: echo "$COOK_ITERATION" >> out.txt
  - name: wait in iteration 2
    shell: 'if [ -n "$WAIT" ] && [ "$COOK_ITERATION" = 2 ]; then echo $$ > "$MARK"; sleep 60; fi'
  - name: commit
    shell: 'git add -A && git commit -q -m "iteration $COOK_ITERATION"'
"""


def completed_iterations(repo: Path, session_id: str) -> list[int]:
    """The number of each iteration_completed, from the log (iteration_started gives it)."""
    numbers = []
    current = 0
    for line in cook("events", session_id, "--json", cwd=repo).json_lines():
        event = line["event"]
        if event["kind"] == "iteration_started":
            current = event["number"]
        elif event["kind"] == "iteration_completed":
            numbers.append(current)
    return numbers


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "SIGTERM", "SIGHUP"])
def test_interrupted_during_an_iteration_then_resumed(repo: Path, tmp_path: Path, how: str) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", WAITING)
    mark = tmp_path / "step.pid"
    runner = start("run", workflow, cwd=repo, WAIT="1", MARK=str(mark))
    wait_for(mark)
    step = int(mark.read_text())
    runner.send_signal(getattr(signal, how))
    out, err = runner.communicate(timeout=60)
    if how == "SIGKILL":
        assert runner.returncode == -signal.SIGKILL
        # the kernel tells the step's guard that the cook died: it stops the step
        assert gone(step)
    session = only_session(repo)
    if how == "SIGKILL":
        # a read changes nothing: the session still says running, and that its process is gone
        assert session["state"] == {"status": "running", "iteration": 2, "phase": "iterating"}
        assert session["interrupted"] is True and session["holder"] is None
    else:
        assert runner.returncode == 130, err
        assert f"resume it with: cook resume {session['id']}" in out
        assert session["state"]["reason"] == f"interrupted by {how}"
        assert gone(step)  # the running step was stopped
    assert session["progress"]["iterations_completed"] == 1

    resumed = cook("resume", session["id"], cwd=repo)
    assert resumed.code == 0, resumed.err
    session = only_session(repo)
    assert session["state"]["status"] == "completed"
    assert completed_iterations(repo, session["id"]) == [1, 2, 3]  # each counted once
    log = sh(repo, "git", "log", "--format=%s").splitlines()
    assert log == ["iteration 3", "iteration 2", "iteration 1", "initial"]
    # the interrupted iteration was rerun from its first step
    assert (repo / "out.txt").read_text().split() == ["1", "2", "2", "3"]


def test_a_completed_session_cannot_be_resumed(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", WAITING)
    first = cook("run", workflow, "-n", "1", cwd=repo)
    assert first.code == 0
    session = only_session(repo)
    again = cook("resume", session["id"], cwd=repo)
    assert again.code == 5
    assert again.err.startswith(f"cook: error: session {session['id']} cannot take 'resumed'")
    assert "Traceback" not in again.err


def test_resuming_a_session_whose_worktree_is_gone(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", WAITING)
    mark = tmp_path / "step.pid"
    runner = start("run", workflow, "--worktree", "gone", cwd=repo, WAIT="1", MARK=str(mark))
    wait_for(mark)
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=60)
    sh(repo, "git", "worktree", "remove", "--force", ".sessionchart/worktrees/gone")
    session = only_session(repo)
    done = cook("resume", session["id"], cwd=repo)
    assert done.code == 4
    assert "the worktree of session" in done.err and "is gone" in done.err
