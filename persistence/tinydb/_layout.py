"""The TinyDB store's directory (layout 2): where everything is, and moving sessions in and out.

::

    <store>/
      sessionchart.json          the marker: this is a store, of this layout
      sessions/<id>/             one directory per session:
          session.json             its document (a one-document TinyDB database)
          events.jsonl             its append-only event log
          checkpoint-a.json, -b.json   its latest checkpoint and the one before
          lock                     locked while its document is read-modify-written
      owners/<token>.lock        one per live store instance (see _owners)
      quarantine/<id>-<time>/    damaged sessions set aside by repair, files kept
      trash/                     sessions being deleted

A session appears whole or not at all: it is built in ``sessions/.new-<id>-…``
and renamed into place; it leaves whole too, renamed into ``trash/`` (then
removed) or ``quarantine/``.  The list of sessions is the list of
``sessions/``'s directories named by a valid id — nothing is rewritten when one
is added — and every name read from the directory is checked before use.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Final, Literal

from statecharts import Record, SessionId, SessionNotFound, is_session_id

from .._errors import StorageError
from .._files import Directory, timestamp_suffix
from ._owners import OWNERS_DIR

log = logging.getLogger("persistence.tinydb")

__all__ = [
    "LAYOUT",
    "MARKER_NAME",
    "NEW_PREFIX",
    "QUARANTINE_DIR",
    "SESSIONS_DIR",
    "TRASH_DIR",
    "Layout",
    "StoreMarker",
]

LAYOUT: Final = 2
"""The layout this code writes (layout 1: one ``sessions.json`` database for every session)."""
MARKER_NAME: Final = "sessionchart.json"
SESSIONS_DIR: Final = "sessions"
QUARANTINE_DIR: Final = "quarantine"
TRASH_DIR: Final = "trash"
NEW_PREFIX: Final = ".new-"


class StoreMarker(Record):
    """The content of ``sessionchart.json``: what the directory is."""

    kind: Literal["sessionchart-store"] = "sessionchart-store"
    layout: int


class Layout:
    """The open directories of one store (two descriptors, whatever its size).

    ``read_only`` never creates anything; then ``sessions``/``owners`` are None
    for a store that has none yet.
    """

    def __init__(self, root: Directory, *, read_only: bool) -> None:
        self.root = root
        self.read_only = read_only
        self.sessions: Directory | None = None
        self.owners: Directory | None = None
        try:
            self.sessions = self._subdir(SESSIONS_DIR)
            self.owners = self._subdir(OWNERS_DIR)
        except BaseException:
            self.close()
            raise

    def _subdir(self, name: str) -> Directory | None:
        if self.read_only and self.root.stat(name) is None:
            return None
        return self.root.subdir(name, create=not self.read_only)

    @property
    def path(self) -> Path:
        """The store's directory."""
        return self.root.path

    def close(self) -> None:
        """Close every directory (idempotent)."""
        for directory in (self.sessions, self.owners, self.root):
            if directory is not None:
                directory.close()

    # -- sessions -----------------------------------------------------------------------------
    def _sessions(self) -> Directory:
        if self.sessions is None:
            raise StorageError("the store is open read-only and has no sessions", self.path)
        return self.sessions

    def session_ids(self) -> list[SessionId]:
        """Every session's id, oldest first (directories named by a valid id, not links)."""
        if self.sessions is None:
            return []
        return sorted(
            SessionId(name)
            for name, kind in self.sessions.entries()
            if kind == "dir" and is_session_id(name)
        )

    def strays(self) -> list[tuple[str, str]]:
        """Entries of ``sessions/`` that are not sessions: ``(name, kind)``."""
        if self.sessions is None:
            return []
        return [
            (name, kind)
            for name, kind in self.sessions.entries()
            if not (kind == "dir" and is_session_id(name))
        ]

    def session_dir(self, session_id: SessionId) -> Directory:
        """The session's directory (``SessionNotFound`` when there is none)."""
        if self.sessions is None:
            raise SessionNotFound(session_id)
        try:
            return self.sessions.subdir(session_id, session_id=session_id)
        except StorageError as error:
            if isinstance(error.cause, FileNotFoundError):
                raise SessionNotFound(session_id) from None
            raise

    def exists(self, session_id: SessionId) -> bool:
        """Whether a session (a directory, not a link) of this id is stored."""
        if self.sessions is None:
            return False
        status = self.sessions.stat(session_id)
        return status is not None and (status.st_mode & 0o170000) == 0o040000

    def new_session_dir(self, session_id: SessionId, token: str) -> tuple[Directory, str]:
        """A fresh directory to build a session in, and its temporary name.

        The name ends with the builder's owner ``token``: a directory whose
        builder is gone is what a crash left (removed when the store is opened).
        """
        sessions = self._sessions()
        name = f"{NEW_PREFIX}{session_id}-{token}"
        return sessions.subdir(name, create=True, session_id=session_id), name

    def publish(self, name: str, session_id: SessionId, *, sync: bool) -> None:
        """Move a session built in ``name`` into place (it must not exist yet)."""
        sessions = self._sessions()
        if self.exists(session_id):
            raise StorageError(f"session {session_id} exists already", self.path)
        sessions.rename(name, sessions, session_id)
        if sync:
            sessions.sync()

    def discard(self, name: str) -> None:
        """Remove an entry of ``sessions/`` (what an interrupted creation left)."""
        self._sessions().unlink(name)

    # -- sessions leaving ---------------------------------------------------------------------
    def _aside(self, directory_name: str) -> Directory:
        return self.root.subdir(directory_name, create=True)

    def to_trash(self, session_id: SessionId) -> str:
        """Move the session from ``sessions/`` to ``trash/`` (atomic); returns its name there."""
        name = f"{session_id}-{secrets.token_hex(4)}"
        with self._aside(TRASH_DIR) as trash:
            self._sessions().rename(session_id, trash, name)
            trash.sync()
        self._sessions().sync()
        return name

    def empty_trash(self) -> None:
        """Remove what deleting sessions left in ``trash/`` (a delete killed midway).

        Best effort: what cannot be removed now (a read-only file, say) is
        logged and left for the next time — the sessions are gone already.
        """
        if self.read_only or self.root.stat(TRASH_DIR) is None:
            return
        try:
            with self._aside(TRASH_DIR) as trash:
                for name, _kind in trash.entries():
                    try:
                        trash.unlink(name)
                    except StorageError as error:
                        log.warning("could not empty the trash: %s", error)
        except StorageError as error:
            log.warning("could not empty the trash: %s", error)

    def quarantine(self, session_id: SessionId) -> Path:
        """Set a session aside in ``quarantine/`` with all its files; returns where it is."""
        name = f"{session_id}-{timestamp_suffix()}"
        with self._aside(QUARANTINE_DIR) as quarantine:
            self._sessions().rename(session_id, quarantine, name)
            quarantine.sync()
            where = quarantine.path / name
        self._sessions().sync()
        return where

    def quarantined(self) -> list[str]:
        """The names in ``quarantine/``."""
        if self.root.stat(QUARANTINE_DIR) is None:
            return []
        with self.root.subdir(QUARANTINE_DIR) as quarantine:
            return sorted(name for name, _kind in quarantine.entries())
