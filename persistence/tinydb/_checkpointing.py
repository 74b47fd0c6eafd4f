"""Saving a checkpoint: the file, then the document pointing at it (under the session's lock).

A checkpoint is tied to the log line it was taken at (its position and running
checksum), found from the end of the log — one read, whatever the log's
length — or, for an older seq, by reading the log up to it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from statecharts import SessionCheckpoint, SessionId

from .._files import Directory
from ._documents import document_lock, write_document
from ._holding import Held
from ._log_reader import LogFile, LogPosition

if TYPE_CHECKING:
    from ._store import TinyDBSessionStorage

__all__ = ["save_checkpoint"]


def save_checkpoint(
    store: TinyDBSessionStorage, session_id: SessionId, checkpoint: SessionCheckpoint
) -> SessionCheckpoint:
    """Store ``checkpoint`` and point the session's document at it; returns it as stored."""
    held = store.held.get(session_id)
    with store.layout.session_dir(session_id) as directory, document_lock(directory):
        if held is None:
            document = store.held.takeable(directory, session_id)
        else:
            document = store.own_document(directory, held)
            if store.sync:
                held.log.sync()  # a checkpoint never runs ahead of the durable log
        end, line_start = _position(directory, session_id, held, checkpoint.seq)
        current = document.checkpoint.file if document.checkpoint is not None else None
        stored, ref = store.checkpoints.write(
            directory, session_id, checkpoint, end, line_start, current=current
        )
        changes: dict[str, object] = {"checkpoint": ref}
        if ref.seq >= document.last_seq:
            changes.update(state=checkpoint.state_snapshot.state, last_seq=ref.seq)
        # durable enough: the log is (the document never runs ahead of it); the rest is
        # an optimisation, rebuilt by a longer replay if a machine's crash loses it
        strict = store.durability == "strict"
        write_document(directory, document.revised(**changes), sync=strict)
    return stored


def _position(
    directory: Directory, session_id: SessionId, held: Held | None, seq: int
) -> tuple[LogPosition, int]:
    """The position after line ``seq`` of the session's log, and where that line starts."""
    if held is not None and held.log.end.seq == seq:
        return held.log.end, held.log.last_line_start
    with LogFile.open(directory, session_id) as log_file:
        end, line_start, _torn = log_file.tail(log_file.header_end(), os.fstat(log_file.fd).st_size)
        if end.seq == seq:
            return end, line_start
        return log_file.position_of(seq)
