"""Hostile stores: a sandbox around a store, ways to damage it, a check that nothing outside moved.

A store's files are untrusted input: a repository may commit a crafted
``.sessionchart/``.  Each test builds a real store inside a *sandbox* — a
directory that also holds victim files and directories outside the store —
damages the store the way an attacker or an accident would, runs the store's
code on it, and asserts with :func:`digest` that nothing outside the store
changed (content, names, modes, link targets).
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from persistence import TinyDBSessionStorage
from statecharts import InMemorySessionManager, SessionConfig, SessionId

CONFIG = SessionConfig(project_path="/work/project", max_iterations=100)


@dataclass
class Sandbox:
    """A store with healthy sessions, beside victims it must never touch."""

    root: Path
    store: Path
    outside: Path
    ids: list[SessionId]

    def session(self, index: int) -> Path:
        """The directory of session ``index``."""
        return self.store / "sessions" / self.ids[index]

    def outside_digest(self) -> str:
        """The digest of everything in the sandbox but the store."""
        return digest(self.root, skip=self.store)


def digest(root: Path, skip: Path | None = None) -> str:
    """A hash of every entry below ``root`` (names, kinds, modes, contents, link targets)."""
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        status = path.lstat()
        hasher.update(f"{path.relative_to(root)}:{stat.S_IFMT(status.st_mode)}:".encode())
        hasher.update(f"{stat.S_IMODE(status.st_mode):o}:".encode())
        if stat.S_ISLNK(status.st_mode):
            hasher.update(os.readlink(path).encode())
        elif stat.S_ISREG(status.st_mode):
            hasher.update(path.read_bytes())
    return hasher.hexdigest()


async def healthy_store(store: Path, sessions: int = 3, events: int = 4) -> list[SessionId]:
    """A store of ``sessions`` paused sessions with a few events each (closed again)."""
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(store, "none"))
    ids = []
    for _ in range(sessions):
        sid = await manager.create_session(CONFIG)
        await manager.start_session(sid)
        for number in range(1, events + 1):
            await manager.send(sid, "iteration_started", number=number)
            await manager.send(sid, "iteration_completed")
        await manager.pause_session(sid, "for later")
        ids.append(sid)
    await manager.aclose()
    return ids


async def make_sandbox(tmp_path: Path, sessions: int = 3) -> Sandbox:
    """A sandbox: victims in ``outside/`` (files, a directory, glob-like names), and a store."""
    root = tmp_path / "sandbox"
    outside = root / "outside"
    (outside / "home").mkdir(parents=True)
    for name in ("x.jsonl", "x.lock", "x.1.json", "victim.txt", "home/a.b.json", "home/c.d.json"):
        (outside / name).write_text(f"precious {name}\n")
    store = root / "project" / ".sessionchart"
    ids = await healthy_store(store, sessions)
    return Sandbox(root, store, outside, ids)


def replace_with_link(path: Path, target: Path) -> None:
    """Put a symbolic link to ``target`` where ``path`` is."""
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def replace_with_fifo(path: Path) -> None:
    """Put a FIFO where ``path`` is (opening it for reading would block forever)."""
    if path.exists():
        path.unlink()
    os.mkfifo(path)


class Hang(Exception):
    """The code under test did not return in time."""


@contextmanager
def no_hang(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread when the body runs longer than ``seconds``."""

    def alarm(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
