"""Damaged stores: verify finds the damage, loading refuses it, repair fixes what it says."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from persistence import (
    CorruptionError,
    FileSessionStorage,
    MemorySessionStorage,
    TinyDBSessionStorage,
    repair,
    verify,
)
from statecharts import InMemorySessionManager, SessionConfig, SessionId, TimestampedEvent

from .workload import drive

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


async def make_store(
    path: Path, count: int = 60, checkpoint_at: int | None = 40
) -> tuple[SessionId, list[TimestampedEvent]]:
    """A store with one session of ``count`` events (checkpointed at ``checkpoint_at``)."""
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    sid = await manager.create_session(CONFIG)
    rng = random.Random(7)
    if checkpoint_at:
        await drive(manager, sid, checkpoint_at, rng)
        await manager.save_checkpoint(sid)
    await drive(manager, sid, count - (checkpoint_at or 0), rng)
    if (await manager.get_state(sid)).status == "running":
        await manager.pause_session(sid, reason="done for now")  # nothing left to recover
    stored = await manager.get_events(sid)
    await manager.aclose()
    return sid, stored


def log_of(path: Path, sid: SessionId) -> Path:
    return path.with_name(path.name + ".logs") / f"{sid}.jsonl"


def line_offsets(log: Path) -> list[int]:
    data = log.read_bytes()
    offsets, start = [], 0
    while (end := data.find(b"\n", start)) >= 0:
        offsets.append(start)
        start = end + 1
    return offsets


async def reopen(path: Path) -> InMemorySessionManager:
    return await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))


async def test_a_log_cut_mid_line(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    log = log_of(path, sid)
    last = line_offsets(log)[-1]
    with log.open("r+b") as file:
        file.truncate(last + 25)
    report = await verify(TinyDBSessionStorage(path, "none"))
    # the cut line was the last lifecycle change, which its document records
    assert {(p.kind, p.offset, p.session_id) for p in report.problems} == {
        ("torn_tail", last, sid),
        ("document_mismatch", None, sid),
    }
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and {p.kind for p in fixed.fixed} == {"torn_tail", "document_mismatch"}
    assert Path(str(fixed.backups[0])).read_bytes().startswith(log.read_bytes())
    manager = await reopen(path)
    recovered = await manager.get_events(sid)
    assert recovered[:-1] == stored[:-1]  # every event before the damage...
    assert recovered[-1].event.reason == "interrupted"  # type: ignore[union-attr]
    await manager.aclose()


async def test_an_incomplete_last_line_is_cut_when_its_owner_takes_it_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    log = log_of(path, sid)
    with log.open("ab") as file:
        file.write(b'{"seq":62,"timestamp":')  # a write interrupted by a crash
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored  # readers skip a line in flight
    await manager.resume_session(sid)  # taking the session back cuts the torn tail
    assert [e.seq for e in await manager.get_events(sid)] == list(range(1, len(stored) + 2))
    await manager.aclose()
    kept = list(log.parent.glob(f"{log.name}.corrupt-*"))
    assert [p.read_bytes() for p in kept] == [b'{"seq":62,"timestamp":']
    assert (await verify(TinyDBSessionStorage(path, "none"))).ok


@pytest.mark.parametrize("where", ["before the checkpoint", "after the checkpoint"])
async def test_a_flipped_byte(tmp_path: Path, where: str) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    log = log_of(path, sid)
    offsets = line_offsets(log)
    damaged_seq = 20 if where == "before the checkpoint" else 50
    at = offsets[damaged_seq] + 30  # line 0 is the header
    data = bytearray(log.read_bytes())
    data[at] ^= 0x20
    log.write_bytes(bytes(data))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert [(p.kind, p.offset) for p in report.problems] == [
        ("checksum_mismatch", offsets[damaged_seq])
    ]
    # loading never drops data silently: reading past the damage names the file and byte
    store = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError) as raised:
        [e async for e in store.load_events(sid)]
    assert raised.value.path == log and raised.value.offset == offsets[damaged_seq]
    assert raised.value.kind == "checksum_mismatch"
    await store.close()
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok, str(fixed)
    assert {p.kind for p in fixed.fixed} >= {"checksum_mismatch"}
    assert len(fixed.backups) == 1
    manager = await reopen(path)
    recovered = await manager.get_events(sid)
    assert recovered[: damaged_seq - 1] == stored[: damaged_seq - 1]
    assert [e.event.kind for e in recovered[damaged_seq - 1 :]] in ([], ["paused"])
    await manager.aclose()


async def test_a_missing_line_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path, checkpoint_at=None)
    log = log_of(path, sid)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:10] + lines[11:]))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert [p.kind for p in report.problems] == ["chain_mismatch"]
    assert (await repair(TinyDBSessionStorage(path, "none"))).ok
    manager = await reopen(path)
    assert (await manager.get_events(sid))[:9] == stored[:9]
    await manager.aclose()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.unlink(), id="deleted"),
        pytest.param(lambda db: db.write_bytes(b"\x00\x01garbage{{{"), id="garbage"),
        pytest.param(lambda db: db.write_bytes(b'{"sessions": [1, 2]}'), id="not-tables"),
    ],
)
async def test_a_lost_or_garbled_database_is_rebuilt_from_the_logs(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    other, other_events = await make_store(path, count=5, checkpoint_at=None)
    damage(path)
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert not report.ok
    assert {p.kind for p in report.problems} <= {"missing_document", "unreadable_database"}
    with pytest.raises(CorruptionError):
        await reopen(path)
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok, str(fixed)
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    assert await manager.get_events(other) == other_events
    assert (await manager.get_state(sid)).status == "paused"
    await manager.aclose()


async def test_a_document_that_disagrees_with_its_log(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    database = json.loads(path.read_bytes())
    database["sessions"][sid]["last_seq"] = 500
    path.write_text(json.dumps(database))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert "document_mismatch" in {p.kind for p in report.problems}
    assert (await repair(TinyDBSessionStorage(path, "none"))).ok
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    await manager.aclose()


async def test_an_invalid_document_and_a_damaged_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, stored = await make_store(path)
    checkpoint = next(path.with_name(path.name + ".checkpoints").iterdir())
    checkpoint.write_bytes(checkpoint.read_bytes().replace(b'"seq"', b'"SEQ"', 1))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]
    manager = await reopen(path)  # an untrusted checkpoint is skipped: a full replay instead
    assert await manager.get_events(sid) == stored
    await manager.aclose()
    database = json.loads(path.read_bytes())
    database["sessions"][sid]["state"] = {"status": "no such status"}
    path.write_text(json.dumps(database))
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert [p.kind for p in report.problems] == ["invalid_document"]
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok, str(fixed)
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    await manager.aclose()


async def test_a_missing_log(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, _stored = await make_store(path)
    log_of(path, sid).unlink()
    report = await verify(TinyDBSessionStorage(path, "none"))
    assert [p.kind for p in report.problems] == ["missing_log"]
    store = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError, match="missing_log"):
        [e async for e in store.load_events(sid)]
    with pytest.raises(CorruptionError, match="missing_log"):
        await store.acquire(sid)
    await store.close()
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert not fixed.ok and [p.kind for p in fixed.remaining] == ["missing_log"]
    # a session that never recorded an event gets a new, empty log
    other = tmp_path / "other.json"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(other, "none"))
    fresh = await manager.create_session(CONFIG)
    await manager.aclose()
    log_of(other, fresh).unlink()
    fixed = await repair(TinyDBSessionStorage(other, "none"))
    assert fixed.ok and [p.session_id for p in fixed.fixed] == [fresh]


async def test_a_header_only_log_without_document_is_an_interrupted_creation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.json"
    sid, _stored = await make_store(path, count=0, checkpoint_at=None)
    database = json.loads(path.read_bytes())
    del database["sessions"][sid]
    path.write_text(json.dumps(database))
    manager = await reopen(path)  # adopted, not refused
    assert (await manager.get_state(sid)).status == "created"
    await manager.aclose()


async def test_verify_through_the_port_for_other_stores(tmp_path: Path) -> None:
    memory = MemorySessionStorage()
    manager = await InMemorySessionManager.open(memory)
    sid = await manager.create_session(CONFIG)
    await drive(manager, sid, 30, random.Random(3))
    await manager.save_checkpoint(sid)
    assert (await verify(memory)).ok
    assert (await repair(memory)).ok
    files = FileSessionStorage(tmp_path / "files")
    manager = await InMemorySessionManager.open(files)
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.aclose()
    (tmp_path / "files" / f"{sid}.json").write_bytes(b"{not json")
    report = await verify(FileSessionStorage(tmp_path / "files"))
    assert [(p.kind, p.session_id) for p in report.problems] == [("unreadable_document", sid)]
    assert not (await repair(FileSessionStorage(tmp_path / "files"))).ok
