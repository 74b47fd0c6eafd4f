"""The log format and the log file, unit by unit: every way a line or a log can be wrong.

A log lives in a session's directory (``events.jsonl``); it is read through a
:class:`~persistence.tinydb._log_reader.LogFile` and appended to through an
:class:`~persistence.tinydb._log_writer.EventLog`, both opened through a
:class:`~persistence._files.Directory`.  The files here are real; a few system
calls (``os.write``, ``os.ftruncate``, ``os.fdatasync``) are made to fail to
reach the paths no real disk produces on demand (a real full disk is in
``test_bad_input``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persistence import CorruptionError, RecordTooLarge, StorageError
from persistence._durability import Durability, GroupCommitter
from persistence._files import Directory
from persistence._limits import MAX_LINE
from persistence.tinydb._lines import (
    SUFFIX_LENGTH,
    LineError,
    LogHeader,
    chain,
    decode_events,
    decode_header,
    encode_event,
    encode_events,
    encode_header,
    format_hash,
    line_seq,
    parse_hash,
    split_line,
)
from persistence.tinydb._log_reader import LOG_NAME, LogFile, LogPosition
from persistence.tinydb._log_writer import EventLog, write_new_log
from statecharts import (
    SessionConfig,
    SessionEvent,
    SessionId,
    TimestampedEvent,
    events,
    new_session_id,
)

from .layout_helpers import line_offsets

CONFIG = SessionConfig(project_path="/p", max_iterations=5)
NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def stamped(seq: int, event: SessionEvent | None = None) -> TimestampedEvent:
    return TimestampedEvent(
        seq=seq, timestamp=NOW, event=event or events.CommandExecuted(command="x", success=True)
    )


def header(session_id: str, config: SessionConfig = CONFIG) -> LogHeader:
    return LogHeader(
        format_version=1, session_id=SessionId(session_id), created_at=NOW, config=config
    )


# -- lines ---------------------------------------------------------------------------------
event_strategy = st.one_of(
    st.builds(
        events.CommandExecuted,
        command=st.text(min_size=1),
        success=st.booleans(),
        duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
        output_tail=st.text(),
    ),
    st.builds(events.Paused, reason=st.text()),
    st.builds(events.IterationStarted, number=st.integers(1, 10**9)),
    st.builds(events.Failed, error=st.text(min_size=1)),
    st.just(events.Resumed()),
    st.builds(
        events.AnalysisCompleted,
        results=st.builds(
            dict, summary=st.text(), metrics=st.dictionaries(st.text(), st.floats(-1e9, 1e9))
        ),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy, min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_lines_round_trip_and_chain(payloads: list[SessionEvent], prev: int) -> None:
    recorded = [stamped(i + 1, e) for i, e in enumerate(payloads)]
    data, running, lengths = encode_events(recorded, prev)
    lines = data.splitlines(keepends=True)
    assert [len(line) for line in lines] == lengths
    assert decode_events(lines) == recorded
    for line, event in zip(lines, recorded, strict=True):
        checked = split_line(line)
        assert checked is not None and checked[0] == prev
        assert line_seq(line) == event.seq
        json.loads(line)  # every line is a JSON object on its own
        prev = chain(line, prev)
    assert prev == running
    single, after = encode_event(recorded[0], 7)
    assert split_line(single) is not None and after == chain(single, 7)


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-1],  # no newline
        lambda line: line[:10] + b"X" + line[11:],  # a flipped byte
        lambda line: line.replace(b',"prev":"', b',"PREV":"'),
        lambda line: line.replace(b'","crc":"', b'","CRC":"'),
        lambda line: line[:-12] + b"zzzzzzzz" + line[-4:],  # crc not hex
        lambda line: line[: -SUFFIX_LENGTH + 9] + b"zzzzzzzz" + line[-SUFFIX_LENGTH + 17 :],
        lambda line: b"short\n",
    ],
)
def test_a_damaged_line_is_refused(damage: object) -> None:
    line, _ = encode_event(stamped(1), 0)
    assert split_line(damage(line)) is None  # type: ignore[operator]


def test_a_line_without_a_seq_prefix_has_no_seq() -> None:
    assert line_seq(b'{"kind":"header"}') is None
    assert line_seq(b'{"seq":x,') is None


def test_a_hash_round_trips_and_an_unknown_one_reads_as_none() -> None:
    assert parse_hash(format_hash(0xABCDEF)) == 0xABCDEF
    assert parse_hash(None) is None
    assert parse_hash("sha256:00") is None


def test_a_header_round_trips() -> None:
    sid = new_session_id()
    line = encode_header(header(sid))
    assert LogHeader.model_validate(decode_header(line)) == header(sid)


def test_a_bad_event_in_a_batch_is_named_by_its_index() -> None:
    good, _ = encode_event(stamped(1), 0)
    bad = good.replace(b'"command":"x"', b'"command":""')
    with pytest.raises(LineError) as raised:
        decode_events([good, bad])
    assert raised.value.index == 1


def test_a_line_or_header_over_the_limit_is_refused_before_writing() -> None:
    huge = events.AnalysisCompleted(results={"summary": "x" * MAX_LINE})
    with pytest.raises(RecordTooLarge) as raised:
        encode_event(stamped(1, huge), 0)
    assert raised.value.errno == errno.EFBIG and raised.value.limit == MAX_LINE
    assert "event 1 (analysis_completed)" in str(raised.value)
    with pytest.raises(RecordTooLarge):
        encode_events([stamped(1), stamped(2, huge)], 0)
    big_config = CONFIG.model_copy(update={"focus": "f" * MAX_LINE})
    with pytest.raises(RecordTooLarge, match="the session's configuration"):
        encode_header(header(new_session_id(), big_config))


# -- reading a log ---------------------------------------------------------------------
def write_log(where: Path, count: int, sid: str | None = None) -> str:
    """A log of ``count`` events in directory ``where`` (written by hand, not by the store)."""
    sid = sid or new_session_id()
    where.mkdir(parents=True, exist_ok=True)
    head = encode_header(header(sid))
    body, _running, _lengths = encode_events([stamped(i + 1) for i in range(count)], chain(head, 0))
    (where / LOG_NAME).write_bytes(head + body)
    return sid


@contextmanager
def reading(where: Path, sid: str) -> Iterator[LogFile]:
    """The log in ``where``, open for reading."""
    with (
        Directory.open_root(where, create=False) as directory,
        LogFile.open(directory, sid) as log_file,
    ):
        yield log_file


def seqs_in(where: Path, sid: str) -> list[int]:
    """Every event's seq, read (and checked) from the start."""
    with reading(where, sid) as log_file:
        return [e.seq for batch in log_file.events(log_file.header()[1]) for e in batch]


