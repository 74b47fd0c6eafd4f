"""Where the cook keeps its sessions, and opening that store.

The store is ``.sessionchart/`` in the project directory unless ``--store``
or the ``SESSIONCHART_STORE`` environment variable names another place.  It is
kept out of git's view (``.git/info/exclude``), so that it never counts as a
change of an iteration.  A store is named by where it is: a path is the
embedded TinyDB store in that directory, a ``postgresql://…`` (or
``postgres://…``) URL is the PostgreSQL store shared by many machines (the
``postgres`` extra; ``?schema=NAME`` picks its schema).

Commands that only read (``sessions``, ``show``, ``events``, ``watch``,
``verify``) open the store with :func:`open_for_reading`, which never creates
one: where there is none, it says so (:class:`StoreNotFound`, exit code 3).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from statecharts import InMemorySessionManager, SessionManager, SessionStorage

from . import git
from .errors import InvalidInput, printable
from .places import STORE_DIR_NAME, WORKTREES_DIR

__all__ = [
    "DATABASE_URL_SCHEMES",
    "STORE_ENV",
    "StoreNotFound",
    "is_database_url",
    "open_for_reading",
    "open_manager",
    "open_storage",
    "project_dir",
    "shown_location",
    "store_location",
]

STORE_ENV = "SESSIONCHART_STORE"
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")
STORE_MARKER = "sessionchart.json"
"""The file that makes a directory a store (persistence's marker)."""
OLD_DATABASE = "sessions.json"
"""The database of a store written by an older sessionchart (migrated when next written)."""
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*")


class StoreNotFound(LookupError):
    """There is no store at the place a reading command was pointed at (exit code 3)."""

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(
            f"no store at {printable(location)} (nothing has run here yet): "
            "give --store (or set SESSIONCHART_STORE), or start a session with `cook run`"
        )


def is_database_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL store (else it is a directory)."""
    return location.startswith(DATABASE_URL_SCHEMES)


def shown_location(location: str) -> str:
    """``location`` fit to print: a URL's password is replaced by ``***``.

    A password may hold ``/``, ``@``, ``?`` or ``:`` unescaped, so the URL is
    not parsed: everything up to the *last* ``@`` is taken for the user and
    password, and all of it after the user's first ``:`` is hidden (a URL that
    is odd in other ways may be shown with less than it has, never with more).
    A ``password=`` parameter is hidden too.
    """
    if not is_database_url(location):
        return location
    scheme, rest = location.split("://", 1)
    if "@" in rest:
        userinfo, host = rest.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:***@{host}" if colon else f"{userinfo}@{host}"
    return scheme + "://" + _QUERY_PASSWORD.sub(r"\1***", rest)


def project_dir(path: Path | None) -> Path:
    """The project a command is about: the git work tree ``path`` is in, else ``path`` itself."""
    base = (path or Path.cwd()).absolute()
    try:
        found = base.is_dir()
    except OSError as error:  # a name too long, say
        raise InvalidInput(f"{printable(str(base))}: {error.strerror}") from None
    if not found:
        raise InvalidInput(
            f"{printable(str(base))} is not a directory: give --path an existing project"
        )
    try:
        return git.repo_root(base.resolve())
    except git.NotAGitRepository:
        return base.resolve()


def store_location(project: Path, store: str | None) -> str:
    """The store: ``--store``, else ``$SESSIONCHART_STORE``, else ``<project>/.sessionchart``.

    A directory is made absolute, so that every message names the very place used.
    """
    location = store or os.environ.get(STORE_ENV) or str(project / STORE_DIR_NAME)
    return location if is_database_url(location) else os.path.abspath(location)


def _postgres(location: str) -> SessionStorage:
    import persistence  # noqa: PLC0415 - the stores load with the command that needs them

    try:
        cls = persistence.PostgresSessionStorage
    except ImportError:
        raise InvalidInput(
            "a postgresql:// store needs the `postgres` extra: pip install 'sessionchart[postgres]'"
        ) from None
    storage: SessionStorage = cls(location)
    return storage


def _holds_a_store(path: Path) -> bool:
    """Whether the directory ``path`` holds a store (of this layout, or an older one)."""
    return (path / STORE_MARKER).is_file() or (path / OLD_DATABASE).is_file()


def open_storage(location: str, *, create: bool = True, read_only: bool = False) -> SessionStorage:
    """The store at ``location``: a ``postgresql://`` URL, else a directory (TinyDB).

    Without ``create``, a directory that holds no store is :class:`StoreNotFound`
    (and nothing is made there); with ``read_only``, nothing in the store is
    changed either (a store in a read-only directory can be read).
    """
    if is_database_url(location):
        return _postgres(location)
    path = Path(location)
    try:
        found = create or _holds_a_store(path)
    except OSError as error:  # a name too long, say
        raise InvalidInput(
            f"cannot use the store {printable(location)}: {error.strerror}"
        ) from None
    if not found:
        raise StoreNotFound(location)
    from persistence import TinyDBSessionStorage  # noqa: PLC0415

    return TinyDBSessionStorage(path, read_only=read_only, shared=(WORKTREES_DIR,))


def open_for_reading(location: str) -> SessionStorage:
    """The store at ``location`` for a command that only reads it: never creates or changes one.

    Every reading command (``sessions``, ``show``, ``events``, ``watch``,
    ``verify``) opens its store here, and only here.
    """
    return open_storage(location, create=False, read_only=True)


async def open_manager(
    location: str, *, reading: bool = False, existing: bool = False
) -> SessionManager:
    """A manager over the store at ``location``, recovered after any crash.

    ``reading``: for a command that only reads (:func:`open_for_reading`);
    ``existing``: the store must be there already (``resume``, ``repair``).
    """
    if reading:  # nothing is recovered: a read changes nothing (the next writer recovers)
        return await InMemorySessionManager.open(open_for_reading(location), recover=False)
    return await InMemorySessionManager.open(open_storage(location, create=not existing))
