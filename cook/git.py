"""The git operations the runner needs, through the ``git`` command, never rewriting history.

Changes of an iteration are read between a snapshot of the work tree taken
when it started (a tree object, built in a scratch index) and the work tree
when it ended: committed and uncommitted edits and new files alike
(``git diff --numstat``), plus the commits made on top of the commit checked
out when it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from datetime import datetime
from pathlib import Path

from statecharts import CommitInfo, IterationChanges

from .errors import printable

__all__ = [
    "GitError",
    "MergeConflict",
    "NotAGitRepository",
    "NotUTF8",
    "WorktreeTaken",
    "add_worktree",
    "base_refs",
    "changes_between",
    "check_worktree_free",
    "commits_since",
    "current_branch",
    "delete_branch",
    "delete_ref",
    "exclude",
    "head",
    "merge",
    "read_ref",
    "remove_worktree",
    "repo_root",
    "run_git",
    "set_ref",
    "snapshot",
]

_FIELD, _RECORD = "\x1f", "\x1e"


class GitError(RuntimeError):
    """A git command failed; the message says which one and what git said."""


class NotAGitRepository(GitError):
    """The directory is not inside a git work tree."""


class WorktreeTaken(GitError):
    """A worktree or branch of that name already exists."""


class NotUTF8(GitError):
    """git named a file or directory whose name is not UTF-8 where cook needs it as a path."""


class MergeConflict(GitError):
    """Merging a session's branch back conflicted; the merge was aborted."""


