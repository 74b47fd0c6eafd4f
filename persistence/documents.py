"""What the TinyDB store keeps beside the logs: one document per session, and checkpoint files.

A session's document is a summary, rewritten on lifecycle changes (not on every
event): its config, its state and last seq *as of that write*, who owns it,
and where its latest checkpoint is.  The log stays the truth: a document may lag
behind its log, never run ahead of it.  A checkpoint's snapshot lives in a file
of its own (it grows with the session's progress), which the document points at
together with the checkpoint's position in the log and the file's checksum.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field, ValidationError

from statecharts import (
    FORMAT_VERSION,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    SessionState,
)
from statecharts.record import Record

from .errors import CorruptionError
from .migrations import upgrade
from .ownership import Owner

__all__ = ["CheckpointFile", "CheckpointRef", "SessionDocument", "parse_document"]


class CheckpointRef(Record):
    """Where a session's latest checkpoint is: its file, its line in the log, its hashes.

    ``line_start``..``offset`` are the bytes of the log line of event ``seq``;
    ``log_hash`` the running checksum after it; ``crc`` the CRC-32 of the file.
    """

    seq: int = Field(ge=0)
    line_start: int = Field(ge=0)
    offset: int = Field(ge=0)
    log_hash: str
    file: str
    crc: int = Field(ge=0)


class SessionDocument(Record):
    """One session in the ``sessions`` table (see the module's documentation)."""

    format_version: int = FORMAT_VERSION
    id: SessionId
    config: SessionConfig
    created_at: AwareDatetime
    state: SessionState
    last_seq: int = Field(default=0, ge=0)
    version: int = Field(default=1, ge=1)
    owner: Owner | None = None
    checkpoint: CheckpointRef | None = None
    deleting: bool = False

    def revised(self, **changes: Any) -> SessionDocument:
        """A copy with ``changes`` and the next ``version``."""
        return self.model_copy(update={**changes, "version": self.version + 1})


class CheckpointFile(Record):
    """The content of a checkpoint file: the checkpoint, and whose it is."""

    format_version: int = FORMAT_VERSION
    session_id: SessionId
    checkpoint: SessionCheckpoint

    def encode(self) -> tuple[bytes, int]:
        """The file's bytes and their CRC-32."""
        data = self.model_dump_json().encode()
        return data, zlib.crc32(data)


def parse_document(raw: Mapping[str, Any], path: Path, session_id: str) -> SessionDocument:
    """A stored document, upgraded and validated; :class:`CorruptionError` when it is not one."""
    try:
        document = SessionDocument.model_validate(upgrade("session", raw, path))
    except ValidationError as error:
        raise CorruptionError(
            f"the document of session {session_id} is invalid: {error.errors()[0]['msg']}",
            path,
            kind="invalid_document",
            session_id=session_id,
        ) from None
    if document.id != session_id:
        raise CorruptionError(
            f"the document stored under {session_id} is the one of {document.id}",
            path,
            kind="invalid_document",
            session_id=session_id,
        )
    return document
