"""Appending to a session's event log: O(1), all or nothing.

The holder of a session appends through an :class:`EventLog`, which knows the
log's end — offset, running checksum, last seq — from reading only its last
line.  An append is one encode, one ``fstat`` and one ``write``; a failed one
is cut back off the file, so the log stays valid and holds exactly what was
acknowledged.  How soon an append reaches the disk is the durability mode's
business (:mod:`persistence._durability`).

A store may hold more sessions than it keeps files open: an ``EventLog`` can
be :meth:`~EventLog.suspend`-ed (synced and closed, its end remembered) and is
reopened on the next append, which checks that the file is still the one it
left — same inode, same size — before writing to it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from statecharts import TimestampedEvent

from .._durability import Durability, GroupCommitter
from .._errors import StorageError
from .._files import Directory, storage_errors, timestamp_suffix, write_all
from .._limits import MAX_LINE
from ._lines import LogHeader, chain, encode_event, encode_events, encode_header
from ._log_reader import LOG_NAME, LogFile, LogPosition

__all__ = ["EventLog", "write_new_log"]

log = logging.getLogger("persistence.tinydb")

Opener = Callable[[], Directory]
"""Opens the session's directory (to reopen a suspended log)."""


def write_new_log(
    directory: Directory, header: LogHeader, events: Sequence[TimestampedEvent], *, sync: bool
) -> None:
    """Write a whole new log (header and ``events``) into ``directory``, atomically."""
    head = encode_header(header)
    body, _running, _lengths = encode_events(events, chain(head, 0))
    directory.write_atomic(LOG_NAME, head + body, sync=sync)


