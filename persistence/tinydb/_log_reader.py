"""Reading a session's event log, checked line by line.

:class:`LogFile` is a log opened for reading — safely: no link followed, no
FIFO waited on (see :class:`~persistence._files.Directory`).  Its
:meth:`~LogFile.lines` checks every line — its checksum, its place in the
chain, its seq, its length — and raises
:class:`~persistence.CorruptionError` naming the file and the byte
offset at the first one that is wrong.  An incomplete last line (no newline
yet) is not read: it is a write in flight, or one a crash interrupted, and was
never acknowledged as durable in ``strict`` mode.  Appending is
:mod:`~persistence.tinydb._log_writer`'s job.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple, Self

from statecharts import TimestampedEvent

from .._errors import CorruptionError, StorageError
from .._files import Directory, storage_errors
from .._limits import MAX_LINE
from .._migrations import upgrade
from ._lines import (
    LineError,
    LogHeader,
    chain,
    decode_events,
    decode_header,
    line_seq,
    split_line,
)

__all__ = ["BATCH", "LOG_NAME", "LogFile", "LogPosition"]

LOG_NAME: Final = "events.jsonl"
"""The name of a session's log in its directory."""

_CHUNK: Final = 1 << 22
_HEADER_GUESS: Final = 1 << 16  # a header with a usual configuration fits
BATCH: Final = 2048
"""Events validated per pydantic call when a log is read."""


class LogPosition(NamedTuple):
    """A point between two lines: byte ``offset``, ``running`` checksum, seq of the line before."""

    offset: int
    running: int
    seq: int


