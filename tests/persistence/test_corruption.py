"""Damaged stores: verify finds the damage, loading refuses it, repair fixes or sets aside.

Each session of a TinyDB store has its own directory, so damage stays in one
session: it is reported (``verify``, ``manager.damaged``), repaired from its
log when that is safe, set aside in ``quarantine/`` when it is not — and the
other sessions open and run all along.
"""

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
    StorageError,
    TinyDBSessionStorage,
    repair,
    verify,
)
from statecharts import (
    InMemorySessionManager,
    PersistedSession,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    TimestampedEvent,
)
from statecharts._session import LiveSession

from .layout_helpers import (
    checkpoint_files,
    corrupt_copies,
    document,
    document_path,
    edit_document,
    line_offsets,
    log_path,
    quarantined,
    session_dir,
    stored_files,
)
from .workload import drive

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


async def make_store(
    path: Path, count: int = 60, checkpoint_at: int | None = 40
) -> tuple[SessionId, list[TimestampedEvent]]:
    """Add to the store at ``path`` a paused session of about ``count`` events.

    Its latest checkpoint is at ``checkpoint_at`` (with events after it): the
    session is built in memory and saved whole, since a store-backed manager
    checkpoints on its own whenever a session pauses.
    """
    memory = InMemorySessionManager()
    sid = await memory.create_session(CONFIG)
    rng = random.Random(7)
    checkpoints: tuple[SessionCheckpoint, ...] = ()
    if checkpoint_at:
        await drive(memory, sid, checkpoint_at, rng)
        checkpoints = (await memory.save_checkpoint(sid),)
    if count:
        await drive(memory, sid, count - (checkpoint_at or 0), rng)
        if (await memory.get_state(sid)).status == "running":
            await memory.pause_session(sid, reason="done for now")  # nothing left to recover
    live = await memory._reading(sid)
    store = TinyDBSessionStorage(path, "none")
    await store.save(
        PersistedSession(
            id=sid,
            config=CONFIG,
            state=live.state,
            created_at=live.created_at,
            events=tuple(live.events),
            checkpoints=checkpoints,
        )
    )
    await store.close()
    memory.close()
    return sid, list(live.events)


async def drive_in_store(
    path: Path, count: int, seed: int
) -> tuple[SessionId, list[TimestampedEvent]]:
    """Add a session driven event by event through a store-backed manager, paused at the end."""
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    sid = await manager.create_session(CONFIG)
    await drive(manager, sid, count, random.Random(seed))
    if (await manager.get_state(sid)).status == "running":
        await manager.pause_session(sid, reason="done for now")
    stored = await manager.get_events(sid)
    await manager.aclose()
    return sid, stored


async def reopen(path: Path) -> InMemorySessionManager:
    return await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))


async def check(path: Path) -> None:
    """The store verifies, with nothing left to notice."""
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert report.ok and report.notices == (), str(report)


