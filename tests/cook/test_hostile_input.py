"""#10.7 and #10.8: a hostile workflow file is refused at once, and no output ever shows a
store's password — through the installed ``cook``, each bounded by a timeout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .cli import cook, write_workflow

BOUND = 20.0
"""The time any of these may take before the test fails (they take milliseconds)."""


def assert_refused(done_err: str, starts: str) -> None:
    assert done_err.startswith(f"cook: error: {starts}"), done_err
    assert done_err.count("\n") == 1 and "Traceback" not in done_err, done_err


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 "lol"']
    for n in range(1, levels + 1):
        refs = ", ".join([f"*a{n - 1}"] * 10)
        lines.append(f"a{n}: &a{n} [{refs}]")
    return "\n".join([*lines, "steps:", "  - shell: echo hi", f"env: *a{levels}", ""])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("laughs.yaml", billion_laughs(), "laughs.yaml:"),
        ("deep.yaml", "steps: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml:1: over budget"),
        (
            "deep1000.yaml",
            "steps: " + "[" * 1000 + "]" * 1000 + "\n",
            "deep1000.yaml:1: over budget",
        ),
        (
            "deepmap.yaml",
            "steps:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)) + "\n",
            "deepmap.yaml:",
        ),
        (
            "aliases.yaml",
            "x: &x 1\nsteps:\n  - shell: echo\n" + "".join(f"y{i}: *x\n" for i in range(101)),
            "aliases.yaml:",
        ),
        ("self.yaml", "steps: &s [*s]\n", "self.yaml:1: over budget: an alias refers to a value"),
    ],
)
def test_yaml_bombs_are_refused_at_once(
    repo: Path, tmp_path: Path, name: str, text: str, message: str
) -> None:
    """A billion laughs ran to MemoryError after 25 s; 1,000 or 100,000 deep: RecursionError."""
    workflow = write_workflow(tmp_path / name, text)
    done = cook("run", workflow, "-n", "1", cwd=repo, timeout=BOUND)
    assert done.code == 4, done.err
    assert_refused(done.err, f"{workflow.parent}/{message}")
    assert "over budget" in done.err
    assert not (repo / ".sessionchart").exists()


def test_the_budgets_are_named(repo: Path, tmp_path: Path) -> None:
    laughs = write_workflow(tmp_path / "laughs.yaml", billion_laughs())
    err = cook("run", laughs, cwd=repo, timeout=BOUND).err
    assert "over budget: more than 100,000 values once its aliases are expanded" in err
    aliases = "x: &x 1\nsteps:\n  - shell: echo\n" + "".join(f"y{i}: *x\n" for i in range(101))
    err = cook("run", write_workflow(tmp_path / "a.yaml", aliases), cwd=repo, timeout=BOUND).err
    assert err == f"cook: error: {tmp_path}/a.yaml:104: over budget: more than 100 aliases\n"
    deep = "steps: " + "[" * 51 + "]" * 51 + "\n"
    err = cook("run", write_workflow(tmp_path / "d.yaml", deep), cwd=repo, timeout=BOUND).err
    assert err == f"cook: error: {tmp_path}/d.yaml:1: over budget: nested more than 50 deep\n"


def test_anchors_within_the_budgets_still_work(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path / "anchors.yaml",
        """\
base: &base {GREETING: hello}
steps:
  - shell: echo "$GREETING" >> out.txt
    env: *base
  - shell: echo "$GREETING again" >> out.txt
    env:
      <<: *base