def run_git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, errors: str = "strict"
) -> subprocess.CompletedProcess[str]:
    """Run ``git args`` in ``cwd`` (with ``env`` added); the caller looks at the outcome.

    Its output is read as UTF-8; with ``errors="replace"``, bytes that are not
    (a file name in another encoding) are replaced, else they are a :class:`GitError`.
    """
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    try:
        return subprocess.run(  # noqa: S603 - our own arguments
            ["git", *args],  # noqa: S607 - git from PATH, as a person would run it
            cwd=cwd,
            capture_output=True,
            encoding="utf-8",
            errors=errors,
            env=env,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError(f"cannot run git in {printable(str(cwd))}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise NotUTF8(
            f"git {args[0]} in {printable(str(cwd))} names something that is not UTF-8: "
            "cook needs UTF-8 file and directory names there"
        ) from None


def _failure(done: subprocess.CompletedProcess[str]) -> str:
    """git's own reason for a failure, on one line (its lists of files joined, hints left out)."""
    sentences: list[str] = []
    files: list[str] = []
    for raw in (done.stderr or done.stdout).splitlines():
        line = raw.strip()
        if not line or line == "Aborting" or line.startswith(("hint:", "Merge with strategy")):
            continue
        if raw[:1].isspace() and sentences and sentences[-1].endswith(":"):
            files.append(line)  # a file of the list the sentence before announced
            continue
        if files:
            sentences[-1] += " " + ", ".join(files)
            files.clear()
        sentences.append(line.removeprefix("error: ").removeprefix("fatal: "))
    if files:
        sentences[-1] += " " + ", ".join(files)
    text = "; ".join(sentences)
    return text[:500] if text else f"exit status {done.returncode}"


def git(
    cwd: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    errors: str = "strict",
) -> str:
    """Run ``git args`` in ``cwd`` and return its standard output (raise when it fails)."""
    done = run_git(cwd, *args, env=env, errors=errors)
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {_failure(done)}")
    return done.stdout


def repo_root(path: Path) -> Path:
    """The top of the work tree ``path`` is in, or :class:`NotAGitRepository`."""
    try:
        found = path.is_dir()
    except OSError as error:  # a name too long, say
        raise NotAGitRepository(f"{printable(str(path))}: {error.strerror}") from None
    if not found:
        raise NotAGitRepository(f"{printable(str(path))} is not a directory")
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").strip())
    except NotUTF8:
        raise
    except GitError:
        raise NotAGitRepository(f"{path} is not a git repository") from None


def head(path: Path) -> str:
    """The commit checked out in ``path``."""
    try:
        return git(path, "rev-parse", "--verify", "HEAD").strip()
    except GitError:
        raise GitError(f"{path} has no commit yet: commit something first") from None


def commits_since(path: Path, base: str) -> tuple[CommitInfo, ...]:
    """The commits reachable from HEAD but not from ``base``, oldest first."""
    out = git(
        path,
        "log",
        "--reverse",
        f"--format=%H{_FIELD}%s{_FIELD}%an <%ae>{_FIELD}%aI{_RECORD}",
        f"{base}..HEAD",
        errors="replace",
    )
    commits = []
    for record in out.split(_RECORD):
        if record.strip():
            sha, message, author, when = record.strip("\n").split(_FIELD)
            commits.append(
                CommitInfo(
                    sha=sha, message=message, author=author, timestamp=datetime.fromisoformat(when)
                )
            )
    return tuple(commits)


def snapshot(path: Path) -> str:
    """The work tree at ``path`` as a git tree object: tracked and new files, not ignored ones.

    Built in a temporary index, so the real index, HEAD and history are untouched.
    """
    index = Path(git(path, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    scratch = index.with_name(f"sessionchart-{os.getpid()}-{threading.get_ident()}.index")
    try:
        if index.exists():
            shutil.copyfile(index, scratch)
        env = {"GIT_INDEX_FILE": str(scratch)}
        git(path, "add", "--all", "--", ".", env=env)
        return git(path, "write-tree", env=env).strip()
    finally:
        scratch.unlink(missing_ok=True)


def changes_between(
    path: Path, start_tree: str, base: str, commands_run: tuple[str, ...] = ()
) -> IterationChanges:
    """What changed at ``path`` since its work tree was ``start_tree`` and HEAD was ``base``.

    Files and lines compare the work tree now with the snapshot taken when the
    iteration started (so edits that were lying around before are not counted
    again); commits are those made on top of ``base``.
    """
    files: list[Path] = []
    added = removed = 0
    tree = snapshot(path)
    numstat = git(
        path, "diff", "--numstat", "--no-renames", "-z", start_tree, tree, errors="replace"
    )
    for entry in numstat.split("\0"):
        if not entry:
            continue
        plus, minus, name = entry.split("\t", 2)
        files.append(Path(name))
        added += int(plus) if plus != "-" else 0
        removed += int(minus) if minus != "-" else 0
    return IterationChanges(
        files_modified=tuple(files),
        lines_added=added,
        lines_removed=removed,
        commands_run=commands_run,
        git_commits=commits_since(path, base),
    )


def base_refs(session_id: str) -> tuple[str, str]:
    """The private refs that keep where a session's running iteration started.

    The first points at the commit checked out then, the second at the
    :func:`snapshot` of the work tree.
    """
    return f"refs/sessionchart/{session_id}/base", f"refs/sessionchart/{session_id}/tree"


def set_ref(path: Path, ref: str, sha: str) -> None:
    """Point ``ref`` at ``sha`` (outside branches and tags: history is untouched)."""
    git(path, "update-ref", ref, sha)


def read_ref(path: Path, ref: str) -> str | None:
    """Where ``ref`` points, or None."""
    out = git(path, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
    return out or None


def delete_ref(path: Path, ref: str) -> None:
    """Forget ``ref`` (missing is fine)."""
    git(path, "update-ref", "-d", ref, check=False)


def exclude(repo: Path, pattern: str) -> None:
    """Keep ``pattern`` out of git's view locally (``info/exclude``, not the user's .gitignore)."""
    common = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    info = (repo / common if not common.is_absolute() else common) / "info"
    exclude_file = info / "exclude"
    try:
        info.mkdir(parents=True, exist_ok=True)
        existing = exclude_file.read_text(encoding="utf-8") if exclude_file.exists() else ""
        if pattern not in existing.splitlines():
            with exclude_file.open("a", encoding="utf-8") as handle:
                if existing and not existing.endswith("\n"):
                    handle.write("\n")
                handle.write(pattern + "\n")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise GitError(
            f"cannot keep {pattern} out of git's view in {exclude_file}: {why}"
        ) from None


def check_worktree_free(repo: Path, path: Path, branch: str) -> None:
    """Raise :class:`WorktreeTaken` when ``path`` or ``branch`` exists already."""
    if path.exists():
        raise WorktreeTaken(f"worktree {path} already exists: choose another name")
    if git(repo, "branch", "--list", branch).strip():
        raise WorktreeTaken(f"branch {branch} already exists: choose another worktree name")


def add_worktree(repo: Path, path: Path, branch: str) -> None:
    """Create ``path`` as a worktree on a new ``branch`` from HEAD, or :class:`WorktreeTaken`."""
    check_worktree_free(repo, path, branch)
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "worktree", "add", "--quiet", "-b", branch, str(path), "HEAD")


def remove_worktree(repo: Path, path: Path, *, force: bool = True) -> None:
    """Remove a worktree (its branch stays).

    Without ``force``, git refuses (:class:`GitError`) to remove one that holds
    changes never committed, which would be lost.
    """
    git(repo, "worktree", "remove", *(["--force"] if force else []), str(path))


def delete_branch(repo: Path, branch: str) -> None:
    """Delete ``branch`` (missing is fine)."""
    git(repo, "branch", "-D", branch, check=False)


def current_branch(repo: Path) -> str:
    """The branch checked out in ``repo`` (``HEAD`` when it is detached)."""
    return git(repo, "rev-parse", "--abbrev-ref", "HEAD", check=False).strip() or "HEAD"


def merge(repo: Path, branch: str, message: str) -> str:
    """Merge ``branch`` into what ``repo`` has checked out; on failure abort and raise.

    The error says why, in git's own words (local changes in the way, a conflict...).
    """
    done = run_git(repo, "merge", "--no-ff", "--no-edit", "-m", message, branch)
    if done.returncode == 0:
        return head(repo)
    unmerged = git(repo, "diff", "--name-only", "--diff-filter=U").split()
    if read_ref(repo, "MERGE_HEAD"):
        git(repo, "merge", "--abort", check=False)
    if unmerged:
        raise MergeConflict(
            f"merging {branch} conflicts in {', '.join(unmerged)}; the merge was aborted"
        )
    raise GitError(f"git refused to merge {branch}: {_failure(done)}")
