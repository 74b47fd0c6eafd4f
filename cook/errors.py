"""The CLI's exit codes and how each error a person can cause maps to one.

- 0: done: the session completed with every step ok, or the command succeeded.
- 1: the session failed, or ``cook verify`` found problems.
- 2: the command line itself is wrong (usage): an unknown option, a count that
  is not a positive number, a malformed session id or worktree name, options
  that do not go together.
- 3: not found: no such workflow file, unknown session id, no store at that place.
- 4: invalid input: bad YAML or workflow (or one over a budget), not a git
  repository, worktree name taken, an output file that cannot be written,
  Graphviz missing for SVG/PNG, the ``postgres`` extra missing.
- 5: refused: an illegal transition (resuming a completed session), a session
  another process drives.
- 6: storage: the store cannot be read or written (corrupt, disk full, read-only).
- 7: the session completed, but some of its steps failed (``cook show ID`` lists them).
- 8: the session completed, but merging its branch back failed: the worktree and
  the branch are kept (the summary says where, and git's reason).
- 70: an internal error (a bug: please report it, with the traceback shown).
- 130: interrupted: Ctrl-C, SIGTERM or SIGHUP paused the session; ``cook resume ID``
  carries on.

This module imports nothing heavy (``cook --help`` loads it): errors are told
apart by looking up their classes only in the modules already imported — an
error cannot be an instance of a class whose module was never loaded.
"""

from __future__ import annotations

import sys
from enum import IntEnum

__all__ = [
    "ExitCode",
    "InvalidInput",
    "UsageError",
    "advice_for",
    "exit_code_for",
    "one_line",
    "printable",
]


class ExitCode(IntEnum):
    """What ``cook`` exits with."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    INVALID = 4
    REFUSED = 5
    STORAGE = 6
    STEPS_FAILED = 7
    MERGE_FAILED = 8
    INTERNAL = 70
    INTERRUPTED = 130


class UsageError(ValueError):
    """The command line is wrong in a way argparse cannot see (exit code 2)."""


class InvalidInput(ValueError):
    """Something the person asked for cannot be done as asked (exit code 4)."""


OWN_PACKAGES = ("cook", "persistence", "statecharts")
"""Whose errors' messages are one line by design (a newline in them is a name's: kept)."""

_CODES: tuple[tuple[str, str, ExitCode], ...] = (
    ("cook.errors", "UsageError", ExitCode.USAGE),
    ("cook.workflow", "WorkflowNotFound", ExitCode.NOT_FOUND),
    ("cook.store", "StoreNotFound", ExitCode.NOT_FOUND),
    ("statecharts", "SessionNotFound", ExitCode.NOT_FOUND),
    ("persistence", "InvalidSessionId", ExitCode.NOT_FOUND),
    ("cook.workflow", "WorkflowError", ExitCode.INVALID),
    ("cook.git", "NotAGitRepository", ExitCode.INVALID),
    ("cook.git", "WorktreeTaken", ExitCode.INVALID),
    ("cook.errors", "InvalidInput", ExitCode.INVALID),
    ("statecharts.diagrams", "GraphvizNotInstalled", ExitCode.INVALID),
    ("statecharts", "InvalidEvent", ExitCode.INVALID),
    ("statecharts", "IllegalTransition", ExitCode.REFUSED),
    ("persistence", "SessionLocked", ExitCode.REFUSED),
    ("persistence", "StorageError", ExitCode.STORAGE),
    ("cook.git", "GitError", ExitCode.INVALID),
    ("builtins", "ValueError", ExitCode.INVALID),  # pydantic's ValidationError among them
)


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code for an error a person can cause, or None for a bug."""
    for module_name, class_name, code in _CODES:
        kind = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(kind, type) and isinstance(error, kind):
            return code
    return None


def advice_for(error: BaseException, store_option: str) -> str:
    """What to do about ``error``, to add to its line ("" when its message says it all).

    ``store_option`` is how the command named its store (`` --store DIR`` or ""),
    so that the advice can be pasted as it is.
    """
    notes = getattr(error, "__notes__", None)  # added on the way up: what became of the work
    if notes:
        return "".join(f"; {printable(str(note))}" for note in notes)
    corruption = getattr(sys.modules.get("persistence"), "CorruptionError", None)
    if isinstance(corruption, type) and isinstance(error, corruption):
        return (
            f"; `cook verify{store_option}` shows the damage, "
            f"`cook repair{store_option}` fixes what is safe to fix"
        )
    return ""


def printable(text: str) -> str:
    """``text`` with control characters (newlines, escapes) written out, fit for one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(error: BaseException) -> str:
    """The line that tells what ``error`` is: its message's first line, never empty."""
    errors = getattr(error, "errors", None)
    title = getattr(error, "title", None)
    if callable(errors) and isinstance(title, str):  # pydantic: say which field, and why
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or title
        return printable(f"{title}: {where}: {first.get('msg', 'invalid')}")
    text = str(error).strip()
    if not text:
        return type(error).__name__
    if type(error).__module__.split(".")[0] in OWN_PACKAGES:  # one line by design: all of it
        return printable(text)
    return printable(text.splitlines()[0])
