"""The storage port: what the manager needs from a store, defined by the domain.

The domain owns this protocol and never imports an implementation; the
``persistence`` package implements it (TinyDB, files, memory) and re-exports it.
The first four methods are the spec's; ``append`` and ``load_events`` are what
long event streams need (an O(1) append, and a read that does not load a
whole log into memory); ``save_checkpoint`` stores a snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from .events import TimestampedEvent
from .ids import SessionId
from .snapshots import PersistedSession, SessionCheckpoint
from .state import SessionState

__all__ = ["SessionStorage"]


@runtime_checkable
class SessionStorage(Protocol):
    """Where sessions are kept.  Every method may raise a ``SessionError`` subclass."""

    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole, replacing what was stored under its id."""
        ...

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        """The stored session, with every event and checkpoint, or None when unknown."""
        ...

    async def list(self) -> list[SessionId]:
        """The ids of every stored session, oldest first."""
        ...

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session (unknown ids are ignored)."""
        ...

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Add events at the end of a session's log; ``state`` is the state they lead to.

        When this returns, the events are stored as durably as the store promises;
        when it raises, none of them is.
        """
        ...

    def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The session's events with ``seq > after_seq``, in order."""
        ...

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Store a checkpoint; returns it as stored (with ``log_hash`` filled in, if kept)."""
        ...
