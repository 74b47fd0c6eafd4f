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

import builtins
from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime

from ._config import SessionConfig
from ._errors import SessionError
from ._events import TimestampedEvent
from ._ids import SessionId
from ._record import Record
from ._snapshots import PersistedSession, SessionCheckpoint, SessionHolder
from ._state import SessionState

__all__ = [
    "Batch",
    "DurableSessionStorage",
    "SessionHead",
    "SessionListing",
    "SessionLocked",
    "SessionStorage",
    "as_durable",
]


class SessionLocked(SessionError):
    """Another writer (another process, or another store instance) drives this session.

    Two writers would interleave their events in one log; the second one is
    refused instead.  ``holder`` says who holds it when the store knows
    (``owner`` is the same, in words).
    """

    def __init__(self, session_id: str, holder: SessionHolder | str | None = None) -> None:
        self.session_id = session_id
        self.holder = holder if isinstance(holder, SessionHolder) else None
        self.owner = holder.describe() if isinstance(holder, SessionHolder) else holder
        held = f" by {self.owner}" if self.owner else ""
        super().__init__(f"session {session_id} is being driven{held}")


class SessionListing(Record):
    """One stored session, as a store lists it without reading its log.

    What filters and pages need: its state as of its last lifecycle change
    (every status change is one: the status is exact, a running session's
    iteration may lag), its workflow's name, when it was created, and
    ``holder`` — the live process driving it, if any.  ``orphaned`` says
    that a process held it and is gone without letting it go (it crashed):
    its log may have moved past this row, and it wants recovering.
    """

    id: SessionId
    state: SessionState
    workflow: str = ""
    created_at: AwareDatetime
    holder: SessionHolder | None = None
    orphaned: bool = False

    @property
    def status(self) -> str:
        """The session's status."""
        return self.state.status


Batch = Sequence[tuple[SessionId, Sequence[TimestampedEvent], SessionState]]
"""Appends to several sessions at once: ``(session id, events, the state they lead to)``."""


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

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        """Every stored session (or those of ``ids``) at a glance, oldest first, without its log.

        A session the store cannot read is left out (:meth:`damaged` names
        it); an unknown id too.
        """
        ...

    def damaged(self) -> dict[SessionId, SessionError]:
        """The sessions found damaged so far (by listing or loading), with why."""
        ...

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        """Append to several sessions at once (taking each, as :meth:`acquire` does).

        Each session's events are stored, or none of them; the others go on.
        Returns the error of each session whose events were not stored.  A
        store may make the whole batch durable at once (one sync, not one per
        session): what recovering many sessions after a crash needs.
        """
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

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        return await listing_by_loading(self, ids)

    def damaged(self) -> dict[SessionId, SessionError]:
        return {}

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        return await append_one_by_one(self, batch)

    async def acquire(self, session_id: SessionId) -> int | None:
        return None

    async def release(self, session_id: SessionId) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def listing_by_loading(
    storage: DurableSessionStorage, ids: Sequence[SessionId] | None = None
) -> list[SessionListing]:
    """:meth:`DurableSessionStorage.listing` for a store that can only load whole sessions."""
    rows = []
    for session_id in sorted(ids) if ids is not None else await storage.list():
        stored = await storage.load(session_id)
        if stored is not None:
            rows.append(
                SessionListing(
                    id=stored.id,
                    state=stored.state,
                    workflow=stored.config.workflow.name,
                    created_at=stored.created_at,
                )
            )
    return rows


async def append_one_by_one(
    storage: DurableSessionStorage, batch: Batch
) -> dict[SessionId, SessionError]:
    """:meth:`DurableSessionStorage.append_many` as one ``acquire`` and ``append`` per session."""
    failed: dict[SessionId, SessionError] = {}
    for session_id, events, state in batch:
        try:
            await storage.acquire(session_id)
            await storage.append(session_id, events, state)
        except SessionError as error:
            failed[session_id] = error
    return failed


def as_durable(storage: SessionStorage) -> DurableSessionStorage:
    """``storage`` itself when it is durable, else an adapter giving it the defaults.

    The defaults suit a store with a single user: ``acquire`` always succeeds,
    ``load_head`` reads the whole stored session, ``flush``/``close`` do nothing.
    """
    if isinstance(storage, DurableSessionStorage):
        return storage
    return _BasicStorageAdapter(storage)
