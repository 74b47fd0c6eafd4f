"""End to end, through the installed ``cook`` command, in real git repositories."""

from __future__ import annotations

from pathlib import Path

from cook.places import worktree_path

from .cli import cook, only_session, start, write_workflow
from .repos import make_repo, sh

# Each iteration appends a line to a file named by $NOTE (default notes.txt) and commits it.
COMMITTING = """\
name: notes
max_iterations: 3
steps:
  - name: write
    shell: echo "iteration $COOK_ITERATION focus=$COOK_FOCUS" >> ${NOTE:-notes.txt}
  - name: commit
    shell: 'git add -A && git commit -q -m "iteration $COOK_ITERATION"'
"""


def commits(repo: Path, ref: str = "HEAD") -> list[str]:
    return sh(repo, "git", "log", "--format=%s", ref).splitlines()


def events(repo: Path, session_id: str) -> list[dict]:  # type: ignore[type-arg]
    return cook("events", session_id, "--json", cwd=repo).json_lines()


def test_three_iterations_in_the_project_directory(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    done = cook("run", workflow, "--focus", "speed", cwd=repo)
    assert done.code == 0, done.err
    assert "completed" in done.out
    assert commits(repo) == ["iteration 3", "iteration 2", "iteration 1", "initial"]
    assert (repo / "notes.txt").read_text().splitlines() == [
        f"iteration {n} focus=speed" for n in (1, 2, 3)
    ]
    session = only_session(repo)
    assert session["state"]["status"] == "completed"
    assert session["progress"]["iterations_completed"] == 3
    kinds = [e["event"]["kind"] for e in events(repo, session["id"])]
    assert kinds.count("iteration_started") == kinds.count("iteration_completed") == 3
    assert kinds.count("command_executed") == 6
    assert kinds.count("analysis_completed") == 3  # collect_metrics is on by default
    completed = [
        e["event"]
        for e in events(repo, session["id"])
        if e["event"]["kind"] == "iteration_completed"
    ]
    assert [c["changes"]["files_modified"] for c in completed] == [["notes.txt"]] * 3
    assert [len(c["changes"]["git_commits"]) for c in completed] == [1, 1, 1]
    # the store is inside the project but never counts as a change
    assert (repo / ".sessionchart").is_dir()
    assert sh(repo, "git", "status", "--porcelain") == ""


def test_three_iterations_in_a_worktree(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    done = cook("run", workflow, "--worktree", "w1", "--json", cwd=repo)
    assert done.code == 0, done.err
    assert done.json_lines()[-1]["summary"]["state"]["status"] == "completed"
    tree = worktree_path(repo, "w1")
    assert (tree / "notes.txt").read_text().count("iteration") == 3
    assert not (repo / "notes.txt").exists()  # the project directory is untouched
    assert commits(repo, "sessionchart/w1")[:3] == ["iteration 3", "iteration 2", "iteration 1"]
    assert commits(repo, "main") == ["initial"]
    session = only_session(repo)
    assert session["config"]["execution_mode"] == {"mode": "worktree", "name": "w1"}


def test_two_worktree_sessions_at_once(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    first = start("run", workflow, "--worktree", "a", "-n", "3", cwd=repo, NOTE="a.txt")
    second = start("run", workflow, "--worktree", "b", "-n", "3", cwd=repo, NOTE="b.txt")
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    tree_a, tree_b = worktree_path(repo, "a"), worktree_path(repo, "b")
    assert (tree_a / "a.txt").exists() and not (tree_a / "b.txt").exists()
    assert (tree_b / "b.txt").exists() and not (tree_b / "a.txt").exists()
    listed = cook("sessions", "--json", cwd=repo).json()
    assert sorted(s["state"]["status"] for s in listed) == ["completed", "completed"]
    for session in listed:
        changed = {
            f
            for e in events(repo, session["id"])
            if e["event"]["kind"] == "iteration_completed"
            for f in e["event"]["changes"]["files_modified"]
        }
        assert len(changed) == 1  # each saw only its own file


FLAKY = """\
steps:
  - name: sometimes fails
    shell: test "$COOK_ITERATION" != 1
  - name: write
    shell: echo "$COOK_ITERATION" >> out.txt
"""


def test_fail_fast_fails_on_the_first_failing_step(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", FLAKY)
    done = cook("run", workflow, "-n", "3", "--fail-fast", cwd=repo)
    assert done.code == 1
    assert "step 'sometimes fails' failed (exit code 1) in iteration 1" in done.out
    session = only_session(repo)
    assert session["state"]["status"] == "failed"
    assert not (repo / "out.txt").exists()


def test_without_fail_fast_failures_are_recorded_and_the_run_goes_on(
    repo: Path, tmp_path: Path
) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", FLAKY)
    done = cook("run", workflow, "-n", "3", cwd=repo)
    assert done.code == 7, done.err  # completed, but a step failed
    assert "  1 step failed: see `cook show " in done.out
    session = only_session(repo)
    assert session["state"]["status"] == "completed"
    assert session["progress"]["iterations_completed"] == 3
    results = [c["success"] for c in session["progress"]["commands_executed"]]
    assert results == [False, True, True, True, True, True]
    assert (repo / "out.txt").read_text().split() == ["1", "2", "3"]


def test_continue_on_error_is_tolerated_even_with_fail_fast(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        FLAKY.replace("    shell: test", "    continue_on_error: true\n    shell: test"),
    )
    assert cook("run", workflow, "-n", "2", "--fail-fast", cwd=repo).code == 0


def test_the_loop_stops_early_when_nothing_changes(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "- shell: 'true'\n")
    done = cook("run", workflow, "-n", "5", cwd=repo)
    assert done.code == 0, done.err
    session = only_session(repo)
    assert session["state"]["status"] == "completed"
    assert session["progress"]["iterations_completed"] == 1


def test_auto_merge_brings_the_work_back(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    done = cook("run", workflow, "--worktree", "m", "--auto-merge", cwd=repo)
    assert done.code == 0, done.err
    assert commits(repo)[0].startswith("Merge session")
    assert (repo / "notes.txt").read_text().count("iteration") == 3
    assert not worktree_path(repo, "m").exists()  # removed once merged


def test_a_merge_conflict_keeps_the_worktree_and_the_work(repo: Path, tmp_path: Path) -> None:
    # the step edits README.md on main (meanwhile, as a person would) and in the worktree
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        """\
steps:
  - name: edit main meanwhile
    shell: 'echo main > "$COOK_PROJECT/README.md" && git -C "$COOK_PROJECT" commit -qam "main edit"'
  - name: edit in the session
    shell: 'echo session > README.md && git commit -qam session'
""",
    )
    done = cook("run", workflow, "-n", "1", "--worktree", "c", "--auto-merge", cwd=repo)
    out = done.out
    assert done.code == 8, done.err  # the session's work is done; its merge is not
    assert "session " in out and ": completed" in out
    assert "merging sessionchart/c into main failed: merging sessionchart/c conflicts in " in out
    assert f"worktree: {worktree_path(repo, 'c')} (branch sessionchart/c)" in out
    assert worktree_path(repo, "c").is_dir()
    assert commits(repo)[0] == "main edit"
    assert commits(repo, "sessionchart/c")[0] == "session"
    assert sh(repo, "git", "status", "--porcelain") == ""
    session = only_session(repo)
    assert session["state"]["status"] == "completed"


def test_demo_runs_in_a_scratch_repository(tmp_path: Path) -> None:
    done = cook("demo", "--keep", cwd=tmp_path)
    assert done.code == 0, done.err
    assert "3/3 iterations" in done.out
    store = next(line.split("store: ")[1] for line in done.out.splitlines() if "store: " in line)
    assert Path(store).is_dir()
    assert "Merge session" in done.out
    assert "merged sessionchart/demo into main (the branch stays)" in done.out


def test_demo_leaves_nothing_behind(tmp_path: Path) -> None:
    """#13.10: every `cook demo` left a /tmp/cook-demo-* directory behind; nor does it
    write into the store $SESSIONCHART_STORE names."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    elsewhere = tmp_path / "real-store"
    done = cook("demo", cwd=tmp_path, TMPDIR=str(scratch), SESSIONCHART_STORE=str(elsewhere))
    assert done.code == 0, done.err
    assert "3/3 iterations" in done.out
    assert "removed the scratch directory" in done.out
    assert list(scratch.iterdir()) == []
    assert not elsewhere.exists()


def test_a_run_needs_a_number_of_iterations(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "- shell: 'true'\n")
    done = cook("run", workflow, cwd=repo)
    assert done.code == 4
    assert done.err == (
        "cook: error: how many iterations? give -n N or set max_iterations in the workflow\n"
    )


def test_the_store_can_live_elsewhere(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", COMMITTING)
    elsewhere = tmp_path / "store"
    assert cook("run", workflow, "-n", "1", "--store", elsewhere, cwd=repo).code == 0
    assert not (repo / ".sessionchart" / "sessions.json").exists()
    assert cook("sessions", cwd=repo).code == 3  # no store here
    listed = cook("sessions", "--json", cwd=repo, SESSIONCHART_STORE=str(elsewhere)).json()
    assert len(listed) == 1
    other = make_repo(tmp_path / "other")
    assert len(cook("sessions", "--json", "--store", elsewhere, cwd=other).json()) == 1