def test_reading_from_a_known_position(tmp_path: Path) -> None:
    sid = write_log(tmp_path, 10)
    with reading(tmp_path, sid) as log_file:
        start = log_file.header()[1]
        assert [e.seq for batch in log_file.events(start, 4) for e in batch] == list(range(5, 11))
        end, line_start = log_file.end, log_file.last_line_start
        assert end.seq == 10 and log_file.torn == 0
        assert end.offset == (tmp_path / LOG_NAME).stat().st_size
        assert line_start == line_offsets(tmp_path / LOG_NAME)[-1]
        assert log_file.position_problem(end, line_start) is None
        assert list(log_file.events(end)) == []  # from the end: nothing more
        # the end found from the last line alone, and any line's position found from the start
        assert log_file.tail(start, end.offset) == (end, line_start, 0)
        assert log_file.position_of(10) == (end, line_start)
        fifth, fifth_start = log_file.position_of(5)
        assert log_file.position_problem(fifth, fifth_start) is None
        assert [e.seq for batch in log_file.events(fifth) for e in batch] == list(range(6, 11))
        with pytest.raises(StorageError, match="no seq 11"):
            log_file.position_of(11)
        # positions that are not where they say
        assert log_file.position_problem(LogPosition(5, 0, 1), 5) == "the position is invalid"
        wrong = end._replace(running=end.running ^ 1)
        assert log_file.position_problem(wrong, line_start) == "the log before it changed"
        other_seq = end._replace(seq=9)
        assert "another seq" in str(log_file.position_problem(other_seq, line_start))
        assert "damaged" in str(log_file.position_problem(end, line_start + 1))
        # the log cut before a known position: its line is gone
        with (tmp_path / LOG_NAME).open("r+b") as file:
            file.truncate(line_start + 10)
        assert "damaged or gone" in str(log_file.position_problem(end, line_start))
    assert "cannot read" in str(log_file.position_problem(fifth, fifth_start))  # closed


