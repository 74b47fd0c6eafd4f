"""Where a TinyDB store (layout 2) keeps a session's files, and reading or editing them by hand.

Tests damage stores on purpose: these helpers name the files of the layout
(see :mod:`persistence.tinydb._layout`) and read or rewrite a session's
document as plain JSON, the way an accident or a hand edit would — never
through the store's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ROOT",
    "can_make_immutable",
    "checkpoint_files",
    "checkpoint_seqs",
    "corrupt_copies",
    "document",
    "document_path",
    "edit_document",
    "immutable",
    "line_offsets",
    "log_path",
    "needs_root",
    "owner_files",
    "quarantined",
    "run",
    "session_dir",
    "stored_files",
    "write_raw_document",
]

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mount, chattr, setuid)")


def session_dir(store: Path, sid: str) -> Path:
    """``<store>/sessions/<sid>``."""
    return store / "sessions" / sid


def document_path(store: Path, sid: str) -> Path:
    """The session's document (a one-document TinyDB database)."""
    return session_dir(store, sid) / "session.json"


def log_path(store: Path, sid: str) -> Path:
    """The session's event log."""
    return session_dir(store, sid) / "events.jsonl"


def document(store: Path, sid: str) -> dict[str, Any]:
    """The session's document, as JSON (what TinyDB holds under ``session/<sid>``)."""
    tables = json.loads(document_path(store, sid).read_bytes())
    assert list(tables) == ["session"] and list(tables["session"]) == [sid], tables
    found: dict[str, Any] = tables["session"][sid]
    return found


def write_raw_document(store: Path, sid: str, fields: dict[str, Any]) -> None:
    """Replace the session's document with ``fields`` (in TinyDB's layout)."""
    document_path(store, sid).write_text(json.dumps({"session": {sid: fields}}))


def edit_document(store: Path, sid: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the session's document in place by hand (``edit`` mutates the fields)."""
    fields = document(store, sid)
    edit(fields)
    write_raw_document(store, sid, fields)


def checkpoint_files(store: Path, sid: str) -> list[Path]:
    """The session's checkpoint files (its two slots, the ones there are)."""
    return sorted(session_dir(store, sid).glob("checkpoint-*.json"))


def checkpoint_seqs(store: Path, sid: str) -> list[int]:
    """The seqs of the checkpoints its files hold, in ascending order."""
    seqs = [json.loads(p.read_bytes())["checkpoint"]["seq"] for p in checkpoint_files(store, sid)]
    return sorted(seqs)


def corrupt_copies(store: Path, sid: str, name: str = "events.jsonl") -> list[Path]:
    """The ``<name>.corrupt-<time>`` copies kept beside a session's file."""
    return sorted(session_dir(store, sid).glob(f"{name}.corrupt-*"))


def owner_files(store: Path) -> list[Path]:
    """``<store>/owners/*.lock``: one per live store instance."""
    owners = store / "owners"
    return sorted(owners.glob("*.lock")) if owners.is_dir() else []


def quarantined(store: Path) -> list[Path]:
    """What repair (or a migration) set aside in ``<store>/quarantine/``."""
    directory = store / "quarantine"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def line_offsets(log: Path) -> list[int]:
    """Where each complete line of ``log`` starts (line 0 is the header)."""
    data = log.read_bytes()
    offsets, start = [], 0
    while (end := data.find(b"\n", start)) >= 0:
        offsets.append(start)
        start = end + 1
    return offsets


def stored_files(root: Path) -> dict[Path, bytes]:
    """Every regular file below ``root`` and its bytes, but locks (owner files, ``lock``).

    What a store *holds*: opening one takes locks and creates owner files,
    which are bookkeeping, not data; a document's spare copy is scratch space.
    """
    return {
        path: path.read_bytes()
        for path in sorted(root.rglob("*"))
        if stat.S_ISREG(path.lstat().st_mode)
        and path.name != "lock"
        and path.suffix not in (".lock", ".spare")
    }


def run(*command: str) -> bool:
    """Run a command; whether it succeeded."""
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def can_make_immutable() -> bool:
    """Whether ``chattr +i`` is available (root, and the tool)."""
    return ROOT and shutil.which("chattr") is not None


@contextmanager
def immutable(*directories: Path) -> Iterator[None]:
    """Make ``directories`` read-only even for root (``chattr +i``), undone on exit.

    Skips the test where the file system has no immutable flag.
    """
    made: list[Path] = []
    try:
        for directory in directories:
            if not run("chattr", "+i", str(directory)):
                pytest.skip("this file system has no immutable flag")
            made.append(directory)
        yield
    finally:
        for directory in made:
            run("chattr", "-i", str(directory))
