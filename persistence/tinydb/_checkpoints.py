"""Checkpoint files: a session's latest snapshot, tied to the exact log it was taken from.

A session's checkpoints take turns in two files of its directory,
``checkpoint-a.json`` and ``checkpoint-b.json``: a new one is written (in
place) into the file the session's document does not point at, then the
document points at it with a :class:`~persistence.tinydb._documents.CheckpointRef`:
the file's CRC-32, and the position and running checksum of line ``seq`` in
the log.  A checkpoint is trusted only when all of these still match — the
file is intact and the log up to ``seq`` is byte for byte the one it was
taken from; otherwise it is ignored (the log holds everything, so the session
is rebuilt by a longer replay, never wrongly).  So the checkpoint before the
latest stays whole until the next one, for a reader who read the document
just before it changed; and checkpointing creates, renames and removes no
file.  Outside ``strict`` durability a checkpoint is not fsynced: after a
crash of the machine, one whose bytes did not reach the disk fails its
checksum and is ignored (a longer replay, once).
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import OrderedDict
from typing import Final

from pydantic import ValidationError

from statecharts import FORMAT_VERSION, SessionCheckpoint, SessionId

from .._errors import RecordTooLarge, StorageError
from .._files import Directory
from .._limits import MAX_CHECKPOINT
from .._migrations import upgrade
from ._documents import CHECKPOINT_SLOTS, CheckpointFile, CheckpointRef, checkpoint_slot
from ._lines import format_hash, parse_hash
from ._log_reader import LogFile, LogPosition

__all__ = ["Checkpoints", "log_problem"]

log = logging.getLogger("persistence.tinydb")

_CURRENT: Final = b'{"format_version":%d,' % FORMAT_VERSION
_CACHED: Final = 4  # checkpoints kept parsed, once read (they can be large)


class Checkpoints:
    """Writing and reading checkpoint files (with a small cache of parsed ones)."""

    def __init__(self, *, sync: bool) -> None:
        self.sync = sync  # strict durability: fsync each checkpoint
        self._cache: OrderedDict[SessionId, tuple[CheckpointRef, SessionCheckpoint]] = OrderedDict()

    def write(
        self,
        directory: Directory,
        session_id: SessionId,
        checkpoint: SessionCheckpoint,
        end: LogPosition,
        line_start: int,
        *,
        current: str | None,
    ) -> tuple[SessionCheckpoint, CheckpointRef]:
        """Store ``checkpoint``, taken where the log ends at ``end``; returns it and its ref.

        ``current`` is the file the session's document points at now (left whole).
        """
        stored = checkpoint.model_copy(update={"log_hash": format_hash(end.running)})
        data, crc = CheckpointFile(session_id=session_id, checkpoint=stored).encode()
        name = checkpoint_slot(current)
        if len(data) > MAX_CHECKPOINT:
            raise RecordTooLarge("the checkpoint", len(data), MAX_CHECKPOINT, directory.path / name)
        directory.write_in_place(name, data, sync=self.sync)
        ref = CheckpointRef(
            seq=end.seq,
            line_start=line_start,
            offset=end.offset,
            log_hash=format_hash(end.running),
            file=name,
            crc=crc,
        )
        self._cache.pop(session_id, None)  # the writer has it: only a reader keeps one
        return stored, ref

    def _remember(
        self, session_id: SessionId, ref: CheckpointRef, stored: SessionCheckpoint
    ) -> None:
        self._cache[session_id] = (ref, stored)
        self._cache.move_to_end(session_id)
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)

    def read(
        self, directory: Directory, session_id: SessionId, ref: CheckpointRef, log_file: LogFile
    ) -> SessionCheckpoint | None:
        """The checkpoint ``ref`` points at, if it is intact and still matches the log."""
        cached = self._cache.get(session_id)
        if cached is not None and cached[0] == ref:
            trouble = log_problem(ref, log_file)
            checkpoint = None if trouble else cached[1]
        else:
            checkpoint, trouble = self.examine(directory, session_id, ref, log_file)
        if checkpoint is None:
            self._cache.pop(session_id, None)
            log.warning("checkpoint of session %s ignored: %s", session_id, trouble)
            return None
        self._remember(session_id, ref, checkpoint)
        return checkpoint

    def examine(
        self, directory: Directory, session_id: SessionId, ref: CheckpointRef, log_file: LogFile
    ) -> tuple[SessionCheckpoint | None, str | None]:
        """The checkpoint, read afresh, or why it cannot be trusted."""
        if ref.file not in CHECKPOINT_SLOTS:
            return None, f"unexpected file name {ref.file!r}"
        try:
            data = directory.read(ref.file, MAX_CHECKPOINT)
        except StorageError as error:
            return None, str(error)
        if data is None:
            return None, f"{ref.file} is missing"
        if zlib.crc32(data) != ref.crc:
            return None, f"{ref.file} is damaged (checksum)"
        checkpoint = _load(directory, session_id, ref, data)
        if checkpoint is None:
            return None, f"{ref.file} is not a checkpoint of seq {ref.seq}"
        trouble = log_problem(ref, log_file)
        return (None, trouble) if trouble else (checkpoint, None)

    def forget(self, session_id: SessionId) -> None:
        """Drop the kept copy of the session's checkpoint."""
        self._cache.pop(session_id, None)

    @staticmethod
    def remove_all(directory: Directory) -> None:
        """Remove the session's checkpoint files (it is stored anew, whole); best effort."""
        try:
            for name in CHECKPOINT_SLOTS:
                directory.unlink(name)
        except StorageError as error:
            log.warning("could not remove the checkpoints of %s: %s", directory.path, error)


def _load(
    directory: Directory, session_id: SessionId, ref: CheckpointRef, data: bytes
) -> SessionCheckpoint | None:
    path = directory.path / ref.file
    try:
        if data.startswith(_CURRENT):  # the usual case: validated straight from the bytes
            stored = CheckpointFile.model_validate_json(data)
        else:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                return None
            stored = CheckpointFile.model_validate(upgrade("checkpoint", raw, path))
    except (ValueError, ValidationError, StorageError):
        return None
    checkpoint = stored.checkpoint
    if (
        stored.session_id != session_id
        or checkpoint.seq != ref.seq
        or checkpoint.log_hash != ref.log_hash
    ):
        return None
    return checkpoint


def log_problem(ref: CheckpointRef, log_file: LogFile) -> str | None:
    """Why line ``ref.seq`` of the log is not the one the checkpoint was taken at."""
    running = parse_hash(ref.log_hash)
    if running is None:
        return f"unknown log hash {ref.log_hash!r}"
    return log_file.position_problem(LogPosition(ref.offset, running, ref.seq), ref.line_start)
