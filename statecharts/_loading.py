"""Rebuilding a session from a store: its latest checkpoint, then only the events after it.

Restoring a session whose log holds a million events must not read them all:
the store hands over its latest trusted checkpoint
(:meth:`~statecharts.DurableSessionStorage.load_head`) and the events
after it, which are folded with the compiled chart.  The fold checks every
event (seq gap-free, legal where it stands), so a log the chart does not accept
raises :class:`~statecharts.ReplayError` instead of loading wrong.
"""

from __future__ import annotations

import gc
import threading

from ._errors import SessionNotFound
from ._events import TimestampedEvent
from ._ids import SessionId
from ._session import LiveSession
from ._snapshots import SessionCheckpoint
from ._storage import DurableSessionStorage

__all__ = ["load_session", "paused_gc", "rebuild"]


class _GcPause:
    """Holds the cyclic garbage collector during bulk loads (see :data:`paused_gc`).

    Folding a long log allocates millions of small, long-lived objects, and the
    collector would rescan them over and over (it halves the replay speed).
    Nested and concurrent pauses are counted; the last one out re-enables the
    collector, and only if it was enabled before the first one.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._guard:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth == 0 and self._was_enabled:
                gc.enable()


paused_gc = _GcPause()
"""``with paused_gc:`` holds the garbage collector while a long log is folded."""


async def load_session(
    storage: DurableSessionStorage, session_id: SessionId, *, up_to: int | None = None
) -> LiveSession:
    """The session as stored — or as it was at seq ``up_to``: its latest checkpoint (at or
    before that point), then the events after it, folded.

    The one routine that rebuilds a session from a store: the manager, the
    PostgreSQL signal bridge and ``cook``'s followers all use it.  The session
    keeps none of its events (the store has them) and knows the seq of its
    checkpoint (``checkpoint_seq``).

    Raises :class:`~statecharts.SessionNotFound` for an unknown id and
    :class:`~statecharts.ReplayError` for a log the chart does not accept.
    """
    with paused_gc:  # a checkpoint holds the whole progress: many objects too
        head = await storage.load_head(session_id)
        if head is None:
            raise SessionNotFound(session_id)
        checkpoint = head.checkpoint
        if checkpoint is None or (up_to is not None and checkpoint.seq > up_to):
            session = LiveSession(head.id, head.config, head.created_at)
        else:
            session = LiveSession.from_snapshot(
                head.id, head.config, head.created_at, checkpoint.state_snapshot
            )
            session.checkpoint_seq = checkpoint.seq
        session.keep_events = False  # the store has them
        if up_to is None or up_to > session.last_seq:
            batch = []
            async for event in storage.load_events(session_id, session.last_seq):
                if up_to is not None and event.seq > up_to:
                    break
                batch.append(event)
            session.replay(batch)
    return session


def rebuild(
    session: LiveSession,
    checkpoints: list[SessionCheckpoint],
    events: list[TimestampedEvent],
) -> LiveSession:
    """``session`` rebuilt in memory from its latest checkpoint and the events after it.

    The memory-only path of ``restore_session``: every event is at hand, and
    the rebuilt session keeps them all.
    """
    if checkpoints:
        latest = checkpoints[-1]
        rebuilt = LiveSession.from_snapshot(
            session.id, session.config, session.created_at, latest.state_snapshot
        )
        rebuilt.events_base = 0
        rebuilt.events = [e for e in events if e.seq <= latest.seq]
        rebuilt.replay(e for e in events if e.seq > latest.seq)
    else:
        rebuilt = LiveSession(session.id, session.config, session.created_at)
        rebuilt.replay(events)
    rebuilt.checkpoints = list(checkpoints)
    return rebuilt
