"""Appending to a session's event log: O(1), all or nothing.

The owner of a session keeps its log open (:class:`EventLog`) and knows its end
— offset, running checksum, last seq — from reading only the last line.  An
append is one encode, one ``fstat`` and one ``write``; a failed one is cut back
off the file, so the log stays valid and holds exactly what was acknowledged.
How soon an append reaches the disk is the durability mode's business
(:mod:`persistence.durability`).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from statecharts import TimestampedEvent

from .durability import Durability, GroupCommitter
from .errors import CorruptionError, StorageError
from .files import atomic_write, storage_errors, timestamp_suffix, write_all
from .lines import (
    LogHeader,
    chain,
    encode_event,
    encode_events,
    encode_header,
    line_seq,
    split_line,
)
from .logs import LogPosition, read_header

__all__ = ["EventLog"]

log = logging.getLogger("persistence.eventlog")


class EventLog:
    """A session's log, open for appending by its owner; see the module's documentation."""

    def __init__(
        self,
        path: Path,
        session_id: str,
        *,
        fd: int,
        end: LogPosition,
        last_line_start: int,
        durability: Durability,
        committer: GroupCommitter | None,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self.end = end
        self.last_line_start = last_line_start
        self.durability = durability
        self._fd = fd
        self._strict = durability == "strict"
        self._committer = committer if durability == "batched" else None
        self._dirty = False
        self._guard = threading.Lock()
        self._broken: StorageError | None = None

    @classmethod
    def create(
        cls,
        path: Path,
        header: LogHeader,
        events: Sequence[TimestampedEvent],
        durability: Durability,
        committer: GroupCommitter | None,
    ) -> EventLog:
        """Write a new log (header and ``events``) atomically, then open it."""
        head = encode_header(header)
        body, _running, _lengths = encode_events(events, chain(head, 0))
        atomic_write(path, head + body, sync=durability != "none")
        return cls.open(path, header.session_id, durability, committer)

    @classmethod
    def open(
        cls,
        path: Path,
        session_id: str,
        durability: Durability,
        committer: GroupCommitter | None,
    ) -> EventLog:
        """Open an existing log; an incomplete last line (an interrupted write) is cut off.

        The cut bytes are kept in ``<log>.corrupt-<timestamp>`` beside it.
        """
        header_end = read_header(path, session_id)[1]
        with storage_errors("open", path):
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        try:
            end, last_line_start, torn = _read_end(fd, path, session_id, header_end)
            if torn:
                _cut_torn_tail(fd, path, end.offset, torn)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            path,
            session_id,
            fd=fd,
            end=end,
            last_line_start=last_line_start,
            durability=durability,
            committer=committer,
        )

    def append(self, events: Sequence[TimestampedEvent]) -> None:
        """Append ``events`` (the next seqs); all are stored or, on failure, none.

        The hot path of every recorded event: one encode, one ``fstat`` (a log
        deleted under us must not swallow events), one ``write``.
        """
        end = self.end
        if events[0].seq != end.seq + 1:
            raise StorageError(
                f"seq {events[0].seq} does not follow seq {end.seq} of the log", self.path
            )
        if len(events) == 1:
            data, running = encode_event(events[0], end.running)
            last_length = len(data)
        else:
            data, running, lengths = encode_events(events, end.running)
            last_length = lengths[-1]
        with self._guard:
            self._check_writable(end.offset)
            try:
                written = os.write(self._fd, data)
                if written < len(data):
                    write_all(self._fd, memoryview(data)[written:])
                if self._strict:
                    os.fdatasync(self._fd)
            except OSError as error:
                self._cut_back(end.offset)
                raise StorageError("cannot append to the log", self.path, error) from error
            offset = end.offset + len(data)
            self.last_line_start = offset - last_length
            self.end = LogPosition(offset, running, events[-1].seq)
            register = self._committer is not None and not self._dirty
            self._dirty = True
        if register:
            self._committer.dirty(self)  # type: ignore[union-attr]

    def truncate_to(self, end: LogPosition, last_line_start: int) -> None:
        """Undo appends back to ``end`` (when what had to follow them could not be stored)."""
        with self._guard:
            self._cut_back(end.offset)
            if self._broken is None:
                self.end, self.last_line_start = end, last_line_start

    def sync(self) -> None:
        """Make every append durable (fdatasync)."""
        with self._guard:
            if self._fd < 0:
                return
            self._dirty = False
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                self._dirty = True
                raise StorageError("cannot sync the log", self.path, error) from error

    def close(self) -> None:
        """Sync (unless in ``none`` mode) and close."""
        if self._committer is not None:
            self._committer.discard(self)
        with self._guard:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                if self.durability != "none" and self._broken is None:
                    with storage_errors("sync the log", self.path):
                        os.fdatasync(fd)
            finally:
                os.close(fd)

    def _check_writable(self, offset: int) -> None:
        if self._broken is not None:
            raise self._broken
        if self._fd < 0:
            raise StorageError("the log is closed", self.path)
        try:
            status = os.fstat(self._fd)
        except OSError as error:
            raise StorageError("cannot check the log", self.path, error) from error
        if status.st_nlink == 0:
            missing = FileNotFoundError(errno.ENOENT, "the log file was deleted")
            raise StorageError("cannot append to the log", self.path, missing)
        if status.st_size != offset:
            raise StorageError(
                f"the log changed under its owner ({status.st_size} bytes, {offset} expected)",
                self.path,
            )

    def _cut_back(self, offset: int) -> None:
        try:
            os.ftruncate(self._fd, offset)
            if self.durability != "none":
                os.fdatasync(self._fd)
        except OSError as error:  # the tail stays torn: it is cut off at the next open
            self._broken = StorageError("cannot cut a failed append off the log", self.path, error)
            log.error("%s", self._broken)  # noqa: TRY400


def _read_end(
    fd: int, path: Path, session_id: str, header_end: LogPosition
) -> tuple[LogPosition, int, int]:
    """The position after the last complete line, where that line starts, and the torn bytes."""
    with storage_errors("read", path):
        size = os.fstat(fd).st_size
        window = 1 << 16
        while True:
            start = max(header_end.offset, size - window)
            data = os.pread(fd, size - start, start)
            last_newline = data.rfind(b"\n")
            torn = len(data) - last_newline - 1
            if last_newline < 0 and start == header_end.offset:
                return header_end, 0, torn
            previous = data.rfind(b"\n", 0, last_newline)
            if previous >= 0 or start == header_end.offset:
                break
            window *= 4
    line_start = start + previous + 1
    line = data[previous + 1 : last_newline + 1]
    checked = split_line(line)
    seq = line_seq(line)
    if checked is None or seq is None:
        raise CorruptionError(
            f"log of session {session_id}: its last line is damaged",
            path,
            kind="checksum_mismatch",
            offset=line_start,
            session_id=session_id,
        )
    end = LogPosition(line_start + len(line), chain(line, checked[0]), seq)
    return end, line_start, torn


def _cut_torn_tail(fd: int, path: Path, offset: int, torn: int) -> None:
    """Cut an interrupted write off the log's end, keeping its bytes beside the log."""
    with storage_errors("cut the torn tail of", path):
        data = os.pread(fd, torn, offset)
        keep = path.with_name(f"{path.name}.corrupt-{timestamp_suffix()}")
        atomic_write(keep, data)
        os.ftruncate(fd, offset)
        os.fsync(fd)
    log.warning("%s: cut %d bytes of an interrupted write at byte %d", path, torn, offset)
