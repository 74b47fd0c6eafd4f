"""The CLI's exit codes and how each error a person can cause maps to one.

- 0: done: the session completed, or the command succeeded.
- 1: the session failed, or ``cook verify`` found problems.
- 2: the command line itself is wrong (usage).
- 3: not found: no such workflow file, unknown session id.
- 4: invalid input: bad YAML or workflow, not a git repository, worktree name
  taken, Graphviz missing for SVG/PNG.
- 5: refused: an illegal transition (resuming a completed session), a session
  another process drives.
- 6: storage: the store cannot be read or written (corrupt, disk full, read-only).
- 70: an internal error (a bug: please report it, with ``--debug``'s traceback).
- 130: interrupted: Ctrl-C or SIGTERM paused the session; ``cook resume ID`` carries on.
"""

from __future__ import annotations

from enum import IntEnum

from persistence import InvalidSessionId, SessionLocked, StorageError
from statecharts import IllegalTransition, InvalidEvent, SessionNotFound
from statecharts.diagrams import GraphvizNotInstalled

from .git import GitError, NotAGitRepository, WorktreeTaken
from .workflow import WorkflowError, WorkflowNotFound

__all__ = ["ExitCode", "UsageError", "exit_code_for"]


class ExitCode(IntEnum):
    """What ``cook`` exits with."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    INVALID = 4
    REFUSED = 5
    STORAGE = 6
    INTERNAL = 70
    INTERRUPTED = 130


class UsageError(ValueError):
    """Something the person asked for cannot be done as asked (exit code 4)."""


_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (WorkflowNotFound, ExitCode.NOT_FOUND),
    (SessionNotFound, ExitCode.NOT_FOUND),
    (InvalidSessionId, ExitCode.NOT_FOUND),
    (WorkflowError, ExitCode.INVALID),
    (NotAGitRepository, ExitCode.INVALID),
    (WorktreeTaken, ExitCode.INVALID),
    (UsageError, ExitCode.INVALID),
    (GraphvizNotInstalled, ExitCode.INVALID),
    (InvalidEvent, ExitCode.INVALID),
    (ValueError, ExitCode.INVALID),  # pydantic's ValidationError, bad option values
    (IllegalTransition, ExitCode.REFUSED),
    (SessionLocked, ExitCode.REFUSED),
    (StorageError, ExitCode.STORAGE),
    (GitError, ExitCode.INVALID),
)


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code for an error a person can cause, or None for a bug."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return None
