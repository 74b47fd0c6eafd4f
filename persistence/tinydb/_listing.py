"""One row of a TinyDB store's listing, read from the session's document alone.

Listing 10,000 sessions reads 10,000 small documents, so a row validates only
what it shows — the state, the workflow's name, the creation time, the holder —
and not the whole configuration; a document that does not have even that is a
damaged session (:class:`~persistence.CorruptionError`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from statecharts import FORMAT_VERSION, SessionId, SessionListing, SessionState

from .._errors import CorruptionError, StorageError
from .._limits import MAX_DOCUMENT
from ._documents import DOCUMENT_NAME, TABLE_NAME
from ._layout import Layout
from ._owners import Holder, Liveness

__all__ = ["Listing"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Workflow(_Loose):
    name: str = ""


class _Config(_Loose):
    workflow: _Workflow = _Workflow()


class _Row(_Loose):
    format_version: int
    id: SessionId
    created_at: AwareDatetime
    state: SessionState
    config: _Config
    holder: Holder | None = None


class _Kept(NamedTuple):
    """What a row keeps of its document: the row as listed when its holder is gone or none.

    Its parts are those of the listed row (a store may list 100,000: a few
    hundred bytes each), built once: listing the same rows again builds nothing.
    """

    key: tuple[int, int, int, int]
    row: SessionListing
    """The row with no holder: as listed when none holds it, or when its holder is gone."""
    holder: Holder | None


class Listing:
    """The rows of a store's sessions, each kept until its document changes.

    Listing 10,000 sessions reads 10,000 documents; listing them again (a
    dashboard refreshing its page) only ``stat``-s them, and reads again the
    few whose document was rewritten (a new file: new inode and time).  Who
    holds a session is asked anew each time: a holder dies without a word.
    """

    def __init__(self, layout: Layout, liveness: Liveness, *, size: int = 100_000) -> None:
        self.layout = layout
        self.liveness = liveness
        self.size = size
        self._rows: dict[SessionId, _Kept] = {}

    def row(self, session_id: SessionId) -> SessionListing:
        """The session's row.

        Raises :class:`~statecharts.SessionNotFound` when it is gone,
        :class:`~persistence.CorruptionError` when it is damaged.
        """
        key = self._key(session_id)
        kept = self._rows.get(session_id)
        if kept is None or key is None or kept.key != key:
            parsed = _read_row(self.layout, session_id)
            row = SessionListing(
                id=session_id,
                state=parsed.state,
                workflow=sys.intern(parsed.config.workflow.name),
                created_at=parsed.created_at,
                orphaned=parsed.holder is not None,  # until its holder is found alive
            )
            kept = _Kept(key or (0, 0, 0, 0), row, parsed.holder)
            if key is not None and key == self._key(session_id):  # not rewritten meanwhile
                if len(self._rows) >= self.size:
                    self._rows.clear()
                self._rows[session_id] = kept
        holder = kept.holder
        if holder is None or not self.liveness.alive(holder):
            return kept.row
        return kept.row.model_copy(
            update={"holder": self.liveness.describe(holder), "orphaned": False}
        )

    def _key(self, session_id: SessionId) -> tuple[int, int, int, int] | None:
        sessions = self.layout.sessions
        if sessions is None:
            return None
        try:  # a stat only (nothing read, nothing written): no need to open the directory
            status = os.stat(f"{session_id}/{DOCUMENT_NAME}", dir_fd=sessions.fd)
        except OSError:
            return None
        return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)

    def forget(self, session_id: SessionId) -> None:
        """Drop the row of a session deleted or set aside."""
        self._rows.pop(session_id, None)


def _read_row(layout: Layout, session_id: SessionId) -> _Row:
    with layout.session_dir(session_id) as directory:
        data = directory.read(DOCUMENT_NAME, MAX_DOCUMENT)
        path = directory.path / DOCUMENT_NAME
    if data is None:
        raise CorruptionError(
            "the session has no document", path, kind="missing_document", session_id=session_id
        )
    try:
        raw: Any = json.loads(data)[TABLE_NAME][session_id]
        row = _Row.model_validate(raw)
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        raise CorruptionError(
            f"the document of session {session_id} is invalid ({type(error).__name__})",
            path,
            kind="invalid_document",
            session_id=session_id,
        ) from None
    if row.id != session_id:
        raise CorruptionError(
            f"the document of session {session_id} is the one of {row.id!r}",
            path,
            kind="invalid_document",
            session_id=session_id,
        )
    if row.format_version > FORMAT_VERSION:
        raise StorageError(
            f"the document is in format {row.format_version}; upgrade sessionchart", path
        )
    return row
