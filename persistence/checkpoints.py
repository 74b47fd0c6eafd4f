"""Checkpoint files: a session's latest snapshot, tied to the exact log it was taken from.

A checkpoint is written to ``<id>.<seq>.json`` (atomically) and the session's
document points at it with a :class:`~persistence.documents.CheckpointRef`:
the file's CRC-32, and the position and running checksum of line ``seq`` in the
log.  A checkpoint is trusted only when all of these still match — the file is
intact and the log up to ``seq`` is byte for byte the one it was taken from;
otherwise it is ignored (the log holds everything, so the session is rebuilt by
a longer replay, never wrongly).
"""

from __future__ import annotations

import json
import logging
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from statecharts import FORMAT_VERSION, SessionCheckpoint, SessionId

from .documents import CheckpointFile, CheckpointRef
from .errors import StorageError
from .files import atomic_write, ensure_dir, read_bytes
from .lines import format_hash, parse_hash
from .logs import LogPosition, position_problem
from .migrations import upgrade

__all__ = ["CheckpointFiles", "log_problem"]

log = logging.getLogger("persistence.checkpoints")

_CURRENT: Final = b'{"format_version":%d,' % FORMAT_VERSION


class CheckpointFiles:
    """The checkpoint files of a store, in one directory."""

    def __init__(self, directory: Path, *, sync: bool) -> None:
        self.directory = ensure_dir(directory)
        self.sync = sync
        self._cache: dict[SessionId, tuple[CheckpointRef, SessionCheckpoint]] = {}

    def write(
        self,
        session_id: SessionId,
        checkpoint: SessionCheckpoint,
        end: LogPosition,
        line_start: int,
    ) -> tuple[SessionCheckpoint, CheckpointRef]:
        """Store ``checkpoint``, taken where the log ends at ``end``; returns it and its ref."""
        stored = checkpoint.model_copy(update={"log_hash": format_hash(end.running)})
        data, crc = CheckpointFile(session_id=session_id, checkpoint=stored).encode()
        name = f"{session_id}.{end.seq}.json"
        atomic_write(self.directory / name, data, sync=self.sync)
        ref = CheckpointRef(
            seq=end.seq,
            line_start=line_start,
            offset=end.offset,
            log_hash=format_hash(end.running),
            file=name,
            crc=crc,
        )
        self._cache[session_id] = (ref, stored)
        return stored, ref

    def read(
        self, session_id: SessionId, ref: CheckpointRef, log_path: Path
    ) -> SessionCheckpoint | None:
        """The checkpoint ``ref`` points at, if it is intact and still matches the log.

        A checkpoint read once is kept (it can be large) as long as the
        document points at the same file; the log is checked every time.
        """
        cached = self._cache.get(session_id)
        if cached is not None and cached[0] == ref:
            trouble = log_problem(ref, log_path)
            checkpoint = None if trouble else cached[1]
        else:
            checkpoint, trouble = self.examine(session_id, ref, log_path)
        if checkpoint is None:
            self._cache.pop(session_id, None)
            log.warning("checkpoint of session %s ignored: %s", session_id, trouble)
            return None
        self._cache[session_id] = (ref, checkpoint)
        return checkpoint

    def problem(self, session_id: SessionId, ref: CheckpointRef, log_path: Path) -> str | None:
        """Why the checkpoint ``ref`` points at cannot be trusted (read afresh), or None."""
        return self.examine(session_id, ref, log_path)[1]

    def examine(
        self, session_id: SessionId, ref: CheckpointRef, log_path: Path
    ) -> tuple[SessionCheckpoint | None, str | None]:
        """The checkpoint, read afresh, or why it cannot be trusted."""
        if ref.file != f"{session_id}.{ref.seq}.json":
            return None, f"unexpected file name {ref.file!r}"
        try:
            data = read_bytes(self.directory / ref.file)
        except StorageError as error:
            return None, str(error)
        if data is None:
            return None, f"{ref.file} is missing"
        if zlib.crc32(data) != ref.crc:
            return None, f"{ref.file} is damaged (checksum)"
        checkpoint = self._load(session_id, ref, data)
        if checkpoint is None:
            return None, f"{ref.file} is not a checkpoint of seq {ref.seq}"
        trouble = log_problem(ref, log_path)
        return (None, trouble) if trouble else (checkpoint, None)

    def _load(
        self, session_id: SessionId, ref: CheckpointRef, data: bytes
    ) -> SessionCheckpoint | None:
        path = self.directory / ref.file
        try:
            if data.startswith(_CURRENT):  # the usual case: validated straight from the bytes
                stored = CheckpointFile.model_validate_json(data)
            else:
                raw = json.loads(data)
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

    def forget(self, session_id: SessionId) -> None:
        """Drop the kept copy of the session's checkpoint."""
        self._cache.pop(session_id, None)

    def remove(self, session_id: SessionId, keep: str | None = None) -> None:
        """Remove the session's checkpoint files (except ``keep``); best effort."""
        if keep is None:
            self.forget(session_id)
        with suppress(OSError):
            for path in self.directory.glob(f"{session_id}.*.json"):
                if path.name != keep:
                    with suppress(OSError):
                        path.unlink()


def log_problem(ref: CheckpointRef, log_path: Path) -> str | None:
    """Why line ``ref.seq`` of the log is not the one the checkpoint was taken at."""
    running = parse_hash(ref.log_hash)
    if running is None:
        return f"unknown log hash {ref.log_hash!r}"
    return position_problem(log_path, LogPosition(ref.offset, running, ref.seq), ref.line_start)
