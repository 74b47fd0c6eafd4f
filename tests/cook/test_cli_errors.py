"""Every error a person can cause: one clear line on stderr, the documented exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli import cook, only_session, write_workflow
from .repos import sh

OK_WORKFLOW = "max_iterations: 1\nsteps:\n  - shell: echo hi >> hi.txt\n"
FOUR_ITERATIONS = (
    "max_iterations: 4\nsteps:\n  - shell: echo hi >> hi.txt && git add -A && git commit -qm hi\n"
)


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


@pytest.fixture
def store(repo: Path, tmp_path: Path) -> Path:
    """The project's store, with one completed session in it."""
    workflow = write_workflow(tmp_path / "ok.yaml", OK_WORKFLOW)
    assert cook("run", workflow, cwd=repo).code == 0
    return repo / ".sessionchart"


@pytest.mark.usefixtures("store")
def test_unknown_session_id(repo: Path) -> None:
    for command in ("show", "resume", "events", "watch"):
        done = cook(command, "01ARZ3NDEKTSV4RRFFQ69G5FAV", cwd=repo)
        assert done.code == 3, (command, done.err)
        assert_one_line(done.err, "unknown session id '01ARZ3NDEKTSV4RRFFQ69G5FAV'")


@pytest.mark.parametrize("command", ["show", "resume", "events", "watch"])
def test_malformed_session_id(repo: Path, command: str) -> None:
    done = cook(command, "../../etc/passwd", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "argument ID: invalid session id '../../etc/passwd'")
    # a valid id with a newline after it is not an id (nor a file name to make)
    done = cook(command, "01ARZ3NDEKTSV4RRFFQ69G5FAV\n", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "argument ID: invalid session id '01ARZ3NDEKTSV4RRFFQ69G5FAV\\n'")


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
    assert not (empty / ".sessionchart").exists()  # no store, no session was created


def test_worktree_name_taken(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    assert cook("run", workflow, "--worktree", "dup", cwd=repo).code == 0
    done = cook("run", workflow, "--worktree", "dup", cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, "worktree ")
    assert "already exists: choose another name" in done.err
    assert len(cook("sessions", "--json", cwd=repo).json()) == 1  # no second session


@pytest.mark.parametrize(
    "name", ["../escape", "../../escape", "a b", "-dash", "a..b", "ends.", "x.lock", "n" * 101]
)
def test_invalid_worktree_names(repo: Path, tmp_path: Path, name: str) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    done = cook("run", workflow, f"--worktree={name}", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "argument --worktree: invalid worktree name")
    assert "use letters, digits, '.', '_' and '-', starting with a letter or digit" in done.err
    assert_nothing_made(repo)


def assert_nothing_made(repo: Path) -> None:
    """No store, no worktree, no branch, no change to the project."""
    assert not (repo / ".sessionchart").exists()
    assert sh(repo, "git", "branch", "--list", "sessionchart/*") == ""
    assert sh(repo, "git", "status", "--porcelain") == ""


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


def test_usage_errors_are_one_line(repo: Path) -> None:
    done = cook("run", cwd=repo)
    assert done.code == 2
    assert done.err == (
        "cook: error: the following arguments are required: workflow (see `cook run --help`)\n"
    )
    done = cook("run", "wf.yaml", "-n", "many", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "argument -n: expected a whole number of iterations, not 'many'")
    done = cook(cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "the following arguments are required: COMMAND")
    done = cook("bake", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "argument COMMAND: invalid choice: 'bake'")
    done = cook("db", cwd=repo)
    assert done.code == 2
    assert_one_line(done.err, "the following arguments are required: DB_COMMAND")


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("0", "the number of iterations is from 1 to 1,000,000, not '0'"),
        ("-1", "the number of iterations is from 1 to 1,000,000, not '-1'"),
        (str(10**12), "the number of iterations is from 1 to 1,000,000, not '1000000000000'"),
        ("9" * 5000, "expected a whole number of iterations, not '999999999999999999999"),
        ("2.5", "expected a whole number of iterations, not '2.5'"),
        ("", "expected a whole number of iterations, not ''"),
    ],
)
def test_a_count_must_be_positive(repo: Path, tmp_path: Path, count: str, message: str) -> None:
    """#13.1: -n 0 ran the workflow's own count; -n -1 leaked a pydantic error (exit 4)."""
    workflow = write_workflow(tmp_path / "wf.yaml", FOUR_ITERATIONS)
    done = cook("run", workflow, "-n", count, cwd=repo)
    assert done.code == 2, done.out
    assert_one_line(done.err, f"argument -n: {message}")
    assert_nothing_made(repo)


