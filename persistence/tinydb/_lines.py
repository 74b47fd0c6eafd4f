"""The event log's line format: one JSON object per line, chained and checksummed.

Every line of a log is a JSON object ending with two fields in a fixed layout::

    {...,"prev":"1a2b3c4d","crc":"5e6f7a8b"}\\n

``crc`` is the CRC-32 of the line's bytes before ``,"crc"``, so a damaged line
is found without parsing it; ``prev`` is the CRC-32 of every byte of the file
before the line (the running checksum), so a lost, repeated or reordered line
breaks the chain.  The running checksum after line *n* is therefore the hash of
the log up to *n*, which a checkpoint records to tell whether the log it was
taken from is still the one on disk.

The first line is the header (``format_version``, session id, config, creation
time); every other line is a :class:`~statecharts.TimestampedEvent` whose JSON
is exactly the line without its two trailing fields.  Parsing validates the
events with pydantic, in batches, so nothing is trusted that was not checked.

No line is longer than :data:`~persistence._limits.MAX_LINE`: encoding a longer
one raises :class:`~persistence.RecordTooLarge` (nothing is written),
and a reader refuses one, so what is written can always be read back.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, Final

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from statecharts import Record, SessionConfig, SessionId, TimestampedEvent

from .._errors import RecordTooLarge
from .._limits import MAX_LINE

__all__ = [
    "SUFFIX_LENGTH",
    "LineError",
    "LogHeader",
    "chain",
    "decode_events",
    "decode_header",
    "encode_event",
    "encode_events",
    "encode_header",
    "format_hash",
    "line_seq",
    "parse_hash",
    "split_line",
]

_PREV: Final = b',"prev":"'
_CRC: Final = b'","crc":"'
_END: Final = b'"}\n'
_TAIL: Final = len(_CRC) + 8 + len(_END)  # the crc covers the line up to this tail
_PREV_LENGTH: Final = len(_PREV)
_CRC_LENGTH: Final = len(_CRC)
_END_LENGTH: Final = len(_END)
SUFFIX_LENGTH: Final = len(_PREV) + 8 + _TAIL
"""Bytes of the ``,"prev":...,"crc":...}`` suffix every line ends with (newline included)."""
_SEQ_PREFIX: Final = b'{"seq":'
_HASH_PATTERN: Final = re.compile(r"^crc32:[0-9a-f]{8}$")

_events_adapter: Final[TypeAdapter[list[TimestampedEvent]]] = TypeAdapter(list[TimestampedEvent])
_to_json: Final = TimestampedEvent.__pydantic_serializer__.to_json  # model_dump_json, minus a layer


class LogHeader(Record):
    """The first line of a log: enough to rebuild a session's document from its log alone."""

    format_version: int
    kind: str = "header"
    session_id: SessionId
    created_at: AwareDatetime
    config: SessionConfig


def _finish(body: bytes, prev: int) -> bytes:
    """``body`` (a JSON object) with its ``prev`` and ``crc`` fields, as one line."""
    covered = b"%s%s%08x" % (body[:-1], _PREV, prev)
    return b"%s%s%08x%s" % (covered, _CRC, zlib.crc32(covered), _END)


def chain(line: bytes, prev: int) -> int:
    """The running checksum after ``line``, given the one before it."""
    return zlib.crc32(line, prev)


def format_hash(running: int) -> str:
    """A running checksum as a checkpoint's ``log_hash`` (``crc32:<8 hex digits>``)."""
    return f"crc32:{running:08x}"


def parse_hash(log_hash: str | None) -> int | None:
    """The running checksum a ``log_hash`` names, or None when it is not one of ours."""
    if log_hash is None or not _HASH_PATTERN.match(log_hash):
        return None
    return int(log_hash[6:], 16)


def encode_header(header: LogHeader) -> bytes:
    """The header line (the first of a log, so its ``prev`` is 0).

    Raises :class:`~persistence.RecordTooLarge` when the session's
    configuration makes it longer than a log line may be.
    """
    line = _finish(header.model_dump_json().encode(), 0)
    if len(line) > MAX_LINE:
        raise RecordTooLarge("the session's configuration", len(line), MAX_LINE)
    return line


def _checked(line: bytes, event: TimestampedEvent) -> bytes:
    if len(line) > MAX_LINE:
        raise RecordTooLarge(f"event {event.seq} ({event.event.kind})", len(line), MAX_LINE)
    return line


def encode_events(events: Iterable[TimestampedEvent], prev: int) -> tuple[bytes, int, list[int]]:
    """Lines for ``events`` following a log whose running checksum is ``prev``.

    Returns the bytes, the running checksum after them and each line's length.
    """
    lines: list[bytes] = []
    for event in events:
        line = _checked(_finish(_to_json(event), prev), event)
        prev = zlib.crc32(line, prev)
        lines.append(line)
    return b"".join(lines), prev, [len(line) for line in lines]


def encode_event(event: TimestampedEvent, prev: int) -> tuple[bytes, int]:
    """The line of one event following a running checksum ``prev``, and the one after it."""
    line = _finish(_to_json(event), prev)
    if len(line) > MAX_LINE:
        _checked(line, event)
    return line, zlib.crc32(line, prev)


def split_line(line: bytes) -> tuple[int, int] | None:
    """``(prev, crc)`` of a complete line whose checksum is right; None when it is not.

    A line is right when it ends with the fixed suffix and its CRC-32 matches.
    """
    size = len(line)
    cut = size - SUFFIX_LENGTH
    crc_at = size - _TAIL
    if (
        cut <= 0
        or not line.startswith(_PREV, cut)
        or not line.startswith(_CRC, crc_at)
        or not line.endswith(_END)
    ):
        return None
    try:
        prev = int(line[cut + _PREV_LENGTH : crc_at], 16)
        crc = int(line[crc_at + _CRC_LENGTH : size - _END_LENGTH], 16)
    except ValueError:
        return None
    if zlib.crc32(line[:crc_at]) != crc:
        return None
    return prev, crc


def line_seq(line: bytes) -> int | None:
    """The ``seq`` of an event line, read from its fixed prefix (None for a header)."""
    if not line.startswith(_SEQ_PREFIX):
        return None
    end = line.find(b",", len(_SEQ_PREFIX))
    try:
        return int(line[len(_SEQ_PREFIX) : end])
    except ValueError:
        return None


def decode_header(line: bytes) -> dict[str, Any]:
    """The fields of a (checksum-verified) header line, before validation and migration.

    Raises ``ValueError`` when the line is not JSON (ending in ``}``, it is an object).
    """
    fields: dict[str, Any] = json.loads(line[:-SUFFIX_LENGTH] + b"}")
    return fields


class LineError(ValueError):
    """Line ``index`` of a batch is not a valid event."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        super().__init__(f"line {index} of the batch: {reason}")


def decode_events(lines: Sequence[bytes]) -> list[TimestampedEvent]:
    """The events (checksum-verified) event lines hold, validated by pydantic in one batch.

    Raises ``ValueError`` naming the index of the first line that is not a valid
    event (pydantic's ``ValidationError`` is one).
    """
    payload = b"[" + b",".join(line[:-SUFFIX_LENGTH] + b"}" for line in lines) + b"]"
    try:
        return _events_adapter.validate_json(payload)
    except ValidationError as error:
        first = error.errors()[0]
        index = first["loc"][0] if first["loc"] else 0
        raise LineError(int(index) if isinstance(index, int) else 0, str(first["msg"])) from None
