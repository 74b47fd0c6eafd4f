"""The git layer, against real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from cook import git
from statecharts import IterationChanges

from .repos import make_repo, sh


def test_repo_root_and_head(repo: Path, tmp_path: Path) -> None:
    (repo / "sub").mkdir()
    assert git.repo_root(repo / "sub") == repo
    assert len(git.head(repo)) == 40
    with pytest.raises(git.NotAGitRepository, match="not a git repository"):
        git.repo_root(tmp_path)
    with pytest.raises(git.NotAGitRepository, match="not a directory"):
        git.repo_root(tmp_path / "missing")


def test_a_repository_without_commits(tmp_path: Path) -> None:
    sh(tmp_path, "git", "init", "-q")
    with pytest.raises(git.GitError, match="no commit yet"):
        git.head(tmp_path)


def test_changes_cover_committed_uncommitted_and_new_files(repo: Path) -> None:
    (repo / "lying-around.txt").write_text("from before\n", encoding="utf-8")
    base, start = git.head(repo), git.snapshot(repo)
    assert git.changes_between(repo, start, base) == IterationChanges()
    (repo / "README.md").write_text("hello\nworld\n", encoding="utf-8")
    (repo / "new.txt").write_text("a\nb\nc", encoding="utf-8")
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    (repo / "committed.py").write_text("x = 1\n", encoding="utf-8")
    sh(repo, "git", "add", "committed.py")
    sh(repo, "git", "commit", "-q", "-m", "add committed.py")
    changes = git.changes_between(repo, start, base, commands_run=("make",))
    assert set(changes.files_modified) == {
        Path("README.md"),
        Path("new.txt"),
        Path("blob.bin"),
        Path("committed.py"),
    }
    assert changes.lines_added == 1 + 3 + 0 + 1
    assert changes.lines_removed == 0
    assert changes.commands_run == ("make",)
    (commit,) = changes.git_commits
    assert commit.message == "add committed.py"
    assert commit.author == "Tester <tester@example.invalid>"
    assert commit.sha == git.head(repo)
    assert commit.timestamp is not None


def test_a_snapshot_leaves_the_index_alone(repo: Path) -> None:
    (repo / "staged.txt").write_text("s\n", encoding="utf-8")
    sh(repo, "git", "add", "staged.txt")
    (repo / "untracked.txt").write_text("u\n", encoding="utf-8")
    before = sh(repo, "git", "status", "--porcelain")
    tree = git.snapshot(repo)
    assert sh(repo, "git", "status", "--porcelain") == before
    assert sorted(sh(repo, "git", "ls-tree", "--name-only", tree).split()) == [
        "README.md",
        "staged.txt",
        "untracked.txt",
    ]
    assert not list((repo / ".git").glob("sessionchart-*.index"))


def test_removed_lines_and_ignored_files(repo: Path) -> None:
    base, start = git.head(repo), git.snapshot(repo)
    (repo / "README.md").write_text("", encoding="utf-8")
    git.exclude(repo, "ignored/")
    git.exclude(repo, "ignored/")  # once is enough
    (repo / "ignored").mkdir()
    (repo / "ignored" / "x").write_text("x\n", encoding="utf-8")
    changes = git.changes_between(repo, start, base)
    assert changes.files_modified == (Path("README.md"),)
    assert changes.lines_removed == 1
    assert (repo / ".git" / "info" / "exclude").read_text().count("ignored/") == 1


def test_refs_keep_a_base_without_touching_history(repo: Path) -> None:
    ref, tree_ref = git.base_refs("01ABC")
    assert git.read_ref(repo, ref) is None
    git.set_ref(repo, ref, git.head(repo))
    git.set_ref(repo, tree_ref, git.snapshot(repo))
    assert git.read_ref(repo, ref) == git.head(repo)
    assert git.read_ref(repo, tree_ref) == git.snapshot(repo)
    assert sh(repo, "git", "branch", "--list").split() == ["*", "main"]
    git.delete_ref(repo, ref)
    git.delete_ref(repo, ref)
    assert git.read_ref(repo, ref) is None


def test_worktrees_and_merge(repo: Path) -> None:
    tree = repo / ".sessionchart" / "worktrees" / "w1"
    git.add_worktree(repo, tree, "sessionchart/w1")
    assert (tree / "README.md").exists()
    with pytest.raises(git.WorktreeTaken, match="already exists"):
        git.add_worktree(repo, tree, "sessionchart/w1-other")
    with pytest.raises(git.WorktreeTaken, match="branch sessionchart/w1 already exists"):
        git.add_worktree(repo, repo.parent / "elsewhere", "sessionchart/w1")
    (tree / "feature.txt").write_text("f\n", encoding="utf-8")
    sh(tree, "git", "add", "feature.txt")
    sh(tree, "git", "commit", "-q", "-m", "feature")
    merged = git.merge(repo, "sessionchart/w1", "merge w1")
    assert merged == git.head(repo)
    assert (repo / "feature.txt").exists()
    git.remove_worktree(repo, tree)
    assert not tree.exists()


def test_a_conflicting_merge_is_aborted(repo: Path) -> None:
    tree = repo.parent / "wt"
    git.add_worktree(repo, tree, "side")
    (tree / "README.md").write_text("theirs\n", encoding="utf-8")
    sh(tree, "git", "commit", "-qam", "theirs")
    (repo / "README.md").write_text("ours\n", encoding="utf-8")
    sh(repo, "git", "commit", "-qam", "ours")
    before = git.head(repo)
    with pytest.raises(git.MergeConflict, match=r"conflicts in README\.md; the merge was aborted"):
        git.merge(repo, "side", "merge side")
    assert git.head(repo) == before
    assert git.read_ref(repo, "MERGE_HEAD") is None
    assert (repo / "README.md").read_text() == "ours\n"


def test_a_merge_that_cannot_start(repo: Path) -> None:
    tree = repo.parent / "wt"
    git.add_worktree(repo, tree, "side")
    (tree / "README.md").write_text("theirs\n", encoding="utf-8")
    sh(tree, "git", "commit", "-qam", "theirs")
    (repo / "README.md").write_text("local edit\n", encoding="utf-8")  # would be overwritten
    with pytest.raises(git.GitError) as raised:
        git.merge(repo, "side", "merge side")
    assert str(raised.value) == (  # git's own reason, on one line
        "git refused to merge side: Your local changes to the following files would be "
        "overwritten by merge: README.md; Please commit your changes or stash them before "
        "you merge."
    )
    assert (repo / "README.md").read_text() == "local edit\n"


def test_git_errors_say_what_failed(repo: Path) -> None:
    with pytest.raises(git.GitError, match="git rev-parse --verify nope failed"):
        git.git(repo, "rev-parse", "--verify", "nope")
    other = make_repo(repo.parent / "other")
    assert git.repo_root(other) == other
