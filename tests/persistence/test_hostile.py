"""A store read as hostile input (issue #10): nothing outside it touched, one bad session alone.

Each test damages a real store inside a sandbox (see :mod:`.hostile`), runs
what a user runs — open a manager (with recovery), list, verify, repair,
delete — and asserts the outcome *and* that nothing outside the store changed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import zlib
from pathlib import Path

import pytest

from persistence import (
    CorruptionError,
    InvalidSessionId,
    RecordTooLarge,
    StorageError,
    TinyDBSessionStorage,
    repair,
    verify,
)
from persistence._limits import MAX_LINE
from statecharts import (
    InMemorySessionManager,
    PersistedSession,
    SessionId,
    WorkflowConfig,
    is_session_id,
    new_session_id,
    state,
)

from .hostile import (
    CONFIG,
    Sandbox,
    digest,
    healthy_store,
    make_sandbox,
    no_hang,
    replace_with_fifo,
    replace_with_link,
)

FIXTURES = Path(__file__).parent / "fixtures"


async def use_everything(store_path: Path) -> tuple[InMemorySessionManager, list[SessionId]]:
    """What users run on a store: open (recovering), list, verify, repair; returns what opened."""
    with no_hang(30):
        store = TinyDBSessionStorage(store_path, "none")
        manager = await InMemorySessionManager.open(store)
        listed = [info.id for info in await manager.list_sessions()]
        await verify(store)
        await repair(store)
    return manager, listed


# -- 1. traversal from a crafted database ---------------------------------------------------------
def legacy_store_with(sandbox_root: Path, keys: dict[str, bool]) -> Path:
    """A store of the old layout (one sessions.json) whose database holds crafted keys."""
    store = sandbox_root / "project" / ".sessionchart-old"
    shutil.copytree(FIXTURES / "v2" / "tinydb", store)
    database = store / "sessions.json"
    tables = json.loads(database.read_text())
    template = next(iter(tables["sessions"].values()))
    for key, deleting in keys.items():
        tables["sessions"][key] = {**template, "id": key, "deleting": deleting}
    database.write_text(json.dumps(tables))
    return store


async def test_traversal_and_glob_keys_in_an_old_database_touch_nothing_outside(
    tmp_path: Path,
) -> None:
    sandbox = await make_sandbox(tmp_path)
    old = legacy_store_with(
        sandbox.root,
        {
            "../../outside/x": True,
            "../../outside/home/*": True,
            "../../outside/victim.txt": False,
            "01M8AD5HEDE5QJ7K01JHNNFWKN\n": True,
        },
    )
    before = digest(sandbox.root, skip=old)
    with pytest.raises(StorageError, match="older sessionchart"):  # a read never migrates
        TinyDBSessionStorage(old, read_only=True)
    manager, listed = await use_everything(old)
    assert len(listed) == 3  # the fixture's own sessions, migrated; the crafted keys ignored
    assert all(is_session_id(sid) for sid in listed)
    await manager.aclose()
    assert digest(sandbox.root, skip=old) == before


async def test_a_document_naming_another_session_or_a_path_is_damage(tmp_path: Path) -> None:
    sandbox = await make_sandbox(tmp_path)
    document = sandbox.session(0) / "session.json"
    tables = json.loads(document.read_text())
    raw = tables["session"][sandbox.ids[0]]
    raw["id"] = "../../../outside/x"
    raw["checkpoint"] = {**(raw["checkpoint"] or {}), "file": "../../../outside/x.1.json"}
    raw["holder"] = {"token": "../../owners/x", "host": "h", "pid": 1, "since": raw["created_at"]}
    document.write_text(json.dumps(tables))
    before = sandbox.outside_digest()
    manager, listed = await use_everything(sandbox.store)
    assert listed == sandbox.ids[1:]
    assert sandbox.outside_digest() == before
    await manager.aclose()


# -- 2. symbolic links ----------------------------------------------------------------------------
def _link(sandbox: Sandbox, where: str) -> None:
    victim = sandbox.outside / "victim.txt"
    session = sandbox.session(0)
    checkpoint = next(session.glob("checkpoint-*.json"))
    path, target = {
        "log": (session / "events.jsonl", victim),
        "document": (session / "session.json", victim),
        "lock": (session / "lock", victim),
        "checkpoint": (checkpoint, victim),
        "session": (session, sandbox.outside),
        "sessions": (sandbox.store / "sessions", sandbox.outside),
        "owners": (sandbox.store / "owners", sandbox.outside),
        "marker": (sandbox.store / "sessionchart.json", victim),
    }[where]
    if where == "sessions":
        shutil.rmtree(path)
    replace_with_link(path, target)


@pytest.mark.parametrize("where", ["log", "document", "lock", "checkpoint", "session"])
async def test_a_link_in_a_session_is_never_followed(tmp_path: Path, where: str) -> None:
    sandbox = await make_sandbox(tmp_path)
    _link(sandbox, where)
    before = sandbox.outside_digest()
    manager, listed = await use_everything(sandbox.store)
    if where in ("log", "document", "session"):
        assert sandbox.ids[0] not in listed
    assert set(sandbox.ids[1:]) <= set(listed)
    await manager.aclose()
    assert sandbox.outside_digest() == before


@pytest.mark.parametrize("where", ["sessions", "owners", "marker"])
async def test_a_link_in_the_store_itself_is_refused(tmp_path: Path, where: str) -> None:
    sandbox = await make_sandbox(tmp_path)
    _link(sandbox, where)
    before = sandbox.outside_digest()
    with pytest.raises(CorruptionError, match=r"not a directory|not a regular file"):
        await use_everything(sandbox.store)
    assert sandbox.outside_digest() == before


async def test_a_linked_log_is_set_aside_by_repair_and_its_target_kept(tmp_path: Path) -> None:
    sandbox = await make_sandbox(tmp_path)
    replace_with_link(sandbox.session(1) / "events.jsonl", sandbox.outside / "victim.txt")
    store = TinyDBSessionStorage(sandbox.store, "none")
    report = await repair(store)
    assert report.ok, str(report)
    assert any("set damaged session" in action for action in report.actions)
    assert await store.list() == [sandbox.ids[0], sandbox.ids[2]]
    assert (await verify(store)).ok
    assert (sandbox.outside / "victim.txt").read_text() == "precious victim.txt\n"
    quarantined = list((sandbox.store / "quarantine").iterdir())
    assert len(quarantined) == 1 and (quarantined[0] / "events.jsonl").is_symlink()
    await store.close()


# -- 3. a FIFO where a file belongs ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["events.jsonl", "session.json", "lock", "checkpoint"])
async def test_a_fifo_never_hangs_anything(tmp_path: Path, name: str) -> None:
    sandbox = await make_sandbox(tmp_path)
    session = sandbox.session(0)
    path = next(session.glob("checkpoint-*.json")) if name == "checkpoint" else session / name
    replace_with_fifo(path)
    before = sandbox.outside_digest()
    manager, listed = await use_everything(sandbox.store)  # fails the test on a hang
    assert set(sandbox.ids[1:]) <= set(listed)
    with no_hang(10):
        assert (await verify(manager.storage)).ok  # type: ignore[arg-type]
    await manager.aclose()
    assert sandbox.outside_digest() == before


async def test_a_fifo_as_the_store_marker_is_refused_at_once(tmp_path: Path) -> None:
    sandbox = await make_sandbox(tmp_path)
    replace_with_fifo(sandbox.store / "sessionchart.json")
    with no_hang(10), pytest.raises(CorruptionError, match="not a regular file"):
        TinyDBSessionStorage(sandbox.store, read_only=True)


# -- 4. sizes -------------------------------------------------------------------------------------
async def test_a_configuration_over_the_limit_is_refused_when_written(tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(store_path, "none"))
    huge = CONFIG.model_copy(
        update={"workflow": WorkflowConfig(name="big", steps=({"run": "x" * (17 << 20)},))}
    )
    with pytest.raises(
        RecordTooLarge, match=r"configuration is 17\.\d MiB, over the store's limit"
    ):
        await manager.create_session(huge)
    assert await manager.storage.list() == []  # type: ignore[union-attr]
    assert not list((store_path / "sessions").iterdir())
    sid = await manager.create_session(CONFIG)  # the store goes on
    await manager.start_session(sid)
    await manager.aclose()
    assert (await verify(TinyDBSessionStorage(store_path, read_only=True))).ok


async def test_an_event_over_the_limit_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    manager = await InMemorySessionManager.open(TinyDBSessionStorage(tmp_path / "s", "none"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    with pytest.raises(RecordTooLarge):
        await manager.pause_session(sid, "x" * MAX_LINE)
    assert await manager.get_state(sid) == state.Running(iteration=0)
    assert [e.seq for e in await manager.get_events(sid)] == [1]
    await manager.aclose()


@pytest.mark.parametrize("file", ["session.json", "events.jsonl"])
async def test_an_oversized_file_is_refused_when_read_and_alone(tmp_path: Path, file: str) -> None:
    sandbox = await make_sandbox(tmp_path)
    path = sandbox.session(0) / file
    with path.open("r+b") as handle:  # sparse: 40 MiB of nothing, no newline
        handle.seek(0)
        handle.write(b"{" if file == "session.json" else b'{"format_version":2,"kind":"header"')
        handle.truncate(40 << 20)
    manager, listed = await use_everything(sandbox.store)
    assert sandbox.ids[0] not in listed and set(sandbox.ids[1:]) <= set(listed)
    await manager.aclose()


# -- 5. one broken session never takes the store down ---------------------------------------------
@pytest.mark.parametrize(
    "damage", ["missing log", "bad header", "log is a directory", "bad document"]
)
async def test_a_broken_session_is_reported_and_the_others_run(tmp_path: Path, damage: str) -> None:
    sandbox = await make_sandbox(tmp_path)
    session = sandbox.session(0)
    if damage == "missing log":
        (session / "events.jsonl").unlink()
    elif damage == "bad header":  # and no checkpoint: loading must read the whole log
        data = (session / "events.jsonl").read_bytes()
        (session / "events.jsonl").write_bytes(b"X" + data[1:])
        for checkpoint in session.glob("checkpoint-*.json"):
            checkpoint.unlink()
    elif damage == "log is a directory":
        (session / "events.jsonl").unlink()
        (session / "events.jsonl").mkdir()
    else:
        (session / "session.json").write_text('{"session": {}}')
    store = TinyDBSessionStorage(sandbox.store, "none")
    manager = await InMemorySessionManager.open(store)
    listed = [info.id for info in await manager.list_sessions()]
    assert sandbox.ids[0] not in listed and listed == sandbox.ids[1:]
    assert sandbox.ids[0] in manager.damaged
    other = sandbox.ids[1]
    await manager.resume_session(other)  # the others open and run
    await manager.send(other, "iteration_started", number=5)
    await store.delete(sandbox.ids[0])  # the documented remedy works on a broken session
    assert await store.list() == sandbox.ids[1:]
    assert (await verify(store)).ok
    await manager.aclose()


async def test_repair_sets_aside_what_it_cannot_fix_and_keeps_the_files(tmp_path: Path) -> None:
    sandbox = await make_sandbox(tmp_path)
    log = sandbox.session(2) / "events.jsonl"
    log.write_bytes(b"not a header\n" + log.read_bytes())
    kept = log.read_bytes()
    store = TinyDBSessionStorage(sandbox.store, "none")
    report = await repair(store)
    assert report.ok and (await verify(store)).ok
    aside = next((sandbox.store / "quarantine").iterdir())
    assert (aside / "events.jsonl").read_bytes() == kept
    assert "quarantined" in {n.kind for n in (await verify(store)).notices}
    removal = await repair(store, remove=True)  # nothing left to set aside
    assert removal.ok and not removal.actions
    await store.close()


async def test_repair_can_remove_instead_of_setting_aside(tmp_path: Path) -> None:
    sandbox = await make_sandbox(tmp_path)
    (sandbox.session(0) / "events.jsonl").unlink()
    store = TinyDBSessionStorage(sandbox.store, "none")
    report = await repair(store, remove=True)
    assert report.ok and any("removed damaged session" in a for a in report.actions)
    assert await store.list() == sandbox.ids[1:]
    assert not (sandbox.store / "quarantine").exists()
    await store.close()


# -- 6. repair converges in one run ---------------------------------------------------------------
async def test_five_invalid_documents_are_repaired_in_one_run(tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    ids = await healthy_store(store_path, sessions=6)
    for sid in ids[:5]:
        path = store_path / "sessions" / sid / "session.json"
        tables = json.loads(path.read_text())
        tables["session"][sid]["last_seq"] = "many"
        path.write_text(json.dumps(tables))
    store = TinyDBSessionStorage(store_path, "none")
    assert len((await verify(store)).problems) == 5
    report = await repair(store)
    assert report.ok and len(report.fixed) == 5, str(report)
    assert (await verify(store)).ok and await store.list() == ids
    await store.close()


async def test_an_invalid_event_with_a_right_checksum_is_repaired_in_one_run(
    tmp_path: Path,
) -> None:
    store_path = tmp_path / "store"
    ids = await healthy_store(store_path, sessions=2)
    log = store_path / "sessions" / ids[0] / "events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    bad = lines[2].replace(b'"kind":"iteration_started"', b'"kind":"no_such_event"')
    assert bad != lines[2]  # line 2 is event 2
    lines[2] = bad
    running = 0
    for index, original in enumerate(lines):  # its own crc, and the chain after it, recomputed
        line = original
        if index >= 2:
            body = line[: line.rindex(b',"prev":"')] + b',"prev":"%08x' % running
            line = lines[index] = body + b'","crc":"%08x"}\n' % zlib.crc32(body)
        running = zlib.crc32(line, running)
    log.write_bytes(b"".join(lines))
    store = TinyDBSessionStorage(store_path, "none")
    assert "invalid_event" in {p.kind for p in (await verify(store)).problems}
    report = await repair(store)
    assert report.ok, str(report)
    assert (await verify(store)).ok
    manager = await InMemorySessionManager.open(store)
    kept = await manager.get_events(ids[0])  # up to the damage, then recovered: it was running
    assert [e.event.kind for e in kept] == ["started", "paused"]
    await manager.aclose()


# -- 9, 10: ids and modes -------------------------------------------------------------------------
async def test_an_id_with_a_trailing_newline_is_not_an_id(tmp_path: Path) -> None:
    sid = new_session_id()
    assert not is_session_id(sid + "\n")
    store = TinyDBSessionStorage(tmp_path / "store", "none")
    session = PersistedSession(
        id=sid + "\n", config=CONFIG, state=state.Created(), created_at="2026-01-01T00:00:00Z"
    )
    with pytest.raises(InvalidSessionId):
        await store.save(session)
    assert os.listdir(tmp_path / "store" / "sessions") == []
    await store.close()


def test_every_directory_the_store_makes_is_private_even_under_umask_0(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        asyncio.run(healthy_store(tmp_path / "a" / "b" / "store", sessions=1))
    finally:
        os.umask(old)
    made = [tmp_path / "a", tmp_path / "a" / "b", *(tmp_path / "a").rglob("*")]
    directories = [p for p in made if p.is_dir()]
    assert len(directories) >= 6
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in directories), [
        (p, oct(p.stat().st_mode)) for p in directories
    ]
    files = [p for p in made if p.is_file()]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


# -- 11. verify tells what opening recovers from damage -------------------------------------------
async def test_an_interrupted_creation_and_a_torn_tail_are_notices_not_problems(
    tmp_path: Path,
) -> None:
    sandbox = await make_sandbox(tmp_path)
    leftover = sandbox.store / "sessions" / f".new-{new_session_id()}-0123456789abcdef"
    leftover.mkdir()
    (leftover / "events.jsonl").write_bytes(b"half a header")
    with (sandbox.session(1) / "events.jsonl").open("ab") as log:
        log.write(b'{"seq":99,"half')
    report = await verify(TinyDBSessionStorage(sandbox.store, read_only=True))
    assert report.ok, str(report)
    assert {n.kind for n in report.notices} == {"interrupted_creation", "torn_tail"}
    store = TinyDBSessionStorage(sandbox.store, "none")  # opening puts both right
    manager = await InMemorySessionManager.open(store)
    await manager.resume_session(sandbox.ids[1])
    assert not leftover.exists()
    again = await verify(store)
    assert again.ok and not again.notices, str(again)
    await manager.aclose()