async def test_a_log_cut_mid_line(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, stored = await make_store(path)
    log = log_path(path, sid)
    last = line_offsets(log)[-1]
    cut = log.read_bytes()[last : last + 25]
    with log.open("r+b") as file:
        file.truncate(last + 25)
    old_document = document_path(path, sid).read_bytes()
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    # the cut line was the last lifecycle change, which its document records
    assert {(p.kind, p.offset, p.session_id) for p in report.problems} == {
        ("document_mismatch", None, sid)
    }
    assert [(n.kind, n.offset, n.session_id) for n in report.notices] == [("torn_tail", last, sid)]
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and {p.kind for p in fixed.fixed} == {"document_mismatch"}, str(fixed)
    (backup,) = fixed.backups  # the document it rebuilt from the log, kept
    assert backup.parent == session_dir(path, sid) and backup.read_bytes() == old_document
    manager = await reopen(path)  # the torn tail is cut when the session is taken back
    recovered = await manager.get_events(sid)
    assert recovered[:-1] == stored[:-1]  # every event before the damage...
    assert recovered[-1].event.reason == "interrupted"  # type: ignore[union-attr]
    await manager.aclose()
    assert [p.read_bytes() for p in corrupt_copies(path, sid)] == [cut]  # ...and the torn bytes
    await check(path)


async def test_an_incomplete_last_line_is_cut_when_its_holder_takes_it_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    sid, stored = await drive_in_store(path, 60, seed=7)
    log = log_path(path, sid)
    with log.open("ab") as file:
        file.write(b'{"seq":62,"timestamp":')  # a write interrupted by a crash
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert report.ok and [n.kind for n in report.notices] == ["torn_tail"]  # nothing lost
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored  # readers skip a line in flight
    await manager.resume_session(sid)  # taking the session back cuts the torn tail
    assert [e.seq for e in await manager.get_events(sid)] == list(range(1, len(stored) + 2))
    await manager.aclose()
    assert [p.read_bytes() for p in corrupt_copies(path, sid)] == [b'{"seq":62,"timestamp":']
    await check(path)


@pytest.mark.parametrize("where", ["before the checkpoint", "after the checkpoint"])
async def test_a_flipped_byte(tmp_path: Path, where: str) -> None:
    path = tmp_path / "store"
    sid, stored = await make_store(path)
    log = log_path(path, sid)
    offsets = line_offsets(log)
    damaged_seq = 20 if where == "before the checkpoint" else 50
    at = offsets[damaged_seq] + 30  # line 0 is the header
    data = bytearray(log.read_bytes())
    data[at] ^= 0x20
    log.write_bytes(bytes(data))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [(p.kind, p.offset) for p in report.problems] == [
        ("checksum_mismatch", offsets[damaged_seq])
    ]
    # loading never drops data silently: reading past the damage names the file and byte
    store = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError) as raised:
        [e async for e in store.load_events(sid)]
    assert raised.value.path == log and raised.value.offset == offsets[damaged_seq]
    assert raised.value.kind == "checksum_mismatch" and raised.value.session_id == sid
    await store.close()
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok, str(fixed)
    assert {p.kind for p in fixed.fixed} >= {"checksum_mismatch"}
    copies = {backup.name.split(".corrupt-")[0]: backup for backup in fixed.backups}
    assert sorted(copies) == ["events.jsonl", "session.json"]
    assert copies["events.jsonl"].read_bytes() == bytes(data)  # the whole damaged log, kept
    assert log.read_bytes() == bytes(data[: offsets[damaged_seq]])  # cut at the damage
    # a checkpoint beyond the cut is dropped; one before it is kept
    checkpoint = document(path, sid)["checkpoint"]
    assert (checkpoint and checkpoint["seq"]) == (None if damaged_seq < 40 else 40)
    manager = await reopen(path)
    recovered = await manager.get_events(sid)
    assert recovered[: damaged_seq - 1] == stored[: damaged_seq - 1]
    assert [e.event.kind for e in recovered[damaged_seq - 1 :]] in ([], ["paused"])
    await manager.aclose()
    await check(path)


async def test_a_missing_line_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, stored = await make_store(path, checkpoint_at=None)
    log = log_path(path, sid)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:10] + lines[11:]))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [(p.kind, p.offset) for p in report.problems] == [
        ("chain_mismatch", sum(map(len, lines[:10])))
    ]
    assert (await repair(TinyDBSessionStorage(path, "none"))).ok
    manager = await reopen(path)
    assert (await manager.get_events(sid))[:9] == stored[:9]
    await manager.aclose()


def not_json(document: Path) -> None:
    document.write_bytes(b"\x00\x01garbage{{{")


def not_tables(document: Path) -> None:
    document.write_bytes(b'{"session": [1, 2]}')


def cut_short(document: Path) -> None:
    document.write_bytes(document.read_bytes()[:40])


def invalid_state(document: Path) -> None:
    tables = json.loads(document.read_bytes())
    (fields,) = tables["session"].values()
    fields["state"] = {"status": "no such status"}
    document.write_text(json.dumps(tables))