def test_an_incomplete_last_line_is_not_read(tmp_path: Path) -> None:
    sid = write_log(tmp_path, 3)
    complete = (tmp_path / LOG_NAME).stat().st_size
    with (tmp_path / LOG_NAME).open("ab") as file:
        file.write(b'{"seq":4,"timestamp":')  # a write in flight, or one a crash interrupted
    assert seqs_in(tmp_path, sid) == [1, 2, 3]
    with reading(tmp_path, sid) as log_file:
        list(log_file.lines(log_file.header()[1]))
        assert (log_file.end.offset, log_file.torn) == (complete, 21)
        end, _start, torn = log_file.tail(log_file.header()[1], complete + 21)
        assert (end, torn) == (log_file.end, 21)
    empty = write_log(tmp_path / "empty", 0)  # torn bytes right after the header
    with (tmp_path / "empty" / LOG_NAME).open("ab") as file:
        file.write(b'{"seq":1')
    with reading(tmp_path / "empty", empty) as log_file:
        start = log_file.header()[1]
        assert log_file.tail(start, start.offset + 8) == (start, 0, 8)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the header is incomplete"),
        (b'{"format_version":1}', "the header is incomplete"),
        (b'{"format_version":1}\n', "the header line is damaged"),
        (b"x" * (MAX_LINE + 1), "the header line is too long"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / LOG_NAME).write_bytes(content)
    with (
        reading(tmp_path, new_session_id()) as log_file,
        pytest.raises(CorruptionError, match=message) as raised,
    ):
        log_file.header()
    assert raised.value.kind == "bad_header" and raised.value.offset == 0
    assert raised.value.path == tmp_path / LOG_NAME


def test_a_header_of_another_session_or_not_a_header(tmp_path: Path) -> None:
    write_log(tmp_path, 0)
    other = new_session_id()
    with (
        reading(tmp_path, other) as log_file,
        pytest.raises(CorruptionError, match="the one of session") as raised,
    ):
        log_file.header()
    assert raised.value.session_id == other
    event_line, _ = encode_event(stamped(1), 0)  # a line we could have written, but no header
    (tmp_path / LOG_NAME).write_bytes(event_line)
    with reading(tmp_path, other) as log_file, pytest.raises(CorruptionError, match="not one"):
        log_file.header()
    newer = header(other).model_copy(update={"format_version": 99})
    (tmp_path / LOG_NAME).write_bytes(encode_header(newer))
    with (
        reading(tmp_path, other) as log_file,
        pytest.raises(CorruptionError, match="newer than this sessionchart"),
    ):
        log_file.header()


def forge(line: bytes, prev: int, edit: Callable[[bytes], bytes]) -> bytes:
    """``line`` with its body edited, re-checksummed and chained after ``prev``: well formed."""
    body = edit(line[:-SUFFIX_LENGTH] + b"}")
    forged = body[:-1] + b',"prev":"%08x' % prev
    return forged + b'","crc":"%08x"}\n' % zlib.crc32(forged)


def test_an_event_the_schema_refuses(tmp_path: Path) -> None:
    sid = write_log(tmp_path, 2)
    log = tmp_path / LOG_NAME
    lines = log.read_bytes().splitlines(keepends=True)
    running = chain(lines[1], chain(lines[0], 0))
    forged = forge(lines[2], running, lambda b: b.replace(b'"success":true', b'"success":"x"'))
    log.write_bytes(lines[0] + lines[1] + forged)
    assert split_line(forged) is not None  # a line we could have written
    with pytest.raises(CorruptionError) as raised:
        seqs_in(tmp_path, sid)
    assert raised.value.kind == "invalid_event"
    assert raised.value.offset == len(lines[0]) + len(lines[1])


def drop_line(lines: list[bytes]) -> list[bytes]:
    return lines[:3] + lines[4:]


def flip_a_byte(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], lines[3][:20] + b"#" + lines[3][21:], *lines[4:]]


def wrong_seq(lines: list[bytes]) -> list[bytes]:
    running = 0
    for line in lines[:3]:
        running = chain(line, running)
    forged = forge(lines[3], running, lambda b: b.replace(b'{"seq":3,', b'{"seq":7,', 1))
    return [*lines[:3], forged, *lines[4:]]


def too_long(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], b"y" * (MAX_LINE + 1)]  # no newline within a line's length


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (flip_a_byte, "checksum_mismatch"),
        (drop_line, "chain_mismatch"),
        (wrong_seq, "seq_gap"),
        (too_long, "line_too_long"),
    ],
)
def test_a_damaged_log_is_refused_at_the_first_wrong_byte(
    tmp_path: Path, damage: Callable[[list[bytes]], list[bytes]], kind: str
) -> None:
    sid = write_log(tmp_path, 6)
    log = tmp_path / LOG_NAME
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(damage(lines)))
    with pytest.raises(CorruptionError) as raised:
        seqs_in(tmp_path, sid)
    assert raised.value.kind == kind, raised.value
    assert raised.value.offset == len(lines[0]) + len(lines[1]) + len(lines[2])
    assert raised.value.path == log and raised.value.session_id == sid


