"""The storage port: what the manager needs from a store, defined by the domain.

The domain owns this protocol and never imports an implementation; the
``persistence`` package implements it (TinyDB, files, memory) and re-exports it.

:class:`SessionStorage` is the basic port: the spec's four methods, plus
``append`` and ``load_events`` (an O(1) append, and a read that does not load a
whole log into memory) and ``save_checkpoint``.  :class:`DurableSessionStorage`
adds what recovery after a crash needs: the latest checkpoint without the
events (:meth:`~DurableSessionStorage.load_head`), one writer per session across
processes (:meth:`~DurableSessionStorage.acquire`, raising :class:`SessionLocked`)
and ``flush``/``close``.  The manager talks to any store through
:func:`as_durable`, which gives a basic store sensible defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime

from .config import SessionConfig
from .errors import SessionError
from .events import TimestampedEvent
from .ids import SessionId
from .record import Record
from .snapshots import PersistedSession, SessionCheckpoint
from .state import SessionState

__all__ = [
    "DurableSessionStorage",
    "SessionHead",
    "SessionLocked",
    "SessionStorage",
    "as_durable",
]


class SessionLocked(SessionError):
    """Another writer (another process, or another store instance) drives this session.

    Two writers would interleave their events in one log; the second one is
    refused instead.  ``owner`` describes the holder when the store knows it.
    """

    def __init__(self, session_id: str, owner: str | None = None) -> None:
        self.session_id = session_id
        self.owner = owner
        held = f" by {owner}" if owner else ""
        super().__init__(f"session {session_id} is locked{held}")


class SessionHead(Record):
    """A stored session without its events: enough to rebuild it from its latest checkpoint.

    ``checkpoint`` is the latest checkpoint the store still trusts (None: replay
    the whole log); the events after it come from ``load_events``.
    """

    id: SessionId
    config: SessionConfig
    created_at: AwareDatetime
    checkpoint: SessionCheckpoint | None = None

    @classmethod
    def of(
        cls, session: PersistedSession, checkpoints: Sequence[SessionCheckpoint] | None = None
    ) -> SessionHead:
        """The head of a whole stored session, whose latest checkpoint is the last one."""
        kept = session.checkpoints if checkpoints is None else checkpoints
        return cls(
            id=session.id,
            config=session.config,
            created_at=session.created_at,
            checkpoint=kept[-1] if kept else None,
        )


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


@runtime_checkable
class DurableSessionStorage(SessionStorage, Protocol):
    """A store that survives its process: cheap restores, one writer per session."""

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest trusted checkpoint, without its events."""
        ...

    async def acquire(self, session_id: SessionId) -> int | None:
        """Become the session's only writer (idempotent); raise :class:`SessionLocked` if taken.

        Returns the seq of the session's last stored event, so that a caller
        whose copy is older (another process drove the session meanwhile) can
        reload it first; None when the store cannot tell.
        """
        ...

    async def release(self, session_id: SessionId) -> None:
        """Stop being the session's writer (no-op when not held)."""
        ...

    async def flush(self) -> None:
        """Make every event appended so far durable (whatever the durability mode)."""
        ...

    async def close(self) -> None:
        """Flush, release every session and free the store's resources."""
        ...


class _BasicStorageAdapter:
    """A basic :class:`SessionStorage` seen as durable: one user, checkpoints from ``load``."""

    def __init__(self, storage: SessionStorage) -> None:
        self.storage = storage

    async def save(self, session: PersistedSession) -> None:
        await self.storage.save(session)

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        return await self.storage.load(session_id)

    async def list(self) -> list[SessionId]:
        return await self.storage.list()

    async def delete(self, session_id: SessionId) -> None:
        await self.storage.delete(session_id)

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        await self.storage.append(session_id, events, state)

    def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        return self.storage.load_events(session_id, after_seq)

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        return await self.storage.save_checkpoint(session_id, checkpoint)

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        stored = await self.storage.load(session_id)
        return None if stored is None else SessionHead.of(stored)

    async def acquire(self, session_id: SessionId) -> int | None:
        return None

    async def release(self, session_id: SessionId) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


def as_durable(storage: SessionStorage) -> DurableSessionStorage:
    """``storage`` itself when it is durable, else an adapter giving it the defaults.

    The defaults suit a store with a single user: ``acquire`` always succeeds,
    ``load_head`` reads the whole stored session, ``flush``/``close`` do nothing.
    """
    if isinstance(storage, DurableSessionStorage):
        return storage
    return _BasicStorageAdapter(storage)
