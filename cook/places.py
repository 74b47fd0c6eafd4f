"""Where ``cook`` keeps things in a project: its store, the sessions' worktrees and branches.

One home for these names: the store is ``.sessionchart/`` in the project
(unless ``--store`` says otherwise, see :mod:`cook.store`), and a session in
worktree mode works in ``.sessionchart/worktrees/<name>`` on branch
``sessionchart/<name>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["BRANCH_PREFIX", "STORE_DIR_NAME", "WORKTREES_DIR", "worktree_branch", "worktree_path"]

STORE_DIR_NAME: Final = ".sessionchart"
"""The store's directory in a project (kept out of git's view)."""
WORKTREES_DIR: Final = "worktrees"
"""Where, in the store's directory, the sessions' git worktrees are."""
BRANCH_PREFIX: Final = "sessionchart/"
"""The branches of the sessions' worktrees."""


def worktree_path(repo: Path, name: str) -> Path:
    """Where the worktree of a session in ``Worktree(name)`` mode lives."""
    return repo / STORE_DIR_NAME / WORKTREES_DIR / name


def worktree_branch(name: str) -> str:
    """The branch a session in ``Worktree(name)`` mode works on."""
    return f"{BRANCH_PREFIX}{name}"