class LogFile:
    """A session's log, open for reading; see the module's documentation.

    After :meth:`lines` (or :meth:`events`) ran, ``end`` is the position after
    the last complete line read, ``last_line_start`` where that line starts,
    and ``torn`` the number of bytes of an incomplete line after it.
    """

    def __init__(self, fd: int, path: Path | Callable[[], Path], session_id: str) -> None:
        self.fd = fd
        self._path = path
        self.session_id = session_id
        self.end = LogPosition(0, 0, 0)
        self.last_line_start = 0
        self.torn = 0

    @property
    def path(self) -> Path:
        """Where the log is (for messages; made when first asked for)."""
        if callable(self._path):
            self._path = self._path()
        return self._path

    @classmethod
    def open(cls, directory: Directory, session_id: str) -> LogFile:
        """The log in a session's directory (``FileNotFoundError`` when there is none)."""
        fd = directory.open_file(LOG_NAME, os.O_RDONLY)
        return cls(fd, lambda: directory.path / LOG_NAME, session_id)

    def close(self) -> None:
        """Close the file (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fail(self, kind: str, offset: int, message: str) -> CorruptionError:
        return CorruptionError(
            f"log of session {self.session_id}: {message}",
            self.path,
            kind=kind,
            offset=offset,
            session_id=self.session_id,
        )

    # -- the header -----------------------------------------------------------------------
    def header(self) -> tuple[LogHeader, LogPosition]:
        """The log's header, checked and validated whole, and the position after it."""
        line, fields = self._header_line()
        try:
            header = LogHeader.model_validate(upgrade("header", fields, self.path))
        except (ValueError, CorruptionError) as error:
            raise self._fail("bad_header", 0, f"the header is not one: {error}") from None
        except StorageError as error:  # a newer format
            raise self._fail("bad_header", 0, str(error)) from None
        return header, LogPosition(len(line), chain(line, 0), 0)

    def header_end(self) -> LogPosition:
        """The position after the header, whose line is checked (checksum, session) — not validated.

        What appending and reading on need, without validating the whole
        configuration the header holds (``verify`` does that).
        """
        line, _fields = self._header_line()
        return LogPosition(len(line), chain(line, 0), 0)

    def _header_line(self) -> tuple[bytes, dict[str, Any]]:
        with storage_errors("read", lambda: self.path):
            line = os.pread(self.fd, _HEADER_GUESS, 0)
            newline = line.find(b"\n")
            while newline < 0 and len(line) <= MAX_LINE:
                more = os.pread(self.fd, min(len(line), MAX_LINE + 1 - len(line)), len(line))
                if not more:
                    break
                line += more
                newline = line.find(b"\n", len(line) - len(more))

        def fail(message: str) -> CorruptionError:
            return self._fail("bad_header", 0, message)

        if newline < 0:
            too_long = len(line) > MAX_LINE
            raise fail("the header line is too long" if too_long else "the header is incomplete")
        line = line[: newline + 1]
        checked = split_line(line)
        if checked is None or checked[0] != 0:
            raise fail("the header line is damaged")
        try:
            fields = decode_header(line)
        except ValueError as error:
            raise fail(f"the header is not one: {error}") from None
        owner = fields.get("session_id")
        if fields.get("kind") != "header" or not isinstance(owner, str):
            raise fail("the header is not one: no kind 'header' and session id")
        if owner != self.session_id:
            raise fail(f"the header is the one of session {owner!r}")
        return line, fields

    # -- the lines --------------------------------------------------------------------------
    def lines(self, start: LogPosition) -> Iterator[tuple[int, bytes, int]]:
        """``(offset, line, seq)`` of every complete event line after ``start``, each checked."""
        for chunk in self.chunks(start):
            yield from chunk

    def chunks(self, start: LogPosition) -> Iterator[list[tuple[int, bytes, int]]]:
        """:meth:`lines`, a read's worth at a time (the loop that verify and load spend on)."""
        offset, running, seq = start
        at = 0
        crc32 = zlib.crc32
        read_at = offset
        try:
            pending = b""
            while True:
                with storage_errors("read", lambda: self.path):
                    data = os.pread(self.fd, _CHUNK, read_at)
                if not data:
                    break
                read_at += len(data)
                if pending:
                    data = pending + data
                checked: list[tuple[int, bytes, int]] = []
                begin, find = 0, data.find
                while (newline := find(b"\n", begin)) >= 0:
                    line = data[begin : newline + 1]
                    at = offset
                    fields = split_line(line) if len(line) <= MAX_LINE else None
                    if fields is None:
                        raise self._fail("checksum_mismatch", at, "the line's checksum is wrong")
                    if fields[0] != running:
                        raise self._fail("chain_mismatch", at, "a line is missing or out of place")
                    number = line_seq(line)
                    if number != seq + 1:
                        raise self._fail("seq_gap", at, f"seq {number} where {seq + 1} belongs")
                    running, seq = crc32(line, running), number
                    offset += len(line)
                    checked.append((at, line, seq))
                    begin = newline + 1
                pending = data[begin:]
                if len(pending) > MAX_LINE:
                    raise self._fail("line_too_long", offset, "a line longer than a line may be")
                if checked:
                    yield checked
            self.torn = len(pending)
        finally:
            self.end = LogPosition(offset, running, seq)
            self.last_line_start = at if seq > start.seq else 0

    def events(self, start: LogPosition, after_seq: int = 0) -> Iterator[list[TimestampedEvent]]:
        """The events with ``seq > after_seq``, in validated batches.

        The seq inside each event is not compared with its line's: replaying
        the events checks that they follow each other.
        """
        for chunk in self.chunks(start):
            wanted = chunk if chunk[0][2] > after_seq else [e for e in chunk if e[2] > after_seq]
            for first in range(0, len(wanted), BATCH):
                yield self._decode(wanted[first : first + BATCH])

    def _decode(self, lines: Sequence[tuple[int, bytes, int]]) -> list[TimestampedEvent]:
        try:
            return decode_events([line for _, line, _ in lines])
        except LineError as error:
            raise self._fail("invalid_event", lines[error.index][0], str(error)) from None

    # -- known positions ----------------------------------------------------------------------
    def position_problem(self, end: LogPosition, line_start: int) -> str | None:
        """Why ``end`` is not where line ``end.seq`` ends (its line read at ``line_start``)."""
        length = end.offset - line_start
        if length <= 0 or length > MAX_LINE or line_start < 0:
            return "the position is invalid"
        try:
            with storage_errors("read", lambda: self.path):
                line = os.pread(self.fd, length, line_start)
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

    def tail(self, header_end: LogPosition, size: int) -> tuple[LogPosition, int, int]:
        """The position after the last complete line, where that line starts, and the torn bytes.

        Reads only the end of the file (``size`` bytes long): what opening a log
        to append to it costs, whatever its length.
        """
        with storage_errors("read", lambda: self.path):
            window = 1 << 16
            while True:
                start = max(header_end.offset, size - window)
                data = os.pread(self.fd, size - start, start)
                last_newline = data.rfind(b"\n")
                torn = len(data) - last_newline - 1
                if last_newline < 0 and start == header_end.offset:
                    return header_end, 0, torn
                previous = data.rfind(b"\n", 0, last_newline)
                if previous >= 0 or start == header_end.offset:
                    break
                if window > 2 * MAX_LINE:
                    raise self._fail("checksum_mismatch", start, "its last line is damaged")
                window *= 4
        line_start = start + previous + 1
        line = data[previous + 1 : last_newline + 1]
        checked = split_line(line)
        seq = line_seq(line)
        if checked is None or seq is None:
            raise self._fail("checksum_mismatch", line_start, "its last line is damaged")
        end = LogPosition(line_start + len(line), chain(line, checked[0]), seq)
        return end, line_start, torn

    def position_of(self, seq: int) -> tuple[LogPosition, int]:
        """The position after line ``seq``, and where that line starts (reads from the start)."""
        end = self.header_end()
        line_start = 0
        for at, line, number in self.lines(end):
            if number > seq:
                break
            end, line_start = LogPosition(at + len(line), chain(line, end.running), number), at
        if end.seq != seq:
            raise StorageError(f"no seq {seq} in the log (it ends at seq {end.seq})", self.path)
        return end, line_start