""",
    )
    done = cook("run", workflow, "-n", "1", cwd=repo, timeout=60)
    assert done.code == 4  # `base` is not a workflow field: validated after composing
    assert_refused(done.err, f"{workflow}:1: base: Extra inputs are not permitted")


def test_a_huge_file_is_not_read(repo: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("steps:\n  - shell: echo\n# " + "x" * (2 * 1024 * 1024) + "\n")
    done = cook("run", huge, cwd=repo, timeout=BOUND)
    assert done.code == 4
    assert_refused(done.err, f"{huge}: too large for a workflow (over 1024 KiB)")


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory", "non-utf8", "unreadable"])
def test_files_that_are_not_workflows(repo: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / kind
    expected = "not a regular file (a device, pipe or socket): give a workflow file"
    if kind == "/dev/zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)  # nobody writes it: reading would hang forever
    elif kind == "directory":
        path.mkdir()
        expected = "is a directory: give a workflow file"
    elif kind == "non-utf8":
        path.write_bytes(b"steps:\n  - shell: echo caf\xe9\n")
        expected = "2: not UTF-8 text (byte 0xe9): save the workflow as UTF-8"
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.write_text("steps: []\n")
        path.chmod(0)
        expected = "cannot read: Permission denied"
    done = cook("run", path, cwd=repo, timeout=BOUND)
    assert done.code == 4, done.err
    separator = ":" if kind == "non-utf8" else ": "
    assert_refused(done.err, f"{path}{separator}{expected}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('steps:\n  - shell: "echo \\0"\n', "steps[0].shell: Value error, a NUL character"),
        ('steps:\n  - shell: echo\n    env: {A: "x\\0y"}\n', "steps[0].env.A: Value error, a NUL"),
        ("steps:\n  - shell: echo\n    env: {A=B: x}\n", "invalid environment variable name 'A=B'"),
        ("steps:\n  - shell: echo\n    env: {'': x}\n", "invalid environment variable name ''"),
        ("env: {1A: x}\nsteps:\n  - shell: echo\n", "invalid environment variable name '1A'"),
        ("steps:\n  - shell: sleep 1\n    timeout: .inf\n", "steps[0].timeout: Input should be"),
        ("steps:\n  - shell: sleep 1\n    timeout: .nan\n", "steps[0].timeout: Input should be"),
        ("max_iterations: 1000001\nsteps:\n  - shell: x\n", "max_iterations: Input should be less"),
    ],
)
def test_what_no_process_could_be_given_is_refused_before_anything_runs(
    repo: Path, tmp_path: Path, text: str, message: str
) -> None:
    """A NUL or `A=B` in an environment started the session, then crashed it (left running)."""
    workflow = write_workflow(tmp_path / "wf.yaml", text)
    done = cook("run", workflow, "-n", "1", cwd=repo, timeout=BOUND)
    assert done.code == 4, done.err
    assert message in done.err and done.err.count("\n") == 1, done.err
    assert not (repo / ".sessionchart").exists()


# -- #10.8: a password never shows -----------------------------------------------------------
PASSWORDS = ["S3cretPW", "S3c/retPW", "S3c@retPW", "S3c:retPW", "S3c%retPW", "S3c?retPW"]


def pieces(password: str) -> list[str]:
    """Every part of the password long enough to recognise (here: each side of its symbol)."""
    return [part for part in ("S3c", "retPW", "S3cretPW") if part in password.replace("%", "")]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:{pw}@[::1/db",  # libpq quoted a URL it cannot parse, whole
        "postgres://alice:{pw}@127.0.0.1:1/db?schema=s&connect_timeout=2",  # nobody listens
    ],
)
def test_a_store_password_is_never_shown(tmp_path: Path, url: str, password: str) -> None:
    store = url.format(pw=password)
    for args in (["sessions"], ["--debug", "sessions"], ["--debug", "db", "migrate"]):
        done = cook(*args, "--store", store, cwd=tmp_path, timeout=BOUND)
        assert done.code == 6, done.err
        assert done.err.splitlines()[-1].startswith("cook: error: ")
        for piece in pieces(password):
            assert piece not in done.out and piece not in done.err, (store, done.err)
        if "--debug" in args:
            assert "Traceback" in done.err  # the traceback, its chained errors: no password
        else:
            assert done.err.count("\n") == 1


def test_an_unparsable_url_says_how_to_write_one(tmp_path: Path) -> None:
    done = cook("sessions", "--store", "postgresql://alice:S3c/retPW@localhost/db", cwd=tmp_path)
    assert done.err == (
        "cook: error: invalid PostgreSQL location (not shown: it may hold a password): "
        "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with / @ : % ? # in the "
        "user or password percent-encoded (%2F %40 %3A %25 %3F %23)\n"
    )


def test_a_run_against_a_bad_url_creates_nothing(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: echo x >> x\n")
    done = cook(
        "run",
        workflow,
        "-n",
        "1",
        "--worktree",
        "w",
        cwd=repo,
        timeout=BOUND,
        SESSIONCHART_STORE="postgresql://alice:S3c@retPW@127.0.0.1:1/db",
    )
    assert done.code == 6
    assert "retPW" not in done.err and "S3c" not in done.err
    assert not (repo / ".sessionchart" / "worktrees" / "w").exists()  # opened before any worktree
