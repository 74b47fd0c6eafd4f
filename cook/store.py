"""Where the cook keeps its sessions, and opening that store.

The store is ``.sessionchart/`` in the project directory unless ``--store``
or the ``SESSIONCHART_STORE`` environment variable names another place.  It is
kept out of git's view (``.git/info/exclude``), so that it never counts as a
change of an iteration.  A store is named by where it is: a path is the
embedded TinyDB store in that directory, a ``postgresql://…`` (or
``postgres://…``) URL is the PostgreSQL store shared by many machines (the
``postgres`` extra; ``?schema=NAME`` picks its schema).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import persistence
from persistence import TinyDBSessionStorage
from statecharts import InMemorySessionManager, SessionStorage

from . import git
from .runner import STORE_DIR_NAME, WORKTREES_DIR

__all__ = [
    "DATABASE_URL_SCHEMES",
    "STORE_ENV",
    "is_database_url",
    "open_manager",
    "open_storage",
    "project_dir",
    "shown_location",
    "store_location",
]

STORE_ENV = "SESSIONCHART_STORE"
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL store (else it is a directory)."""
    return location.startswith(DATABASE_URL_SCHEMES)


def shown_location(location: str) -> str:
    """``location`` fit to print: a URL's password is replaced by ``***``."""
    if not is_database_url(location):
        return location
    try:
        parts = urlsplit(location)
    except ValueError:  # not a URL urllib can read: show none of what follows the scheme
        return location.split("://", 1)[0] + "://***"
    if parts.password is None:
        return location
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=user + host))


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
    """The store at ``location``: a ``postgresql://`` URL, else a directory (TinyDB)."""
    if is_database_url(location):
        return persistence.PostgresSessionStorage(location)
    return TinyDBSessionStorage(Path(location), shared=(WORKTREES_DIR,))


async def open_manager(location: str) -> InMemorySessionManager:
    """A manager over the store at ``location``, recovered after any crash."""
    return await InMemorySessionManager.open(open_storage(location))