class EventLog:
    """A session's log, appended to by its holder; see the module's documentation."""

    def __init__(
        self,
        opener: Opener,
        path: Path | Callable[[], Path],
        session_id: str,
        durability: Durability,
        committer: GroupCommitter | None,
    ) -> None:
        self._path = path
        self.session_id = session_id
        self.durability = durability
        self.end = LogPosition(0, 0, 0)
        self.last_line_start = 0
        self._opener = opener
        self._fd = -1
        self._inode = -1
        self._strict = durability == "strict"
        self._committer = committer if durability == "batched" else None
        self._dirty = False
        self._guard = threading.Lock()
        self._broken: StorageError | None = None
        self._closed = False  # for good: no reopening

    @property
    def path(self) -> Path:
        """Where the log is (for messages; made when first asked for)."""
        if callable(self._path):
            self._path = self._path()
        return self._path

    @property
    def is_open(self) -> bool:
        """Whether the file is open now (a suspended log is not)."""
        return self._fd >= 0

    # -- opening ----------------------------------------------------------------------------
    def open(self, directory: Directory | None = None) -> None:
        """Open the log and find its end; an incomplete last line (a crash's) is cut off.

        The cut bytes are kept in ``events.jsonl.corrupt-<timestamp>`` beside it.
        ``directory``: the session's directory, when the caller has it open.
        """
        with self._guard:
            if directory is not None:
                self._open_in(directory, first=True)
            else:
                self._open_locked(first=True)

    def _open_locked(self, *, first: bool) -> None:
        with self._opener() as directory:
            self._open_in(directory, first=first)

    def _open_in(self, directory: Directory, *, first: bool) -> None:
        fd = directory.open_file(LOG_NAME, os.O_RDWR | os.O_APPEND)
        try:
            status = os.fstat(fd)
            if not first:
                self._check_same(status.st_ino, status.st_size, self.end.offset)
            else:
                reader = LogFile(fd, self.path, self.session_id)
                end, line_start, torn = reader.tail(reader.header_end(), status.st_size)
                if torn:
                    _cut_torn_tail(fd, directory, end.offset, torn)
                self.end, self.last_line_start = end, line_start
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._inode = fd, status.st_ino

    def _check_same(self, inode: int, size: int, expected: int) -> None:
        if inode != self._inode or size != expected:
            raise StorageError(
                f"the log changed while it was closed ({size} bytes, {expected} expected)",
                self.path,
            )

    # -- appending --------------------------------------------------------------------------
    def append(self, events: Sequence[TimestampedEvent], *, sync: bool = True) -> None:
        """Append ``events`` (the next seqs); all are stored or, on failure, none.

        The hot path of every recorded event: one encode, one ``fstat`` (a log
        deleted under us must not swallow events), one ``write``.  With
        ``sync`` false the durability mode is left to the caller (a batch
        made durable at once).  The seqs were checked by the store
        (:func:`persistence._rules.checked_append`).
        """
        end = self.end
        if len(events) == 1:
            data, running = encode_event(events[0], end.running)
            last_length = len(data)
        else:
            data, running, lengths = encode_events(events, end.running)
            last_length = lengths[-1]
        with self._guard:
            if self._fd < 0:
                self._reopen()
            self._check_writable(end.offset)
            try:
                written = os.write(self._fd, data)
                if written < len(data):
                    write_all(self._fd, memoryview(data)[written:])
                if self._strict and sync:
                    os.fdatasync(self._fd)
            except OSError as error:
                self._cut_back(end.offset)
                raise StorageError("cannot append to the log", self.path, error) from error
            offset = end.offset + len(data)
            self.last_line_start = offset - last_length
            self.end = LogPosition(offset, running, events[-1].seq)
            register = self._committer is not None and not self._dirty and sync
            self._dirty = True
        if register:
            self._committer.dirty(self)  # type: ignore[union-attr]

    def _reopen(self) -> None:
        if self._broken is not None:
            raise self._broken
        if self._closed:
            raise StorageError("the log is closed", self.path)
        self._open_locked(first=False)

    def truncate_to(self, end: LogPosition, last_line_start: int) -> None:
        """Undo appends back to ``end`` (when what had to follow them could not be stored)."""
        with self._guard:
            if self._fd < 0:  # suspended meanwhile: reopen the very same file
                with self._opener() as directory:
                    fd = directory.open_file(LOG_NAME, os.O_RDWR | os.O_APPEND)
                status = os.fstat(fd)
                if status.st_ino != self._inode:
                    os.close(fd)
                    self._check_same(status.st_ino, status.st_size, self.end.offset)
                self._fd = fd
            self._cut_back(end.offset)
            if self._broken is None:
                self.end, self.last_line_start = end, last_line_start

    # -- syncing and closing ------------------------------------------------------------------
    def sync(self) -> None:
        """Make every append durable (fdatasync)."""
        with self._guard:
            if self._fd < 0 or not self._dirty:
                self._dirty = False
                return
            self._dirty = False
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                self._dirty = True
                raise StorageError("cannot sync the log", self.path, error) from error

    def suspend(self, *, sync: bool | None = None) -> None:
        """Close the file, synced first (unless in ``none`` mode); the next append reopens it.

        ``sync`` forces (or skips) the sync; by default only unsynced appends are synced.
        """
        with self._guard:
            fd, self._fd = self._fd, -1
            if fd < 0:
                return
            wanted = self._dirty if sync is None else sync
            try:
                if self.durability != "none" and wanted and self._broken is None:
                    with storage_errors("sync the log", self.path):
                        os.fdatasync(fd)
                    self._dirty = False
            finally:
                os.close(fd)

    def close(self) -> None:
        """Sync (unless in ``none`` mode) and close for good: no append reopens it."""
        if self._committer is not None:
            self._committer.discard(self)
        self._closed = True
        self.suspend(sync=True)

    def _check_writable(self, offset: int) -> None:
        if self._broken is not None:
            raise self._broken
        try:
            status = os.fstat(self._fd)
        except OSError as error:
            raise StorageError("cannot check the log", self.path, error) from error
        if status.st_nlink == 0:
            missing = FileNotFoundError(errno.ENOENT, "the log file was deleted")
            raise StorageError("cannot append to the log", self.path, missing)
        if status.st_size != offset:
            raise StorageError(
                f"the log changed under its holder ({status.st_size} bytes, {offset} expected)",
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


def _cut_torn_tail(fd: int, directory: Directory, offset: int, torn: int) -> None:
    """Cut an interrupted write off the log's end, keeping its bytes beside the log."""
    path = directory.path / LOG_NAME
    with storage_errors("cut the torn tail of", path):
        data = os.pread(fd, min(torn, MAX_LINE), offset)
        directory.write_atomic(f"{LOG_NAME}.corrupt-{timestamp_suffix()}", data)
        os.ftruncate(fd, offset)
        os.fsync(fd)
    log.warning("%s: cut %d bytes of an interrupted write at byte %d", path, torn, offset)