# -- appending -------------------------------------------------------------------------
def new_log(
    tmp_path: Path,
    durability: Durability = "strict",
    count: int = 3,
    committer: GroupCommitter | None = None,
) -> EventLog:
    """A session's directory with a log of ``count`` events, opened for appending."""
    sid = new_session_id()
    where = tmp_path / sid
    with Directory.open_root(where, create=True) as directory:
        write_new_log(directory, header(sid), [stamped(i + 1) for i in range(count)], sync=True)
    return reopened(where / LOG_NAME, sid, durability, committer)


def reopened(
    path: Path, sid: str, durability: Durability = "none", committer: GroupCommitter | None = None
) -> EventLog:
    """A fresh :class:`EventLog` of the log at ``path``, opened (its end found)."""
    log = EventLog(
        lambda: Directory.open_root(path.parent, create=False), path, sid, durability, committer
    )
    log.open()
    return log


def test_a_new_log_is_written_whole(tmp_path: Path) -> None:
    log = new_log(tmp_path, count=2)
    assert sorted(p.name for p in log.path.parent.iterdir()) == [LOG_NAME]  # no temporary left
    assert log.path.stat().st_mode & 0o777 == 0o600
    assert seqs_in(log.path.parent, log.session_id) == [1, 2]
    assert log.end.seq == 2 and log.end.offset == log.path.stat().st_size
    log.close()
    with Directory.open_root(log.path.parent, create=False) as directory:
        big = header(log.session_id, CONFIG.model_copy(update={"focus": "f" * MAX_LINE}))
        before = log.path.read_bytes()
        with pytest.raises(RecordTooLarge):
            write_new_log(directory, big, [], sync=False)
    assert log.path.read_bytes() == before  # refused before anything was written


def test_an_open_log_knows_its_end_from_its_last_line(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.append([stamped(4), stamped(5)])
    log.close()
    again = reopened(log.path, log.session_id)
    assert again.end == log.end and again.last_line_start == log.last_line_start
    again.close()
    again.close()  # closing twice is harmless
    long_line = new_log(tmp_path, count=0)  # a last line longer than the first read window
    long_line.append([stamped(1, events.Failed(error="e" * 300_000))])
    long_line.close()
    again = reopened(long_line.path, long_line.session_id)
    assert again.end == long_line.end and again.last_line_start == long_line.last_line_start
    again.close()


def test_an_append_over_the_limit_changes_nothing(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    before = log.path.read_bytes()
    huge = events.AnalysisCompleted(results={"summary": "x" * MAX_LINE})
    with pytest.raises(RecordTooLarge):
        log.append([stamped(4, huge)])
    assert log.path.read_bytes() == before and log.end.seq == 3
    log.append([stamped(4)])
    log.close()


def test_a_suspended_log_reopens_on_demand(tmp_path: Path) -> None:
    """(Which seqs may be appended is the store's rule: the contract suite checks it.)"""
    log = new_log(tmp_path)
    log.suspend()
    assert not log.is_open
    log.sync()  # a suspended log has nothing to sync
    log.append([stamped(4)])  # reopened on demand
    assert log.is_open and seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]
    log.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]


