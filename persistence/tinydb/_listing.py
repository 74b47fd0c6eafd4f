"""One row of a TinyDB store's listing, read from the session's document alone.

Listing 10,000 sessions reads 10,000 small documents, so a row validates only
what it shows — the state, the workflow's name, the creation time, the holder —
and not the whole configuration; a document that does not have even that is a
damaged session (:class:`~persistence.CorruptionError`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from statecharts import FORMAT_VERSION, SessionId, SessionListing, SessionState

from .._errors import CorruptionError, StorageError
from .._limits import MAX_DOCUMENT
from ._documents import DOCUMENT_NAME, TABLE_NAME
from ._layout import Layout
from ._owners import Holder, Liveness

__all__ = ["listing_row"]


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


def listing_row(layout: Layout, session_id: SessionId, liveness: Liveness) -> SessionListing:
    """The session's row.

    Raises :class:`~statecharts.SessionNotFound` when it is gone,
    :class:`~persistence.CorruptionError` when it is damaged.
    """
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
    holder = row.holder
    alive = holder is not None and liveness.alive(holder)
    return SessionListing(
        id=session_id,
        state=row.state,
        workflow=row.config.workflow.name,
        created_at=row.created_at,
        holder=liveness.describe(holder) if holder is not None and alive else None,
        orphaned=holder is not None and not alive,
    )
