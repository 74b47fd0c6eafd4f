"""Fuzzing the store as hostile input: mutated documents, logs and files, then open, verify, repair.

Hypothesis damages a healthy store (a few sessions, with checkpoints) in one
to three ways — bytes flipped, files cut or padded, JSON fields replaced by
hostile values (paths, globs, newlines, other ids, huge numbers), files
replaced by links out of the store, FIFOs or directories — and runs what users
run on it.  It asserts that each run ends in success or a typed error
(:class:`~statecharts.SessionError`), never a hang, never a write outside the
store, and that one repair leaves a store that :func:`~persistence.verify`
passes.  ``SESSIONCHART_FUZZ_EXAMPLES`` sets the budget (default 60).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persistence import TinyDBSessionStorage, repair, verify
from statecharts import InMemorySessionManager, SessionError

from .hostile import digest, healthy_store, no_hang, replace_with_fifo, replace_with_link

EXAMPLES = int(os.environ.get("SESSIONCHART_FUZZ_EXAMPLES", "60"))

HOSTILE: list[Any] = [
    "../../../outside/x",
    "../../outside/home/*",
    "01M8AD5HEDE5QJ7K01JHNNFWKN\n",
    "/etc/passwd",
    "*",
    "",
    None,
    -1,
    10**30,
    {"nested": ["deep"] * 3},
    "a" * 5000,
]
FIELDS = [
    "id",
    "last_seq",
    "state",
    "holder",
    "checkpoint",
    "config",
    "created_at",
    "format_version",
]
HOLDER_FIELDS = ["token", "host", "pid", "since"]
CHECKPOINT_FIELDS = ["file", "seq", "offset", "line_start", "crc", "log_hash"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy store of three sessions (one running, one paused, one completed)."""
    store = tmp_path_factory.mktemp("template") / "store"
    ids = asyncio.run(healthy_store(store, sessions=3))

    async def finish() -> None:
        manager = await InMemorySessionManager.open(TinyDBSessionStorage(store, "none"))
        await manager.resume_session(ids[0])  # left running by a process that is gone
        await manager.resume_session(ids[2])
        await manager.complete_session(ids[2])
        await manager.storage.close()  # type: ignore[union-attr]
        manager.close()

    asyncio.run(finish())
    return store


def _files(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file() and "owners" not in p.parts)


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    try:
        tables = json.loads(path.read_bytes())
        document = next(iter(tables["session"].values()))
    except (ValueError, KeyError, StopIteration, AttributeError, TypeError):
        return
    edit(document)
    path.write_text(json.dumps(tables))


@st.composite
def damages(draw: st.DrawFn) -> list[tuple[str, int, Any]]:
    """One to three damages: (what, which file by index, a value or a byte position)."""
    kinds = st.sampled_from(
        [
            "flip",
            "cut",
            "pad",
            "field",
            "holder",
            "checkpoint",
            "link",
            "fifo",
            "dir",
            "remove",
            "session",
        ]
    )
    return draw(
        st.lists(
            st.tuples(
                kinds, st.integers(0, 10**6), st.one_of(st.sampled_from(HOSTILE), st.integers())
            ),
            min_size=1,
            max_size=3,
        )
    )


def _damage(store: Path, outside: Path, kind: str, index: int, value: Any) -> None:
    if kind == "session":  # a whole session's directory swapped for a link out, or a file
        sessions = sorted(
            p for p in (store / "sessions").iterdir() if p.is_dir() and not p.is_symlink()
        )
        if sessions:
            chosen = sessions[index % len(sessions)]
            shutil.rmtree(chosen)
            if index % 2:
                chosen.symlink_to(outside)
            else:
                chosen.write_text(str(value))
        return
    files = _files(store)
    if not files:
        return
    path = files[index % len(files)]
    if not path.is_file() or path.is_symlink():
        return
    data = path.read_bytes()
    if kind == "flip" and data:
        at = index % len(data)
        path.write_bytes(data[:at] + bytes([data[at] ^ (1 + index % 255)]) + data[at + 1 :])
    elif kind == "cut":
        path.write_bytes(data[: index % (len(data) + 1)])
    elif kind == "pad":
        path.write_bytes(data + (str(value) * 3).encode()[:4096])
    elif kind == "field" and path.name == "session.json":
        _edit_json(path, lambda d: d.__setitem__(FIELDS[index % len(FIELDS)], value))
    elif kind == "holder" and path.name == "session.json":
        holder = {
            "token": "0123456789abcdef",
            "host": "h",
            "pid": 1,
            "since": "2026-01-01T00:00:00Z",
        }
        holder[HOLDER_FIELDS[index % len(HOLDER_FIELDS)]] = value
        _edit_json(path, lambda d: d.__setitem__("holder", holder))
    elif kind == "checkpoint" and path.name == "session.json":
        field = CHECKPOINT_FIELDS[index % len(CHECKPOINT_FIELDS)]
        _edit_json(path, lambda d: (d.get("checkpoint") or {}).__setitem__(field, value))
    elif kind == "link":
        replace_with_link(path, outside / "victim.txt")
    elif kind == "fifo":
        replace_with_fifo(path)
    elif kind == "dir":
        path.unlink()
        path.mkdir()
    elif kind == "remove":
        path.unlink()


async def _use(store_path: Path) -> None:
    """Open, recover, list, read, verify, repair — then verify again: it must pass."""
    try:
        store = TinyDBSessionStorage(store_path, "none")
    except SessionError:
        return  # the store's own structure is damaged: refused with a typed error
    try:
        with suppress(SessionError):  # what a user runs: each may fail, with a typed error only
            manager = await InMemorySessionManager.open(store)
            for info in await manager.list_sessions():
                with suppress(SessionError):
                    await manager.get_events(info.id)
        await verify(store)
        report = await repair(store)
        assert report.ok, str(report)
        assert (await verify(store)).ok
    finally:
        await store.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damages())
def test_a_damaged_store_gives_a_typed_error_or_repairs_in_one_run(
    template: Path, damage: list[tuple[str, int, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Path(directory)
        outside = sandbox / "outside"
        outside.mkdir()
        (outside / "victim.txt").write_text("precious\n")
        store = sandbox / "store"
        shutil.copytree(template, store)
        for kind, index, value in damage:
            _damage(store, outside, kind, index, value)
        before = digest(sandbox, skip=store)
        with no_hang(30):
            asyncio.run(_use(store))
        assert digest(sandbox, skip=store) == before
