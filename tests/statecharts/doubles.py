"""A tiny in-memory storage for the domain's tests, with hooks to fail or hold a write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from statecharts import (
    PersistedSession,
    SessionCheckpoint,
    SessionId,
    SessionState,
    TimestampedEvent,
)


class HookedStorage:
    """Implements the storage port in memory; ``fail_next`` and ``hold`` simulate trouble.

    ``hold[session_id]`` is an event an append of that session waits for.
    """

    def __init__(self) -> None:
        self.sessions: dict[SessionId, PersistedSession] = {}
        self.fail_next: Exception | None = None
        self.hold: dict[SessionId, asyncio.Event] = {}
        self.appends = 0

    async def save(self, session: PersistedSession) -> None:
        self._maybe_fail()
        self.sessions[session.id] = session

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        return self.sessions.get(session_id)

    async def list(self) -> list[SessionId]:
        return sorted(self.sessions)

    async def delete(self, session_id: SessionId) -> None:
        self.sessions.pop(session_id, None)

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        if session_id in self.hold:
            await self.hold[session_id].wait()
        self._maybe_fail()
        stored = self.sessions[session_id]
        self.sessions[session_id] = stored.model_copy(
            update={"events": stored.events + tuple(events), "state": state}
        )
        self.appends += 1

    async def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        for event in self.sessions[session_id].events:
            if event.seq > after_seq:
                yield event

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        self._maybe_fail()
        stored = self.sessions[session_id]
        checkpoint = checkpoint.model_copy(update={"log_hash": f"seq-{checkpoint.seq}"})
        self.sessions[session_id] = stored.model_copy(
            update={"checkpoints": (*stored.checkpoints, checkpoint)}
        )
        return checkpoint

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error


__all__ = ["HookedStorage"]
