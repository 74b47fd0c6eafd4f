"""#13.6: a command that reads never creates a store — it says there is none (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli import cook
from .repos import sh

SESSION = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
READERS = [
    ["sessions"],
    ["sessions", "--json"],
    ["show", SESSION],
    ["events", SESSION],
    ["events", SESSION, "--follow"],
    ["watch", SESSION],
    ["verify"],
    ["verify", "--json"],
    ["repair"],  # writes, but only to a store that is there
    ["resume", SESSION],
]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".git" not in p.parts)


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_no_store_by_option(repo: Path, tmp_path: Path, command: list[str]) -> None:
    """`cook sessions --store /typo/deep/store` made the directories and said "no sessions"."""
    typo = tmp_path / "typo" / "deep" / "store"
    done = cook(*command, "--store", typo, cwd=repo, timeout=30)
    assert done.code == 3, done.err
    assert done.out == ""
    assert done.err == (
        f"cook: error: no store at {typo} (nothing has run here yet): give --store (or set "
        "SESSIONCHART_STORE), or start a session with `cook run`\n"
    )
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_no_store_in_the_project(repo: Path, command: list[str]) -> None:
    """`cook sessions` in any git repository left an untracked .sessionchart/ behind."""
    before = tree(repo)
    done = cook(*command, cwd=repo, timeout=30)
    assert done.code == 3, done.err
    assert f"no store at {repo / '.sessionchart'}" in done.err
    assert tree(repo) == before
    assert sh(repo, "git", "status", "--porcelain", "--ignored") == ""


def test_no_store_by_environment_nor_in_an_existing_directory(repo: Path, tmp_path: Path) -> None:
    """A directory that is there but holds no store is not made one by reading it."""
    plain = tmp_path / "plain"
    plain.mkdir()
    done = cook("sessions", cwd=repo, SESSIONCHART_STORE=str(plain))
    assert done.code == 3
    assert f"no store at {plain} " in done.err
    assert list(plain.iterdir()) == []


def test_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    done = cook("sessions", "--path", tmp_path / "missing", cwd=tmp_path)
    assert done.code == 4
    assert done.err == (
        f"cook: error: {tmp_path / 'missing'} is not a directory: give --path an existing project\n"
    )
