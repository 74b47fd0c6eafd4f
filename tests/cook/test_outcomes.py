"""What a run says about its outcome, and the exit code it gives each (#13.2, 3, 4, 8, 10)."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import TypeAdapter

from cook.places import worktree_path

from .cli import COOK, cook, env, only_session, start, wait_for, write_workflow
from .repos import sh

COMMITTING = """\
steps:
  - name: write
    shell: echo "$COOK_ITERATION" >> notes.txt
  - name: commit
    shell: 'git add -A && git commit -q -m "iteration $COOK_ITERATION"'
"""


def summary(out: str) -> list[str]:
    """The summary a run ends with (from its ``session ID: status`` line)."""
    lines = out.splitlines()
    first = max(i for i, line in enumerate(lines) if line.startswith("session "))
    return lines[first:]


# -- #13.4: every outcome has its own code ----------------------------------------------------
def test_a_run_whose_steps_all_failed_is_not_ok(repo: Path, tmp_path: Path) -> None:
    """A run in which every step failed ended `completed` with exit 0."""
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: 'false'\n")
    done = cook("run", workflow, "-n", "2", cwd=repo)
    assert done.code == 7, done.out
    session = only_session(repo)
    assert session["state"]["status"] == "completed"  # the record is the record
    lines = summary(done.out)
    assert "0/1 commands ok" in lines[1]
    assert lines[2] == f"  1 step failed: see `cook show {session['id']}`"


def test_tolerated_failures_do_not_count(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        "steps:\n  - shell: 'false'\n    continue_on_error: true\n  - shell: echo x >> x\n",
    )
    done = cook("run", workflow, "-n", "2", cwd=repo)
    assert done.code == 0, done.out
    assert "failed" not in "\n".join(summary(done.out))


def test_a_step_that_timed_out_says_so(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: sleep 30\n    timeout: 1\n")
    done = cook("run", workflow, "-n", "1", cwd=repo)
    assert done.code == 7
    assert "sleep 30: FAILED (timed out after 1 s) in 1." in done.out
    session_id = only_session(repo)["id"]
    assert "  iteration 1: sleep 30 (timed out after 1 s)" in cook("show", session_id, cwd=repo).out
    events = cook("events", session_id, cwd=repo).out
    assert "sleep 30: FAILED (timed out after 1 s)" in events and "exit None" not in events


def test_a_merge_git_refuses_keeps_the_work_and_says_why(repo: Path, tmp_path: Path) -> None:
    """A merge refused for local changes failed the good session and dropped git's reason."""
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        """\
steps:
  - name: work in the session
    shell: 'echo session >> README.md && git commit -qam session'
  - name: a person edits the project meanwhile, without committing
    shell: 'echo local >> "$COOK_PROJECT/README.md"'
""",
    )
    done = cook("run", workflow, "-n", "1", "--worktree", "m", "--auto-merge", cwd=repo)
    assert done.code == 8, done.err
    tree = worktree_path(repo, "m")
    session = only_session(repo)
    assert summary(done.out)[0] == f"session {session['id']}: completed"
    assert summary(done.out)[2:5] == [
        "  merging sessionchart/m into main failed: git refused to merge sessionchart/m: Your "
        "local changes to the following files would be overwritten by merge: README.md; Please "
        "commit your changes or stash them before you merge.",
        f"  worktree: {tree} (branch sessionchart/m)",
        "  both are kept: merge it yourself with `git merge sessionchart/m`",
    ]
    assert session["state"]["status"] == "completed"
    assert tree.is_dir() and sh(repo, "git", "log", "-1", "--format=%s", "sessionchart/m") == (
        "session\n"
    )
    assert (repo / "README.md").read_text() == "hello\nlocal\n"  # the person's edit is intact
    assert (
        "merge     merging sessionchart/m into main failed"
        in cook("show", session["id"], cwd=repo).out
    )
    watched = cook("watch", session["id"], cwd=repo)
    assert watched.code == 8  # watching tells the same outcome


