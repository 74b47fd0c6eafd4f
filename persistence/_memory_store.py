"""A store in this process's memory: for tests and throwaway runs (nothing survives the process).

It keeps the port's promises that do not need a disk — ids are checked, seqs
must follow, a stored session is a snapshot no caller can change — so tests
written against it hold for the durable stores (the same contract suite runs
against all of them).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from statecharts import (
    Batch,
    PersistedSession,
    SessionCheckpoint,
    SessionError,
    SessionHead,
    SessionId,
    SessionListing,
    SessionNotFound,
    SessionState,
    TimestampedEvent,
    append_one_by_one,
)

from ._files import checked_id
from ._rules import checked_append

__all__ = ["MemorySessionStorage"]


@dataclass(slots=True)
class _Stored:
    session: PersistedSession
    events: list[TimestampedEvent] = field(default_factory=list)
    checkpoints: list[SessionCheckpoint] = field(default_factory=list)


class MemorySessionStorage:
    """Sessions in a dictionary; one user (``acquire`` always succeeds)."""

    def __init__(self) -> None:
        self._sessions: dict[SessionId, _Stored] = {}
        self._guard = threading.Lock()

    def _stored(self, session_id: SessionId) -> _Stored:
        stored = self._sessions.get(checked_id(session_id))
        if stored is None:
            raise SessionNotFound(session_id)
        return stored

    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole, replacing what was stored under its id."""
        session_id = checked_id(session.id)
        with self._guard:
            self._sessions[session_id] = _Stored(
                session.model_copy(update={"events": (), "checkpoints": ()}),
                list(session.events),
                list(session.checkpoints[-1:]),
            )

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        """The stored session with every event and its latest checkpoint, or None."""
        stored = self._sessions.get(checked_id(session_id))
        if stored is None:
            return None
        return stored.session.model_copy(
            update={"events": tuple(stored.events), "checkpoints": tuple(stored.checkpoints)}
        )

    async def list(self) -> list[SessionId]:
        """Every stored session, oldest first."""
        return sorted(self._sessions)

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        """Every session (or those of ``ids``) at a glance, oldest first."""
        wanted = None if ids is None else set(ids)
        return [
            SessionListing(
                id=stored.session.id,
                state=stored.session.state,
                workflow=stored.session.config.workflow.name,
                created_at=stored.session.created_at,
            )
            for session_id, stored in sorted(self._sessions.items())
            if wanted is None or session_id in wanted
        ]

    def damaged(self) -> dict[SessionId, SessionError]:
        """Nothing is ever damaged in memory."""
        return {}

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        """One append per session."""
        return await append_one_by_one(self, batch)

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session (unknown ids are ignored)."""
        with self._guard:
            self._sessions.pop(checked_id(session_id), None)

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Add ``events`` (which must follow the stored ones) at the end of the session's log."""
        stored = self._stored(session_id)
        with self._guard:
            last = stored.events[-1].seq if stored.events else 0
            batch = checked_append(
                session_id, events, state, last_seq=last, status=stored.session.state.status
            )
            stored.events.extend(batch)
            stored.session = stored.session.model_copy(update={"state": state})

    async def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order."""
        events = self._stored(session_id).events
        first = events[0].seq if events else 1
        for event in events[max(after_seq - first + 1, 0) :]:
            yield event

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Keep ``checkpoint`` as the session's latest (no log bytes here: no ``log_hash``)."""
        stored = self._stored(session_id)
        with self._guard:
            stored.checkpoints[:] = [checkpoint]
        return checkpoint

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest checkpoint, or None."""
        stored = self._sessions.get(checked_id(session_id))
        return None if stored is None else SessionHead.of(stored.session, stored.checkpoints)

    async def acquire(self, session_id: SessionId) -> int | None:
        """Always ours (one user); returns the last stored seq."""
        events = self._stored(session_id).events
        return events[-1].seq if events else 0

    async def release(self, session_id: SessionId) -> None:
        """Nothing to release."""
        checked_id(session_id)

    async def flush(self) -> None:
        """Nothing to flush."""

    async def close(self) -> None:
        """Nothing to close."""
