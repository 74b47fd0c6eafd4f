"""``cook sessions``, ``cook show``, ``cook events`` and ``cook watch``: reading sessions.

``events --follow`` and ``watch`` read the store's log as another process
writes it (from the last seq seen), and fold the events into a local copy of
the session, so they show the same thing whether the session runs here or
elsewhere.  Between reads they wait: on a PostgreSQL store for the signal
bridge to see the session move (LISTEN/NOTIFY, so a transition made on another
machine shows at once), elsewhere for a short poll interval.

Every command here only reads: it opens the store with
:func:`~cook.store.open_for_reading`, which never creates one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from argparse import Namespace
from collections.abc import AsyncIterator, Awaitable, Callable

import persistence
from statecharts import SessionError, SessionId, SessionStorage, TimestampedEvent, as_durable
from statecharts._loading import load_session
from statecharts._session import LiveSession
from statecharts.state import ACTIVE_STATUSES, TERMINAL_STATUSES

from .display import describe, make_display
from .outcome import Merge, Outcome, is_failed_step, step_timeouts, tolerated_steps
from .output import warn
from .store import open_for_reading, open_manager, project_dir, store_location
from .views import session_detail, sessions_table

__all__ = ["events", "follow", "sessions", "show", "watch"]

POLL_SECONDS = 0.2
"""How often a file store is read again while following a session."""

BRIDGE_WAIT_SECONDS = 5.0
"""The longest a PostgreSQL follower waits for a notification before reading anyway."""

Waiter = Callable[[int], Awaitable[object]]
"""Waits until the followed session may have an event of the given seq."""


@contextlib.asynccontextmanager
async def _new_events(storage: SessionStorage, session_id: SessionId) -> AsyncIterator[Waiter]:
    """How to wait for the session's next events in ``storage``."""
    # Without psycopg imported there is no PostgreSQL store (and none is imported here).
    if "psycopg" not in sys.modules or not isinstance(storage, persistence.PostgresSessionStorage):

        async def poll(_seq: int) -> None:
            await asyncio.sleep(POLL_SECONDS)

        yield poll
        return
    bridge = persistence.PostgresSignalBridge(storage, sessions=[session_id], skip_own=False)
    async with bridge:

        async def notified(seq: int) -> bool:
            return await bridge.wait_for(session_id, seq, timeout=BRIDGE_WAIT_SECONDS)

        yield notified


def _location(args: Namespace) -> str:
    return store_location(project_dir(args.path), args.store)


async def sessions(args: Namespace) -> int:
    """``cook sessions``: the newest sessions first, filtered by status, workflow, creation time.

    Only the sessions shown are read whole (their latest checkpoint and the few
    events after it): a store of 10,000 sessions lists as fast as one of 10.
    """
    manager = await open_manager(_location(args), reading=True)
    try:
        wanted: set[str] | None = set(args.status) if args.status else None
        if args.active:
            wanted = (wanted or set(ACTIVE_STATUSES)) - set(TERMINAL_STATUSES)
        page = args.limit or None
        infos = await manager.list_sessions(
            wanted,
            workflow=args.workflow,
            since=args.since,
            newest_first=True,
            limit=None if page is None else page + 1,
        )
        damaged = dict(manager.damaged)
    finally:
        await manager.aclose()
    more = page is not None and len(infos) > page
    infos = infos[:page]
    report_damaged(damaged, args)
    if args.json:
        print(json.dumps([info.model_dump(mode="json") for info in infos]))
    elif infos:
        print("\n".join(sessions_table(infos)))
        if more:
            print(f"(the newest {page} shown: --limit N shows more, --limit 0 all)")
    else:
        print("no sessions")
    return 0


def report_damaged(damaged: dict[SessionId, SessionError], args: Namespace) -> None:
    """One warning line per session the store could not read (the others are listed)."""
    store = "" if args.store is None or "://" in args.store else f" --store {args.store}"
    for session_id, error in sorted(damaged.items()):
        kind = getattr(error, "kind", "unreadable")
        warn(
            f"session {session_id} is damaged ({kind}) and left out; "
            f"`cook verify{store}` shows the damage, `cook repair{store}` fixes it or sets it aside"
        )


async def show(args: Namespace) -> int:
    """``cook show ID``: the state, the progress and a table of the iterations."""
    manager = await open_manager(_location(args), reading=True)
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
    session = await load_session(as_durable(storage), session_id, up_to=0)
    async with _new_events(storage, session_id) as wait:
        while True:
            async for recorded in storage.load_events(session_id, session.last_seq):
                session.replay([recorded])
                yield recorded, session
            if not keep_following or session.state.status in TERMINAL_STATUSES:
                return
            await wait(session.last_seq + 1)


async def events(args: Namespace) -> int:
    """``cook events ID``: the session's log; ``--follow`` waits for new events like tail -f."""
    storage = open_for_reading(_location(args))
    timeouts: dict[str, float] | None = None
    try:
        async for recorded, session in follow(storage, args.session_id, keep_following=args.follow):
            if args.json:
                print(recorded.model_dump_json(), flush=True)
            else:
                timeouts = step_timeouts(session.config) if timeouts is None else timeouts
                text = describe(recorded, timeouts)
                print(
                    f"{recorded.seq:>5}  {recorded.timestamp:%Y-%m-%d %H:%M:%S}  "
                    f"{recorded.event.kind:<20} {text}",
                    flush=True,
                )
    finally:
        await as_durable(storage).close()
    return 0


async def watch(args: Namespace) -> int:
    """``cook watch ID``: live progress of a session, wherever it runs, until it ends.

    Exits with the code the run itself gives its outcome (see :mod:`cook.outcome`).
    """
    storage = open_for_reading(_location(args))
    display = make_display(args.json)
    failed = 0
    tolerated: frozenset[str] = frozenset()
    last = None
    try:
        async for recorded, session in follow(storage, args.session_id, keep_following=True):
            if last is None:
                display.begin(
                    session.id,
                    session.config.max_iterations,
                    len(session.config.workflow.steps),
                    step_timeouts(session.config),
                )
                tolerated = tolerated_steps(session.config)
            display.event(recorded, session.state)
            failed += is_failed_step(recorded, tolerated)
            last = session
        display.end()
    finally:
        await as_durable(storage).close()
    if last is None:
        return 0
    info = last.info()
    outcome = Outcome(info.state.status, failed, Merge.recorded(info.progress.last_analysis))
    display.message(f"session {last.id}: {info.state.status}")
    return outcome.exit_code
