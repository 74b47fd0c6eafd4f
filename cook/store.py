"""Where the cook keeps its sessions, and opening that store.

The store is ``.sessionchart/`` in the project directory unless ``--store DIR``
or the ``SESSIONCHART_STORE`` environment variable names another place.  It is
kept out of git's view (``.git/info/exclude``), so that it never counts as a
change of an iteration.
"""

from __future__ import annotations

import os
from pathlib import Path

from persistence import TinyDBSessionStorage
from statecharts import InMemorySessionManager, SessionStorage

from . import git
from .runner import STORE_DIR_NAME

__all__ = [
    "DATABASE_NAME",
    "STORE_ENV",
    "open_manager",
    "open_storage",
    "project_dir",
    "store_location",
]

STORE_ENV = "SESSIONCHART_STORE"
DATABASE_NAME = "sessions.json"


def project_dir(path: Path | None) -> Path:
    """The project a command is about: the git work tree ``path`` is in, else ``path`` itself."""
    base = (path or Path.cwd()).resolve()
    try:
        return git.repo_root(base)
    except git.NotAGitRepository:
        return base


def store_location(project: Path, store: str | None) -> str:
    """The store: ``--store``, else ``$SESSIONCHART_STORE``, else ``<project>/.sessionchart``."""
    return store or os.environ.get(STORE_ENV) or str(project / STORE_DIR_NAME)


def open_storage(location: str) -> SessionStorage:
    """The store at ``location`` (a directory: the embedded TinyDB store)."""
    return TinyDBSessionStorage(Path(location) / DATABASE_NAME)


async def open_manager(location: str) -> InMemorySessionManager:
    """A manager over the store at ``location``, recovered after any crash."""
    return await InMemorySessionManager.open(open_storage(location))
