"""``cook sessions``, ``cook show``, ``cook events`` and ``cook watch``: reading sessions.

``events --follow`` and ``watch`` read the store's log as another process
writes it (polling, from the last seq seen), and fold the events into a local
copy of the session, so they show the same thing whether the session runs
here or elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from argparse import Namespace
from collections.abc import AsyncIterator

from statecharts import (
    LiveSession,
    SessionId,
    SessionNotFound,
    SessionStorage,
    TimestampedEvent,
)
from statecharts.state import TERMINAL_STATUSES
from statecharts.storage import as_durable

from .display import describe, make_display
from .store import open_manager, open_storage, project_dir, store_location
from .views import session_detail, sessions_table

__all__ = ["events", "follow", "sessions", "show", "watch"]

POLL_SECONDS = 0.2


async def sessions(args: Namespace) -> int:
    """``cook sessions``: every session, or those with a ``--status``, or ``--active`` ones."""
    manager = await open_manager(store_location(project_dir(args.path), args.store))
    try:
        wanted: set[str] | None = set(args.status) if args.status else None
        if args.active:
            wanted = (wanted or {"created", "running", "paused"}) - set(TERMINAL_STATUSES)
        infos = await manager.list_sessions(wanted)
    finally:
        await manager.aclose()
    if args.json:
        print(json.dumps([info.model_dump(mode="json") for info in infos]))
    elif infos:
        print("\n".join(sessions_table(infos)))
    else:
        print("no sessions")
    return 0


async def show(args: Namespace) -> int:
    """``cook show ID``: the state, the progress and a table of the iterations."""
    manager = await open_manager(store_location(project_dir(args.path), args.store))
    try:
        info = await manager.get_info(args.session_id)
    finally:
        await manager.aclose()
    if args.json:
        print(info.model_dump_json())
    else:
        print("\n".join(session_detail(info)))
    return 0


async def follow(
    storage: SessionStorage, session_id: SessionId, *, keep_following: bool
) -> AsyncIterator[tuple[TimestampedEvent, LiveSession]]:
    """Every event of the session from seq 1, each with the session as it left it.

    With ``keep_following``, then waits for new events until the session is
    finished; otherwise stops at the end of what is stored.
    """
    head = await as_durable(storage).load_head(session_id)
    if head is None:
        raise SessionNotFound(session_id)
    session = LiveSession(head.id, head.config, head.created_at)
    while True:
        async for recorded in storage.load_events(session_id, session.last_seq):
            session.replay([recorded])
            yield recorded, session
        if not keep_following or session.state.status in TERMINAL_STATUSES:
            return
        await asyncio.sleep(POLL_SECONDS)


async def events(args: Namespace) -> int:
    """``cook events ID``: the session's log; ``--follow`` waits for new events like tail -f."""
    storage = open_storage(store_location(project_dir(args.path), args.store))
    try:
        async for recorded, _ in follow(storage, args.session_id, keep_following=args.follow):
            if args.json:
                print(recorded.model_dump_json(), flush=True)
            else:
                print(
                    f"{recorded.seq:>5}  {recorded.timestamp:%Y-%m-%d %H:%M:%S}  "
                    f"{recorded.event.kind:<20} {describe(recorded)}",
                    flush=True,
                )
    finally:
        await as_durable(storage).close()
    return 0


async def watch(args: Namespace) -> int:
    """``cook watch ID``: live progress of a session, wherever it runs, until it ends."""
    storage = open_storage(store_location(project_dir(args.path), args.store))
    display = make_display(args.json)
    try:
        started = False
        last = None
        async for recorded, session in follow(storage, args.session_id, keep_following=True):
            if not started:
                display.begin(
                    session.id, session.config.max_iterations, len(session.config.workflow.steps)
                )
                started = True
            display.event(recorded, session.state)
            last = session
        display.end()
    finally:
        await as_durable(storage).close()
    if last is not None:
        display.message(f"session {last.id}: {last.state.status}")
        return {"completed": 0, "failed": 1}.get(last.state.status, 0)
    return 0