def test_options_that_need_one_another_or_do_not_exist(repo: Path, tmp_path: Path) -> None:
    """#13.5: --worktree "" ran in direct mode; --auto-merge alone, demo --path and
    diagram --store/--path were accepted and did nothing."""
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    cases = {
        ("run", str(workflow), "--worktree", ""): "argument --worktree: the worktree name is empty",
        ("run", str(workflow), "--auto-merge"): "--auto-merge merges a worktree's branch back: "
        "it needs --worktree NAME",
        ("demo", "--path", str(repo)): "unrecognized arguments: --path",
        ("diagram", "--store", str(tmp_path)): "unrecognized arguments: --store",
        ("diagram", "--path", str(repo)): "unrecognized arguments: --path",
        ("run", ""): "argument workflow: the workflow file name is empty",
        ("sessions", "--store", ""): "argument --store: the store is empty",
        ("sessions", "--path", ""): "argument --path: the path is empty",
        ("run", str(workflow), "--focus", "x" * 10_001): "argument --focus: the focus is 10,001 "
        "characters long; at most 10,000",
    }
    for args, message in cases.items():
        done = cook(*args, cwd=repo)
        assert done.code == 2, (args, done.err)
        assert_one_line(done.err, message)
        assert_nothing_made(repo)


def test_a_diagram_that_cannot_be_written(repo: Path, tmp_path: Path) -> None:
    """#13.5: `cook diagram -o /nonexistent/x.dot` printed a traceback (exit 70)."""
    done = cook("diagram", "-o", "/nonexistent/x.dot", cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, "cannot write /nonexistent/x.dot: No such file or directory")
    done = cook("diagram", "-o", tmp_path, cwd=repo)
    assert done.code == 4
    assert_one_line(done.err, f"cannot write {tmp_path}: it is a directory: give a file name")
    target = tmp_path / "chart.dot"
    assert cook("diagram", "-o", target, cwd=repo).code == 0
    assert target.read_text().startswith("// generated from")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.dot", "project"]  # no scratch
    assert cook("diagram", "-o", "-", cwd=repo).out.startswith("// generated from")


def test_debug_shows_the_traceback(repo: Path, store: Path) -> None:
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
    # #13.7: it says what to do, with the store as it was given
    assert done.err.rstrip().endswith(
        f"; `cook verify --store {store}` shows the damage, "
        f"`cook repair --store {store}` fixes what is safe to fix"
    )
    assert done.err.count("\n") == 1


def test_a_damaged_log_points_at_verify_and_repair(repo: Path, store: Path) -> None:
    """#13.7: a corrupt store says so, and what to do about it (#10.5: the others still list)."""
    (log,) = (store / "sessions").glob("*/events.jsonl")
    document = log.with_name("session.json")
    document.write_text("{ not json")
    done = cook("sessions", cwd=repo)
    assert done.code == 0, done.err
    assert done.err.startswith("cook: warning: session ")
    assert "is damaged (invalid_document) and left out" in done.err
    assert done.err.rstrip().endswith(
        "`cook verify` shows the damage, `cook repair` fixes it or sets it aside"
    )
    assert "Traceback" not in done.err and done.err.count("\n") == 1
    shown = cook("show", log.parent.name, cwd=repo)
    assert shown.code == 6 and shown.err.rstrip().endswith(
        "; `cook verify` shows the damage, `cook repair` fixes what is safe to fix"
    )


def test_names_too_long_newlines_and_other_encodings(repo: Path, tmp_path: Path) -> None:
    """A name over the system's limit was an internal error (exit 70, a traceback); a newline
    in a store's name cut its message short; a project whose name is not UTF-8 said only
    "'utf-8' codec can't decode byte 0xff"."""
    long = "a" * 5000
    workflow = write_workflow(tmp_path / "wf.yaml", OK_WORKFLOW)
    for args in (
        ["sessions", "--store", long],
        ["sessions", "--path", long],
        ["verify", "--store", long],
        ["run", str(workflow), "--path", long],
        ["diagram", "-o", str(tmp_path / long)],
    ):
        done = cook(*args, cwd=repo)
        assert done.code == 4, (args, done.err)
        assert done.err.startswith("cook: error: ") and done.err.endswith("File name too long\n")
        assert done.err.count("\n") == 1
    done = cook("sessions", "--store", tmp_path / "two\nlines", cwd=repo)
    assert done.code == 3
    assert done.err.startswith(f"cook: error: no store at {tmp_path}/two\\nlines (nothing")
    assert_nothing_made(repo)
    odd = tmp_path / "caf\udcff"  # the byte 0xff: not UTF-8
    odd.mkdir()
    sh(odd, "git", "init", "-q")
    done = cook("run", workflow, cwd=odd)
    assert done.code == 4
    assert done.err == (
        f"cook: error: git rev-parse in {tmp_path}/caf\\udcff names something that is not "
        "UTF-8: cook needs UTF-8 file and directory names there\n"
    )


def test_a_file_name_that_is_not_utf8_does_not_stop_a_run(repo: Path, tmp_path: Path) -> None:
    """A step that made such a file crashed the run at the end of the iteration (left running)."""
    workflow = write_workflow(
        tmp_path / "wf.yaml", "steps:\n  - shell: touch \"$(printf '\\377').txt\"\n"
    )
    done = cook("run", workflow, "-n", "1", cwd=repo)
    assert done.code == 0, done.err
    session = only_session(repo)
    assert session["state"]["status"] == "completed"
    assert session["progress"]["files_changed"] == ["\ufffd.txt"]
