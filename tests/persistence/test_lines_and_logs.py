"""The log format and the log file, unit by unit: every way a line or a log can be wrong."""

from __future__ import annotations

import errno
import json
import os
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persistence import CorruptionError, StorageError
from persistence.durability import GroupCommitter
from persistence.eventlog import EventLog
from persistence.lines import (
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
from persistence.logs import LogPosition, LogReader, position_problem, read_header
from statecharts import SessionConfig, TimestampedEvent, events, new_session_id

CONFIG = SessionConfig(project_path="/p", max_iterations=5)
NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def stamped(seq: int, event: events.SessionEvent | None = None) -> TimestampedEvent:
    return TimestampedEvent(
        seq=seq, timestamp=NOW, event=event or events.CommandExecuted(command="x", success=True)
    )


def header(session_id: str) -> LogHeader:
    return LogHeader(format_version=1, session_id=session_id, created_at=NOW, config=CONFIG)


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
def test_lines_round_trip_and_chain(payloads: list[events.SessionEvent], prev: int) -> None:
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


def test_seq_prefix_and_hashes() -> None:
    assert line_seq(b'{"kind":"header"}') is None
    assert line_seq(b'{"seq":x,') is None
    assert parse_hash(format_hash(0xABCDEF)) == 0xABCDEF
    assert parse_hash(None) is None
    assert parse_hash("sha256:00") is None


def test_headers_and_batches() -> None:
    sid = new_session_id()
    line = encode_header(header(sid))
    assert LogHeader.model_validate(decode_header(line)) == header(sid)
    good, _ = encode_event(stamped(1), 0)
    bad = good.replace(b'"command":"x"', b'"command":""')
    with pytest.raises(LineError) as raised:
        decode_events([good, bad])
    assert raised.value.index == 1


# -- reading a log ---------------------------------------------------------------------
def write_log(path: Path, count: int, sid: str | None = None) -> str:
    sid = sid or new_session_id()
    head = encode_header(header(sid))
    body, _running, _lengths = encode_events([stamped(i + 1) for i in range(count)], chain(head, 0))
    path.write_bytes(head + body)
    return sid


def test_reading_from_a_known_position(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sid = write_log(path, 10)
    _, start = read_header(path, sid)
    reader = LogReader(path, sid, start)
    assert [e.seq for batch in reader.events(4) for e in batch] == list(range(5, 11))
    assert reader.end.seq == 10 and reader.torn == 0
    assert position_problem(path, reader.end, reader.last_line_start) is None
    again = LogReader(path, sid, reader.end)
    assert list(again.events()) == []
    assert position_problem(path, LogPosition(5, 0, 1), 5) == "the position is invalid"
    wrong = reader.end._replace(running=reader.end.running ^ 1)
    assert position_problem(path, wrong, reader.last_line_start) == "the log before it changed"
    other_seq = reader.end._replace(seq=9)
    assert "another seq" in str(position_problem(path, other_seq, reader.last_line_start))
    assert "damaged" in str(position_problem(path, reader.end, reader.last_line_start + 1))
    assert position_problem(tmp_path / "gone", reader.end, reader.last_line_start)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "damaged or incomplete"),
        (b'{"format_version":1}\n', "damaged or incomplete"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorruptionError, match=message) as raised:
        read_header(path, new_session_id())
    assert raised.value.kind == "bad_header" and raised.value.offset == 0


def test_a_header_of_another_session_or_not_a_header(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_log(path, 0)
    with pytest.raises(CorruptionError, match="the one of session"):
        read_header(path, new_session_id())
    event_line, _ = encode_event(stamped(1), 0)
    path.write_bytes(event_line)
    with pytest.raises(CorruptionError, match="not one"):
        read_header(path, new_session_id())


def test_an_event_the_schema_refuses(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sid = write_log(path, 2)
    lines = path.read_bytes().splitlines(keepends=True)
    running = chain(lines[0], 0)
    running = chain(lines[1], running)
    raw = lines[2][:-SUFFIX_LENGTH] + b"}"
    forged = raw.replace(b'"success":true', b'"success":"maybe"')
    forged_line = forged[:-1] + b',"prev":"%08x' % running
    forged_line += b'","crc":"%08x"}\n' % zlib.crc32(forged_line)
    path.write_bytes(lines[0] + lines[1] + forged_line)
    assert split_line(forged_line) is not None  # a line we could have written
    with pytest.raises(CorruptionError) as raised:
        [e for batch in LogReader(path, sid, read_header(path, sid)[1]).events() for e in batch]
    assert raised.value.kind == "invalid_event"
    assert raised.value.offset == len(lines[0]) + len(lines[1])


# -- appending -------------------------------------------------------------------------
def open_log(tmp_path: Path, durability: str = "strict", count: int = 3) -> EventLog:
    sid = new_session_id()
    return EventLog.create(
        tmp_path / f"{sid}.jsonl",
        header(sid),
        [stamped(i + 1) for i in range(count)],
        durability,
        None,  # type: ignore[arg-type]
    )


def test_an_open_log_knows_its_end_from_its_last_line(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.append([stamped(4), stamped(5)])
    log.close()
    reopened = EventLog.open(log.path, log.session_id, "none", None)
    assert reopened.end == log.end and reopened.last_line_start == log.last_line_start
    reopened.close()
    reopened.close()  # closing twice is harmless
    long_line = open_log(tmp_path, count=0)  # a last line longer than the first read window
    long_line.append([stamped(1, events.Failed(error="e" * 300_000))])
    long_line.close()
    again = EventLog.open(long_line.path, long_line.session_id, "none", None)
    assert again.end == long_line.end
    again.close()


def test_out_of_order_and_closed(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    with pytest.raises(StorageError, match="does not follow"):
        log.append([stamped(9)])
    log.close()
    with pytest.raises(StorageError, match="closed"):
        log.append([stamped(4)])
    log.sync()  # a closed log has nothing to sync


def test_a_log_changed_under_its_owner(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    with log.path.open("ab") as other:
        other.write(b"x")
    with pytest.raises(StorageError, match="changed under its owner"):
        log.append([stamped(4)])
    log.close()


def test_a_failed_write_is_cut_back(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    size = log.path.stat().st_size
    real_write = os.write

    def failing(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[:10])  # part of the line reaches the file...
        raise OSError(errno.ENOSPC, "No space left on device")

    os.write = failing  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError) as raised:
            log.append([stamped(4)])
    finally:
        os.write = real_write
    assert raised.value.errno == errno.ENOSPC
    assert log.path.stat().st_size == size  # ...and is cut off again
    log.append([stamped(4)])
    log.close()


def test_a_log_that_cannot_be_cut_back_is_broken(tmp_path: Path) -> None:
    log = open_log(tmp_path, "none")
    real_write, real_truncate = os.write, os.ftruncate

    def failing(*_args: object) -> int:
        raise OSError(errno.EIO, "I/O error")

    os.write, os.ftruncate = failing, failing  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError):
            log.append([stamped(4)])
    finally:
        os.write, os.ftruncate = real_write, real_truncate
    with pytest.raises(StorageError, match="cannot cut"):
        log.append([stamped(4)])
    log.close()


def test_sync_failure_and_short_writes(tmp_path: Path) -> None:
    log = open_log(tmp_path, "batched")
    real_sync, real_write = os.fdatasync, os.write

    def failing(_fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, bytes(data)[:7])

    os.fdatasync = failing  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError, match="sync"):
            log.sync()
    finally:
        os.fdatasync = real_sync
    os.write = short  # type: ignore[assignment]
    try:
        log.append([stamped(4)])  # written seven bytes at a time
    finally:
        os.write = real_write
    log.close()
    assert [
        e.seq
        for batch in LogReader(
            log.path, log.session_id, read_header(log.path, log.session_id)[1]
        ).events()
        for e in batch
    ] == [1, 2, 3, 4]


def test_the_group_committer_syncs_within_its_window(tmp_path: Path) -> None:
    committer = GroupCommitter(window=0.02)
    log = EventLog.create(tmp_path / "a.jsonl", header("01" + "A" * 24), [], "batched", committer)
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
