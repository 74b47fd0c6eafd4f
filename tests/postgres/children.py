"""Child processes for the PostgreSQL tests: ``python -m tests.postgres.children COMMAND ...``.

Each prints one JSON line on stdout when it is done, so the test can check
what it did against what the database holds.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from contextlib import suppress

from persistence import ConcurrentModification, PostgresSessionStorage
from statecharts import (
    IllegalTransition,
    InMemorySessionManager,
    SessionConfig,
    SessionId,
    SessionLocked,
)

from ..persistence.workload import drive

CONFIG = SessionConfig(project_path="/work/project", max_iterations=1_000_000)


async def drive_many(dsn: str, schema: str, sessions: int, events: int, pause: float) -> None:
    """Create ``sessions`` sessions and drive each through ``events`` events, all at once."""
    store = PostgresSessionStorage(dsn, schema=schema, pool_size=8)
    manager = await InMemorySessionManager.open(store)
    ids = [await manager.create_session(CONFIG) for _ in range(sessions)]
    print(json.dumps({"created": ids}), flush=True)

    async def one(index: int, sid: SessionId) -> None:
        rng = random.Random(index)
        for _ in range(events):
            await drive(manager, sid, 1, rng)
            if pause:
                await asyncio.sleep(pause)

    await asyncio.gather(*(one(i, sid) for i, sid in enumerate(ids)))
    last = {sid: (await manager.get_events(sid))[-1].seq for sid in ids}
    await manager.aclose()
    print(json.dumps({"last": last}), flush=True)


async def race(dsn: str, schema: str, session_id: str, name: str, attempts: int) -> None:
    """Try ``attempts`` times to record an event on a session another process races for."""
    sid = SessionId(session_id)
    store = PostgresSessionStorage(dsn, schema=schema)
    manager = await InMemorySessionManager.open(store)
    if (await manager.get_state(sid)).status == "paused":  # opening it interrupted it
        with suppress(SessionLocked, ConcurrentModification, IllegalTransition):
            await manager.resume_session(sid)
        await store.release(sid)
    won: dict[int, str] = {}
    lost = {"locked": 0, "concurrent": 0}
    for attempt in range(attempts):
        command = f"{name}-{attempt}"
        try:
            await manager.send(sid, "command_executed", command=command, success=True)
            won[(await manager.get_events(sid))[-1].seq] = command
        except SessionLocked:
            lost["locked"] += 1
        except ConcurrentModification:
            lost["concurrent"] += 1
        finally:
            await store.release(sid)
        await asyncio.sleep(0)
    await manager.aclose()
    print(json.dumps({"won": won, "lost": lost}), flush=True)


def main(argv: list[str]) -> None:
    """Run the child named by ``argv[0]``."""
    match argv:
        case ["drive", dsn, schema, sessions, events, pause]:
            asyncio.run(drive_many(dsn, schema, int(sessions), int(events), float(pause)))
        case ["race", dsn, schema, session_id, name, attempts]:
            asyncio.run(race(dsn, schema, session_id, name, int(attempts)))
        case _:
            raise SystemExit(f"usage: children drive|race ...: {argv}")


if __name__ == "__main__":
    main(sys.argv[1:])