def test_a_closed_log_takes_no_more_appends(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.close()
    before = log.path.read_bytes()
    with pytest.raises(StorageError):
        log.append([stamped(4)])
    assert log.path.read_bytes() == before


def test_a_log_changed_while_suspended_is_not_written(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.suspend()
    with log.path.open("ab") as other:
        other.write(b"x")
    with pytest.raises(StorageError, match="changed while it was closed"):
        log.append([stamped(4)])
    log.path.write_bytes(log.path.read_bytes()[:-1])  # the same size again, in place...
    log.append([stamped(4)])
    log.suspend()
    copy = log.path.with_name("copy")  # ...but a replaced file (same size, another inode) is not
    shutil.copyfile(log.path, copy)
    copy.replace(log.path)
    before = log.path.read_bytes()
    with pytest.raises(StorageError, match="changed while it was closed"):
        log.append([stamped(5)])
    assert log.path.read_bytes() == before


def test_a_log_changed_under_its_holder(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with log.path.open("ab") as other:
        other.write(b"x")
    with pytest.raises(StorageError, match="changed under its holder"):
        log.append([stamped(4)])
    assert log.path.read_bytes().endswith(b"}\nx")  # nothing appended after a stranger's byte
    log.close()


def test_truncate_to_undoes_appends_even_once_suspended(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    before, before_start = log.end, log.last_line_start
    log.append([stamped(4), stamped(5)])
    log.truncate_to(before, before_start)
    assert log.end == before and log.path.stat().st_size == before.offset
    log.append([stamped(4)])
    log.suspend()
    log.truncate_to(before, before_start)
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3]
    log.append([stamped(4)])
    log.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]


@contextmanager
def failing(name: str, replacement: Callable[..., Any]) -> Iterator[None]:
    """``os.<name>`` replaced for the duration (to reach what a real disk rarely does)."""
    real = getattr(os, name)
    setattr(os, name, replacement)
    try:
        yield
    finally:
        setattr(os, name, real)


def test_a_failed_write_is_cut_back(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    size = log.path.stat().st_size
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[:10])  # part of the line reaches the file...
        raise OSError(errno.ENOSPC, "No space left on device")

    with failing("write", full), pytest.raises(StorageError) as raised:
        log.append([stamped(4)])
    assert raised.value.errno == errno.ENOSPC and raised.value.path == log.path
    assert log.path.stat().st_size == size and log.end.seq == 3  # ...and is cut off again
    log.append([stamped(4)])
    log.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]


def test_a_log_that_cannot_be_cut_back_is_broken_until_reopened(tmp_path: Path) -> None:
    log = new_log(tmp_path, "none")
    size = log.path.stat().st_size
    real_write = os.write

    def torn(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[:10])
        raise OSError(errno.EIO, "I/O error")

    def refused(*_args: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    with failing("write", torn), failing("ftruncate", refused), pytest.raises(StorageError):
        log.append([stamped(4)])
    assert log.path.stat().st_size == size + 10  # the torn bytes stay...
    with pytest.raises(StorageError, match="cannot cut"):
        log.append([stamped(4)])  # ...and this holder writes no more
    log.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3]  # readers skip them
    again = reopened(log.path, log.session_id)  # the next holder cuts them off, keeping a copy
    assert log.path.stat().st_size == size and again.end.seq == 3
    (kept,) = log.path.parent.glob(f"{LOG_NAME}.corrupt-*")
    assert len(kept.read_bytes()) == 10 and kept.stat().st_mode & 0o777 == 0o600
    again.append([stamped(4)])
    again.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]


def test_a_torn_tail_is_cut_on_open_and_kept_in_a_corrupt_file(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.close()
    complete = log.path.read_bytes()
    with log.path.open("ab") as file:
        file.write(b'{"seq":4,"timestamp":"2025')  # a crash mid-write
    again = reopened(log.path, log.session_id)
    assert log.path.read_bytes() == complete and again.end == log.end
    (kept,) = log.path.parent.glob(f"{LOG_NAME}.corrupt-*")
    assert kept.read_bytes() == b'{"seq":4,"timestamp":"2025'
    again.append([stamped(4)])
    again.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4]


def test_a_damaged_last_line_is_not_appended_to(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.close()
    data = bytearray(log.path.read_bytes())
    data[-20] ^= 0x01
    log.path.write_bytes(bytes(data))
    with pytest.raises(CorruptionError) as raised:
        reopened(log.path, log.session_id)
    assert raised.value.kind == "checksum_mismatch"
    assert raised.value.offset == line_offsets(log.path)[-1]
    assert log.path.read_bytes() == bytes(data)  # nothing cut, nothing appended


def test_sync_failure_and_short_writes(tmp_path: Path) -> None:
    log = new_log(tmp_path, "batched")
    log.append([stamped(4)])

    def refused(_fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    with failing("fdatasync", refused), pytest.raises(StorageError, match="sync") as raised:
        log.sync()
    assert raised.value.errno == errno.EIO
    log.sync()  # still unsynced after the failure: synced now
    real_write = os.write

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, bytes(data)[:7])

    with failing("write", short):
        log.append([stamped(5), stamped(6)])  # written seven bytes at a time
    log.close()
    assert seqs_in(log.path.parent, log.session_id) == [1, 2, 3, 4, 5, 6]


def test_the_group_committer_syncs_within_its_window(tmp_path: Path) -> None:
    committer = GroupCommitter(window=0.02)
    log = new_log(tmp_path, "batched", count=0, committer=committer)
    synced: list[float] = []
    real_sync = log.sync

    def counted() -> None:
        synced.append(datetime.now(UTC).timestamp())
        real_sync()

    log.sync = counted  # type: ignore[method-assign]
    written = datetime.now(UTC).timestamp()
    log.append([stamped(1, events.Started())])
    deadline = written + 2
    while not synced and datetime.now(UTC).timestamp() < deadline:
        os.sched_yield()
    assert synced and synced[0] - written < 1.0
    committer.close()
    log.close()
    assert json.loads(log.path.read_bytes().splitlines()[1])["event"]["kind"] == "started"
