"""``cook events --follow`` and ``cook watch`` on a PostgreSQL store, woken by the bridge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from persistence import PostgresSessionStorage
from statecharts import InMemorySessionManager, SessionConfig

from ..cook.cli import start
from .helpers import store_url

pytestmark = pytest.mark.postgres

CONFIG = SessionConfig(project_path="/work/project", max_iterations=3)


async def test_followers_in_other_processes_see_every_transition_in_order(
    pg_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    location = store_url(pg_dsn, pg_schema)
    manager = await InMemorySessionManager.open(PostgresSessionStorage(location))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    follower = start("events", sid, "--follow", "--json", "--store", location, cwd=tmp_path)
    watcher = start("watch", sid, "--json", "--store", location, cwd=tmp_path)
    await asyncio.sleep(1)  # both are waiting for news by now (neither has to be)
    for number in (1, 2, 3):
        await manager.send(sid, "iteration_started", number=number)
        await manager.send(sid, "command_executed", command=f"step {number}", success=True)
        await manager.send(sid, "iteration_completed")
        await asyncio.sleep(0.1)
    await manager.complete_session(sid)
    expected = [e.seq for e in await manager.get_events(sid)]
    await manager.aclose()

    out, err = await asyncio.to_thread(follower.communicate, timeout=60)
    assert follower.returncode == 0, err
    followed = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in followed] == expected == list(range(1, 12))
    assert followed[-1]["event"]["kind"] == "completed"

    out, err = await asyncio.to_thread(watcher.communicate, timeout=60)
    assert watcher.returncode == 0, err  # a completed session: exit 0
    watched = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in watched] == expected
    assert watched[-1]["state"]["status"] == "completed"
