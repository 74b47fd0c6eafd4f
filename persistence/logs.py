"""Reading a session's event log, checked line by line.

:class:`LogReader` checks every line — its checksum, its place in the chain,
its seq — and raises :class:`~persistence.errors.CorruptionError` naming the
file and the byte offset at the first one that is wrong.  An incomplete last
line (no newline yet) is not read: it is a write in flight, or one a crash
interrupted, and was never acknowledged as durable in ``strict`` mode.
Appending is :mod:`persistence.eventlog`'s job.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple

from statecharts import TimestampedEvent

from .errors import CorruptionError, StorageError
from .files import storage_errors
from .lines import (
    LineError,
    LogHeader,
    chain,
    decode_events,
    decode_header,
    line_seq,
    split_line,
)
from .migrations import upgrade

__all__ = [
    "BATCH",
    "LogPosition",
    "LogReader",
    "position_problem",
    "read_header",
]

_CHUNK: Final = 1 << 22
BATCH: Final = 2048
"""Events validated per pydantic call when a log is read."""


class LogPosition(NamedTuple):
    """A point between two lines: byte ``offset``, ``running`` checksum, seq of the line before."""

    offset: int
    running: int
    seq: int


class LogReader:
    """The checked lines of one log, from a known position; see the module's documentation.

    After iterating, ``end`` is the position after the last complete line and
    ``torn`` the number of bytes of an incomplete line after it.
    """

    def __init__(self, path: Path, session_id: str, start: LogPosition) -> None:
        self.path = path
        self.session_id = session_id
        self.end = start
        self.last_line_start = 0
        self.torn = 0

    def _fail(self, kind: str, offset: int, message: str) -> CorruptionError:
        return CorruptionError(
            f"log of session {self.session_id}: {message}",
            self.path,
            kind=kind,
            offset=offset,
            session_id=self.session_id,
        )

    def lines(self) -> Iterator[tuple[int, bytes, int]]:
        """``(offset, line, seq)`` of every complete event line after the start, each checked."""
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[list[tuple[int, bytes, int]]]:
        """:meth:`lines`, a read's worth at a time (the loop that verify and load spend on)."""
        offset, running, seq = self.end
        at = self.last_line_start
        crc32 = zlib.crc32
        try:
            with storage_errors("read", self.path), self.path.open("rb") as file:
                file.seek(offset)
                pending = b""
                while data := file.read(_CHUNK):
                    if pending:
                        data = pending + data
                    checked: list[tuple[int, bytes, int]] = []
                    start, find = 0, data.find
                    while (newline := find(b"\n", start)) >= 0:
                        line = data[start : newline + 1]
                        at = offset
                        fields = split_line(line)
                        if fields is None:
                            raise self._fail(
                                "checksum_mismatch", at, "the line's checksum is wrong"
                            )
                        if fields[0] != running:
                            raise self._fail(
                                "chain_mismatch", at, "a line is missing or out of place"
                            )
                        number = line_seq(line)
                        if number != seq + 1:
                            raise self._fail("seq_gap", at, f"seq {number} where {seq + 1} belongs")
                        running, seq = crc32(line, running), number
                        offset += len(line)
                        checked.append((at, line, seq))
                        start = newline + 1
                    pending = data[start:]
                    if checked:
                        yield checked
                self.torn = len(pending)
        finally:
            self.end = LogPosition(offset, running, seq)
            self.last_line_start = at if seq else 0

    def events(self, after_seq: int = 0) -> Iterator[list[TimestampedEvent]]:
        """The events with ``seq > after_seq``, in validated batches.

        The seq inside each event is not compared with its line's: replaying
        the events checks that they follow each other.
        """
        for chunk in self.chunks():
            wanted = chunk if chunk[0][2] > after_seq else [e for e in chunk if e[2] > after_seq]
            for first in range(0, len(wanted), BATCH):
                yield self._decode(wanted[first : first + BATCH])

    def _decode(self, lines: Sequence[tuple[int, bytes, int]]) -> list[TimestampedEvent]:
        try:
            return decode_events([line for _, line, _ in lines])
        except LineError as error:
            raise self._fail("invalid_event", lines[error.index][0], str(error)) from None


def position_problem(path: Path, end: LogPosition, line_start: int) -> str | None:
    """Why ``end`` is not where line ``end.seq`` ends (the line read at ``line_start``), or None."""
    length = end.offset - line_start
    if length <= 0:
        return "the position is invalid"
    try:
        with storage_errors("read", path):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                line = os.pread(fd, length, line_start)
            finally:
                os.close(fd)
    except StorageError as error:
        return str(error)
    checked = split_line(line)
    if checked is None:
        return "its line in the log is damaged or gone"
    if (line_seq(line) or 0) != end.seq:
        return "its line in the log holds another seq"
    if chain(line, checked[0]) != end.running:
        return "the log before it changed"
    return None


def read_header(path: Path, session_id: str) -> tuple[LogHeader, LogPosition]:
    """The log's header, checked, and the position after it."""
    with storage_errors("read", path), path.open("rb") as file:
        line = file.readline(1 << 24)
    checked = split_line(line)

    def fail(message: str) -> CorruptionError:
        return CorruptionError(
            f"log of session {session_id}: {message}",
            path,
            kind="bad_header",
            offset=0,
            session_id=session_id,
        )

    if checked is None or checked[0] != 0:
        raise fail("the header line is damaged or incomplete")
    try:
        header = LogHeader.model_validate(upgrade("header", decode_header(line), path))
    except (ValueError, CorruptionError) as error:
        raise fail(f"the header is not one: {error}") from None
    if header.session_id != session_id:
        raise fail(f"the header is the one of session {header.session_id}")
    return header, LogPosition(len(line), chain(line, 0), 0)