def of_another_session(document: Path) -> None:
    tables = json.loads(document.read_bytes())
    ((_sid, fields),) = tables["session"].items()
    document.write_text(json.dumps({"session": {"01" + "Z" * 24: fields}}))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(Path.unlink, id="deleted"),
        pytest.param(not_json, id="garbage"),
        pytest.param(not_tables, id="not-tables"),
        pytest.param(cut_short, id="cut-short"),
        pytest.param(invalid_state, id="invalid-state"),
        pytest.param(of_another_session, id="another-session-s"),
    ],
)
async def test_a_damaged_document_is_rebuilt_from_its_log_and_the_others_run(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    path = tmp_path / "store"
    sid, stored = await drive_in_store(path, 40, seed=7)
    other, other_events = await drive_in_store(path, 5, seed=8)
    damage(document_path(path, sid))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert not report.ok
    assert {p.session_id for p in report.problems} == {sid}
    assert {p.kind for p in report.problems} <= {"missing_document", "invalid_document"}
    # the damaged session is reported and left out; the other one opens and runs
    manager = await reopen(path)
    assert [info.id for info in await manager.list_sessions()] == [other]
    assert set(manager.damaged) == {sid}
    with pytest.raises(CorruptionError):
        await manager.get_state(sid)
    assert (await manager.resume_session(other)).status == "running"
    assert await manager.get_events(other, after_seq=len(other_events)) != []
    await manager.pause_session(other)
    other_events = await manager.get_events(other)
    await manager.aclose()
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and {p.session_id for p in fixed.fixed} == {sid}, str(fixed)
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    assert await manager.get_events(other) == other_events
    live = await manager._reading(sid)
    replayed = LiveSession(sid, CONFIG, live.created_at)
    replayed.replay(stored)
    assert replayed.same_as(live) and live.state.status == "paused"
    await manager.aclose()
    await check(path)


async def test_a_session_beyond_repair_is_set_aside_and_the_others_run(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, _stored = await drive_in_store(path, 30, seed=3)
    other, other_events = await drive_in_store(path, 10, seed=4)
    not_json(document_path(path, sid))
    log = log_path(path, sid)
    log.write_bytes(b"#" + log.read_bytes()[1:])  # the header too: nothing to rebuild it from
    files = stored_files(session_dir(path, sid))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert {(p.kind, p.session_id) for p in report.problems} == {
        ("invalid_document", sid),
        ("bad_header", sid),
    }
    kept = await repair(TinyDBSessionStorage(path, "none"), quarantine=False)
    assert not kept.ok and stored_files(session_dir(path, sid)) == files  # left as it was
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and {p.kind for p in fixed.fixed} == {"invalid_document", "bad_header"}
    assert not session_dir(path, sid).exists()
    (aside,) = quarantined(path)
    assert aside.name.startswith(f"{sid}-")
    assert {p.name: b for p, b in stored_files(aside).items()} == {
        p.name: b for p, b in files.items()
    }  # set aside with every file, as it was
    manager = await reopen(path)
    assert [info.id for info in await manager.list_sessions()] == [other]
    assert manager.damaged == {}
    await manager.resume_session(other)
    assert [e.seq for e in await manager.get_events(other)] == list(range(1, len(other_events) + 2))
    await manager.aclose()
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert report.ok and [n.kind for n in report.notices] == ["quarantined"]


async def test_a_damaged_log_header_is_rebuilt_from_the_document(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, stored = await drive_in_store(path, 20, seed=5)
    log = log_path(path, sid)
    original = log.read_bytes()
    log.write_bytes(b"#" + original[1:])
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [(p.kind, p.offset) for p in report.problems] == [("bad_header", 0)]
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and any("rebuilt the log header" in a for a in fixed.actions), str(fixed)
    assert log.read_bytes() == original  # the very header: the chain after it holds
    assert [p.read_bytes() for p in corrupt_copies(path, sid)] == [b"#" + original[1:]]
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    await manager.aclose()
    # a header the document does not give back (its chain breaks): set aside, not guessed
    log.write_bytes(b"#" + original[1:])
    edit_document(path, sid, lambda fields: fields["config"].update(max_iterations=7))
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and not session_dir(path, sid).exists()
    (aside,) = quarantined(path)
    assert (aside / "events.jsonl").read_bytes() == b"#" + original[1:]


async def test_repair_can_remove_instead(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, _stored = await drive_in_store(path, 10, seed=3)
    other, _other_events = await drive_in_store(path, 10, seed=4)
    not_json(document_path(path, sid))
    log = log_path(path, sid)
    log.write_bytes(b"#" + log.read_bytes()[1:])
    fixed = await repair(TinyDBSessionStorage(path, "none"), remove=True)
    assert fixed.ok and any(f"removed damaged session {sid}" in a for a in fixed.actions)
    assert not session_dir(path, sid).exists() and quarantined(path) == []
    assert list((path / "trash").iterdir()) == []
    assert await TinyDBSessionStorage(path, read_only=True).list() == [other]
    await check(path)


async def test_a_document_that_disagrees_with_its_log(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, stored = await make_store(path)
    edit_document(path, sid, lambda fields: fields.update(last_seq=500))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert "document_mismatch" in {p.kind for p in report.problems}
    assert (await repair(TinyDBSessionStorage(path, "none"))).ok
    assert document(path, sid)["last_seq"] == len(stored)
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    await manager.aclose()


async def test_an_invalid_document_and_a_damaged_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, stored = await make_store(path)
    (checkpoint,) = checkpoint_files(path, sid)
    checkpoint.write_bytes(checkpoint.read_bytes().replace(b'"seq"', b'"SEQ"', 1))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]
    store = TinyDBSessionStorage(path, "none")
    head = await store.load_head(sid)
    assert head is not None and head.checkpoint is None  # an untrusted checkpoint is skipped
    await store.close()
    manager = await reopen(path)  # ...and the whole log replayed instead
    assert await manager.get_events(sid) == stored
    live = await manager._reading(sid)
    assert live.last_seq == len(stored) and live.checkpoint_seq == 0
    await manager.aclose()
    edit_document(path, sid, lambda fields: fields.update(state={"status": "no such status"}))
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [p.kind for p in report.problems] == ["invalid_document"]
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok, str(fixed)
    assert document(path, sid)["checkpoint"] is None  # the damaged checkpoint is dropped
    manager = await reopen(path)
    assert await manager.get_events(sid) == stored
    await manager.aclose()
    await check(path)


async def test_a_missing_log(tmp_path: Path) -> None:
    path = tmp_path / "store"
    sid, _stored = await make_store(path)
    log_path(path, sid).unlink()
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [(p.kind, p.path) for p in report.problems] == [("missing_log", log_path(path, sid))]
    store = TinyDBSessionStorage(path, "none")
    with pytest.raises(CorruptionError, match="missing_log"):
        [e async for e in store.load_events(sid)]
    await store.close()
    kept = await repair(TinyDBSessionStorage(path, "none"), quarantine=False)
    assert not kept.ok and [p.kind for p in kept.remaining] == ["missing_log"]
    # its events are lost with it: nothing to rebuild, the session is set aside
    fixed = await repair(TinyDBSessionStorage(path, "none"))
    assert fixed.ok and [p.kind for p in fixed.fixed] == ["missing_log"]
    (aside,) = quarantined(path)
    assert (aside / "session.json").exists()
    # a session that never recorded an event gets a new, empty log
    other = tmp_path / "other"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(other, "none"))
    fresh = await manager.create_session(CONFIG)
    await manager.aclose()
    log_path(other, fresh).unlink()
    fixed = await repair(TinyDBSessionStorage(other, "none"))
    assert fixed.ok and [p.session_id for p in fixed.fixed] == [fresh]
    manager = await reopen(other)
    await manager.start_session(fresh)
    assert [e.event.kind for e in await manager.get_events(fresh)] == ["started"]
    await manager.aclose()


async def test_taking_a_session_whose_log_is_missing_is_a_corruption_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, "none"))
    sid = await manager.create_session(CONFIG)
    log_path(path, sid).unlink()
    with pytest.raises(StorageError) as raised:
        await manager.start_session(sid)
    assert isinstance(raised.value, CorruptionError) and raised.value.kind == "missing_log"
    await manager.aclose()


async def test_a_session_without_its_document_is_rebuilt_from_its_log_header(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    sid, _stored = await make_store(path, count=0, checkpoint_at=None)
    document_path(path, sid).unlink()
    report = await verify(TinyDBSessionStorage(path, read_only=True))
    assert [p.kind for p in report.problems] == ["missing_document"]
    assert (await repair(TinyDBSessionStorage(path, "none"))).ok
    manager = await reopen(path)
    assert (await manager.get_state(sid)).status == "created"
    await manager.start_session(sid)
    await manager.aclose()
    await check(path)


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