def test_the_json_summary_tells_the_outcome(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    done = cook("run", workflow, "-n", "1", "--worktree", "j", "--auto-merge", "--json", cwd=repo)
    assert done.code == 0, done.err
    last = done.json_lines()[-1]
    assert last["outcome"] == {
        "status": "completed",
        "failed_steps": 0,
        "merge": {"merged": True, "branch": "sessionchart/j", "into": "main", "reason": ""},
        "exit_code": 0,
    }
    assert last["store"] == str(repo / ".sessionchart")
    assert last["branch"] == "sessionchart/j"


# -- #13.2 and #13.10: the summary names what was used, and where the work is -----------------
def test_the_summary_names_the_store_actually_used(repo: Path, tmp_path: Path) -> None:
    """With $SESSIONCHART_STORE, the summary named <project>/.sessionchart, which did not exist."""
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    elsewhere = tmp_path / "store"
    done = cook("run", workflow, "-n", "1", cwd=repo, SESSIONCHART_STORE=str(elsewhere))
    assert done.code == 0, done.err
    assert summary(done.out)[-1] == f"  store: {elsewhere}"
    relative = cook("run", workflow, "-n", "1", "--store", "rel", cwd=repo)
    assert summary(relative.out)[-1] == f"  store: {repo / 'rel'}"


def test_the_summary_of_a_worktree_run_says_where_it_is(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    done = cook("run", workflow, "-n", "1", "--worktree", "here", cwd=repo)
    assert done.code == 0, done.err
    assert f"  worktree: {worktree_path(repo, 'here')} (branch sessionchart/here)" in done.out
    merged = cook("run", workflow, "-n", "1", "--worktree", "back", "--auto-merge", cwd=repo)
    assert "  merged sessionchart/back into main (the branch stays)" in merged.out
    assert not worktree_path(repo, "back").exists()


def test_a_merged_worktree_with_uncommitted_work_is_kept(repo: Path, tmp_path: Path) -> None:
    """The merge removed the worktree with --force, and with it edits never committed."""
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: echo x >> loose.txt\n")
    done = cook("run", workflow, "-n", "1", "--worktree", "loose", "--auto-merge", cwd=repo)
    assert done.code == 0, done.err
    tree = worktree_path(repo, "loose")
    assert f"  the worktree {tree} is kept: it holds changes never committed" in done.out
    assert (tree / "loose.txt").read_text() == "x\n"


# -- #13.3: a closed output does not stop the work ------------------------------------------
def test_a_closed_pipe_does_not_abandon_the_session(repo: Path, tmp_path: Path) -> None:
    """`cook run wf.yaml | head -3`: a BrokenPipeError traceback, exit 0, the session abandoned
    mid-iteration with uncommitted edits."""
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        COMMITTING.replace("notes.txt", "notes.txt; sleep 0.2"),
    )
    done = subprocess.run(
        f"'{COOK}' run '{workflow}' -n 3 | head -3",
        shell=True,
        cwd=repo,
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    session = only_session(repo)
    assert len(done.stdout.splitlines()) == 3
    assert done.stderr == (
        f"cook: the output was closed; session {session['id']} goes on to its end "
        f"(`cook watch {session['id']}` follows it)\n"
    )
    assert session["state"]["status"] == "completed"
    assert session["progress"]["iterations_completed"] == 3
    assert sh(repo, "git", "status", "--porcelain") == ""  # nothing half done


def test_the_exit_code_survives_a_closed_pipe(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: 'sleep 0.3; false'\n")
    done = subprocess.run(
        f"'{COOK}' run '{workflow}' -n 2 | head -1; echo \"code ${{PIPESTATUS[0]}}\" >&2",
        shell=True,
        executable="/bin/bash",
        cwd=repo,
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    assert done.stderr.splitlines()[-1] == "code 7"  # not 0: a step failed


def test_a_closed_stdout_is_not_an_error(repo: Path, tmp_path: Path) -> None:
    """`cook run wf.yaml >&-` crashed (exit 70) and left the session running."""
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    for args in (f"run '{workflow}' -n 1", "sessions", "diagram"):
        done = subprocess.run(
            f"'{COOK}' {args} >&-",
            shell=True,
            cwd=repo,
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr == ""
    assert only_session(repo)["state"]["status"] == "completed"


# -- #13.8: paused time is not working time ---------------------------------------------------
def test_an_iteration_interrupted_and_resumed_counts_working_time(
    repo: Path, tmp_path: Path
) -> None:
    """An iteration interrupted and resumed showed 20.5 s where its siblings took 3.4 s."""
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        """\
steps:
  - shell: echo "$COOK_ITERATION" >> p.txt
  - shell: 'if [ "$COOK_ITERATION" = 2 ] && [ ! -e "$GO_ON" ]; then touch "$MARK"; sleep 60; fi'
""",
    )
    mark, go_on = tmp_path / "mark", tmp_path / "go-on"
    runner = start("run", workflow, "-n", "3", cwd=repo, MARK=str(mark), GO_ON=str(go_on))
    wait_for(mark)
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=60)
    time.sleep(3)  # paused: this is not working time
    go_on.touch()
    session_id = only_session(repo)["id"]
    assert cook("resume", session_id, cwd=repo, MARK=str(mark), GO_ON=str(go_on)).code == 0
    shown = cook("show", session_id, "--json", cwd=repo).json()
    second = shown["progress"]["iterations"][1]
    paused = TypeAdapter(timedelta).validate_python(second["paused"]).total_seconds()
    assert paused >= 3.0
    wall = _seconds(second["completed_at"]) - _seconds(second["started_at"])
    assert wall - paused < 2.5 < wall  # the duration leaves the pause out
    table = cook("show", session_id, cwd=repo).out
    assert "ITERATION  DURATION  PAUSED  FILES" in table


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_json_output_stays_json_and_errors_stay_on_stderr(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: exit 3\n")
    done = cook("run", workflow, "-n", "1", "--json", cwd=repo)
    assert done.code == 7 and done.err == ""
    lines = done.json_lines()  # every line parses
    assert lines[-1]["outcome"]["failed_steps"] == 1
    missing = cook("show", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--json", cwd=repo)
    assert missing.code == 3 and missing.out == ""
    assert missing.err == "cook: error: unknown session id '01ARZ3NDEKTSV4RRFFQ69G5FAV'\n"


def test_every_command_to_a_closed_pipe(repo: Path, tmp_path: Path) -> None:
    """`cook ... | head -c 1`: each command ends quietly, with no traceback."""
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    assert cook("run", workflow, "-n", "2", cwd=repo).code == 0
    session_id = only_session(repo)["id"]
    for args in (
        "--help",
        "--version",
        "run --help",
        "sessions",
        "sessions --json",
        f"show {session_id}",
        f"show {session_id} --json",
        f"events {session_id}",
        f"events {session_id} --json --follow",
        f"watch {session_id}",
        "verify",
        "diagram",
        "diagram --format table",
    ):
        done = subprocess.run(
            f"'{COOK}' {args} | head -c 1 >/dev/null; echo \"code ${{PIPESTATUS[0]}}\" >&2",
            shell=True,
            executable="/bin/bash",
            cwd=repo,
            capture_output=True,
            text=True,
            env=env(),
            timeout=60,
            check=False,
        )
        assert done.stderr == "code 0\n", (args, done.stderr)
