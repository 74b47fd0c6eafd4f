"""The session manager: create sessions, drive them by event, query them, checkpoint them.

:class:`SessionManager` is the interface (the spec's trait, plus ``send`` and a
few conveniences); :class:`InMemorySessionManager` implements it, with or
without a :class:`~statecharts.storage.SessionStorage`.

Concurrency: each session has its own readers–writer lock; there is no global
lock on the event path.  Recording an event takes the session's write lock,
decides, stores, commits and queues the signals, in that order: an event that
is not accepted, or not stored, changes nothing and sends no signal.

>>> import asyncio
>>> from statecharts import InMemorySessionManager, SessionConfig
>>> async def main():
...     manager = InMemorySessionManager()
...     sid = await manager.create_session(SessionConfig(project_path=".", max_iterations=1))
...     await manager.start_session(sid)
...     await manager.send(sid, "iteration_started", number=1)
...     await manager.send(sid, "iteration_completed")
...     summary = await manager.complete_session(sid)
...     return [e.event.kind for e in await manager.get_events(sid)], summary.total_iterations
>>> asyncio.run(main())
(['started', 'iteration_started', 'iteration_completed', 'completed'], 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Final, Protocol, Self, runtime_checkable

from pydantic import ValidationError

from .config import SessionConfig
from .dispatch import SignalDispatcher
from .errors import InvalidEvent, SessionNotFound
from .events import EVENT_TYPES, SessionEvent, Started, TimestampedEvent
from .ids import SessionId, new_session_id
from .loading import load_session, rebuild
from .progress import SessionProgress
from .session import LiveSession
from .snapshots import PersistedSession, SessionCheckpoint, SessionInfo
from .state import TERMINAL_STATUSES, Completed, SessionState, SessionSummary
from .storage import SessionLocked, SessionStorage, as_durable

__all__ = ["INTERRUPTED", "InMemorySessionManager", "SessionManager"]

INTERRUPTED: Final = "interrupted"
"""The ``paused`` reason recorded for a session whose driving process went away."""

_EVENT_CLASSES = tuple(EVENT_TYPES.values())


@runtime_checkable
class SessionManager(Protocol):
    """What a session manager offers (the spec's interface, in Python)."""

    async def create_session(self, config: SessionConfig) -> SessionId:
        """Create a session in ``created`` and return its new id."""
        ...

    async def start_session(self, session_id: SessionId) -> None:
        """Record ``started``."""
        ...

    async def complete_session(self, session_id: SessionId) -> SessionSummary:
        """Record ``completed`` and return the session's summary."""
        ...

    async def record_event(self, session_id: SessionId, event: SessionEvent) -> TimestampedEvent:
        """Record one event; returns it with its seq and timestamp."""
        ...

    async def send(self, session_id: SessionId, event_name: str, **payload: Any) -> SessionState:
        """Drive a transition by name, with its payload; returns the new state."""
        ...

    async def get_state(self, session_id: SessionId) -> SessionState:
        """The session's current state."""
        ...

    async def get_progress(self, session_id: SessionId) -> SessionProgress:
        """The session's progress, as of now."""
        ...

    async def get_events(self, session_id: SessionId, after_seq: int = 0) -> list[TimestampedEvent]:
        """The session's events with ``seq > after_seq``, in order."""
        ...

    async def list_active_sessions(self) -> list[SessionInfo]:
        """Every session that is not finished, oldest first."""
        ...

    async def pause_session(self, session_id: SessionId, reason: str = "") -> SessionState:
        """Record ``paused``."""
        ...

    async def resume_session(self, session_id: SessionId) -> SessionState:
        """Record ``resumed``."""
        ...

    async def fail_session(self, session_id: SessionId, error: str) -> SessionState:
        """Record ``failed``."""
        ...

    async def save_checkpoint(self, session_id: SessionId) -> SessionCheckpoint:
        """Snapshot the session so that a restore need not replay its whole log."""
        ...

    async def restore_session(self, session_id: SessionId) -> SessionState:
        """Rebuild the session from its latest checkpoint and the events after it."""
        ...


class InMemorySessionManager:
    """Sessions in memory, persisted through ``storage`` when one is given.

    ``receiver_timeout`` is how long a signal receiver may run before it is
    abandoned (see :mod:`statecharts.signals`).
    """

    def __init__(
        self, storage: SessionStorage | None = None, *, receiver_timeout: float = 10.0
    ) -> None:
        self.storage = storage
        self._store = None if storage is None else as_durable(storage)
        self._sessions: dict[SessionId, LiveSession] = {}
        self.signals = SignalDispatcher(self, receiver_timeout)

    @classmethod
    async def open(cls, storage: SessionStorage, *, receiver_timeout: float = 10.0) -> Self:
        """A manager holding every session of ``storage``, recovered after a crash.

        Each session is rebuilt from its latest checkpoint and the events after
        it.  A session left ``running`` by a process that is gone is paused with
        reason :data:`INTERRUPTED` (a normal, recorded transition, so it can be
        resumed); one that a live process drives is loaded but not touched.
        """
        manager = cls(storage, receiver_timeout=receiver_timeout)
        store = manager._store
        assert store is not None
        for session_id in await store.list():
            manager._sessions[session_id] = await load_session(store, session_id)
        for session_id, session in list(manager._sessions.items()):
            if session.state.status == "running":
                with suppress(SessionLocked):  # its owner is alive: not ours to touch
                    await manager.pause_session(session_id, reason=INTERRUPTED)
        return manager

    # -- lifecycle --------------------------------------------------------------------
    async def create_session(self, config: SessionConfig) -> SessionId:
        """Create a session in ``created`` and return its new id."""
        if not isinstance(config, SessionConfig):
            raise InvalidEvent(f"expected a SessionConfig, got {type(config).__name__}")
        session = LiveSession(new_session_id(), config, datetime.now(UTC))
        if self.storage is not None:
            await self.storage.save(
                PersistedSession(
                    id=session.id, config=config, state=session.state, created_at=session.created_at
                )
            )
        self._sessions[session.id] = session
        return session.id

    async def start_session(self, session_id: SessionId) -> None:
        """Record ``started`` (Created → Running)."""
        await self.send(session_id, "started")

    async def complete_session(self, session_id: SessionId) -> SessionSummary:
        """Record ``completed`` and return the summary of the finished session."""
        state = await self.send(session_id, "completed")
        assert isinstance(state, Completed)
        return state.summary

    async def pause_session(self, session_id: SessionId, reason: str = "") -> SessionState:
        """Record ``paused`` with ``reason``."""
        return await self.send(session_id, "paused", reason=reason)

    async def resume_session(self, session_id: SessionId) -> SessionState:
        """Record ``resumed``: back to running, in the sub-state it left."""
        return await self.send(session_id, "resumed")

    async def fail_session(self, session_id: SessionId, error: str) -> SessionState:
        """Record ``failed`` with ``error``."""
        return await self.send(session_id, "failed", error=error)

    # -- recording ----------------------------------------------------------------------
    async def send(self, session_id: SessionId, event_name: str, **payload: Any) -> SessionState:
        """Drive a transition by its event name; returns the state it led to.

        Raises :class:`~statecharts.errors.InvalidEvent` for an unknown name or a
        bad payload, :class:`~statecharts.errors.SessionNotFound` and
        :class:`~statecharts.errors.IllegalTransition`.
        """
        return (await self._record(session_id, parse_event(event_name, payload)))[1]

    async def record_event(self, session_id: SessionId, event: SessionEvent) -> TimestampedEvent:
        """Record one event; returns it as recorded (with its seq and timestamp)."""
        if not isinstance(event, _EVENT_CLASSES):
            raise InvalidEvent(
                f"expected a session event, got {type(event).__name__}", valid_names=EVENT_TYPES
            )
        return (await self._record(session_id, event))[0]

    async def _record(
        self, session_id: SessionId, event: SessionEvent
    ) -> tuple[TimestampedEvent, SessionState]:
        session = self._session(session_id)
        if event.kind == "started":
            event = _with_config(event, session.config)
        async with session.lock.writing():
            session = self._sessions[session_id]  # a restore may have replaced it meanwhile
            if self._store is not None:
                session = await self._writable(session)
            step = session.prepare(event, datetime.now(UTC))
            if self.storage is not None:
                await self.storage.append(session_id, (step.recorded,), step.state)
            old_state = session.state
            session.commit(step)
            self.signals.publish(session_id, step.recorded, old_state, step.state)
        return step.recorded, step.state

    async def _writable(self, session: LiveSession) -> LiveSession:
        """The session, ours to write in the store and up to date with it (under its write lock).

        When another process drove the session since we loaded it, it is
        reloaded before anything is decided on a stale copy.
        """
        assert self._store is not None
        stored_seq = await self._store.acquire(session.id)
        if stored_seq is not None and stored_seq != session.last_seq:
            session = await self._reload(session)
        return session

    async def _reload(self, session: LiveSession) -> LiveSession:
        """Replace ``session`` by what the store holds (keeping its lock)."""
        assert self._store is not None
        fresh = await load_session(self._store, session.id)
        fresh.lock = session.lock
        self._sessions[session.id] = fresh
        return fresh

    # -- queries ------------------------------------------------------------------------
    def _session(self, session_id: SessionId) -> LiveSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def get_state(self, session_id: SessionId) -> SessionState:
        """The current state (committed states are swapped in atomically: no lock needed)."""
        return self._session(session_id).state

    async def get_progress(self, session_id: SessionId) -> SessionProgress:
        """The session's progress as of now."""
        session = self._session(session_id)
        async with session.lock.reading():
            return session.tracker.snapshot(session.state)

    async def get_info(self, session_id: SessionId) -> SessionInfo:
        """The session at a glance: id, state, config, progress."""
        session = self._session(session_id)
        async with session.lock.reading():
            return session.info()

    async def get_events(self, session_id: SessionId, after_seq: int = 0) -> list[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order (read from storage if not held)."""
        session = self._session(session_id)
        async with session.lock.reading():
            if after_seq >= session.events_base:
                return session.events[after_seq - session.events_base :]
            held = list(session.events)
        if self.storage is None:  # pragma: no cover - memory-only sessions hold every event
            return held
        older = [
            e
            async for e in self.storage.load_events(session_id, after_seq)
            if e.seq <= session.events_base
        ]
        return older + held

    async def list_sessions(self, statuses: Iterable[str] | None = None) -> list[SessionInfo]:
        """Every session (optionally only those whose status is in ``statuses``), oldest first."""
        wanted = None if statuses is None else frozenset(statuses)
        infos = []
        for session_id in sorted(self._sessions):
            session = self._sessions[session_id]
            if wanted is None or session.state.status in wanted:
                async with session.lock.reading():
                    infos.append(session.info())
        return infos

    async def list_active_sessions(self) -> list[SessionInfo]:
        """Every session that is not finished (created, running or paused), oldest first."""
        return await self.list_sessions(("created", "running", "paused"))

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    # -- checkpoints ----------------------------------------------------------------------
    async def save_checkpoint(self, session_id: SessionId) -> SessionCheckpoint:
        """Snapshot the session so that a restore replays only what comes after."""
        session = self._session(session_id)
        async with session.lock.writing():
            session = self._sessions[session_id]  # a restore may have replaced it meanwhile
            if self._store is not None:
                session = await self._writable(session)
            now = datetime.now(UTC)
            checkpoint = SessionCheckpoint(
                iteration=session.tracker.current_iteration,
                timestamp=now,
                seq=session.last_seq,
                state_snapshot=session.snapshot(now),
                resumable=session.state.status not in TERMINAL_STATUSES,
            )
            if self.storage is not None:
                checkpoint = await self.storage.save_checkpoint(session_id, checkpoint)
            session.checkpoints.append(checkpoint)
        return checkpoint

    async def restore_session(self, session_id: SessionId) -> SessionState:
        """Rebuild the session from its latest checkpoint plus the events after it.

        Without a checkpoint the whole log is replayed.  The rebuilt session
        replaces the one in memory.  From a store, only the events after the
        checkpoint are read; the older ones are read from it when asked for.
        """
        session = self._session(session_id)
        async with session.lock.writing():
            session = self._sessions[session_id]  # another restore may have replaced it
            if self._store is not None:
                return (await self._reload(session)).state
            rebuilt = rebuild(session, session.checkpoints, session.events)
            rebuilt.lock = session.lock
            self._sessions[session_id] = rebuilt
        return rebuilt.state

    # -- signals --------------------------------------------------------------------------
    async def drain_signals(self, timeout: float | None = None) -> bool:
        """Wait until every signal of events recorded so far was delivered."""
        return await self.signals.drain(timeout)

    def close(self) -> None:
        """Stop the signal delivery thread (after delivering what is queued)."""
        self.signals.close()

    async def flush(self) -> None:
        """Make every event recorded so far durable, whatever the store's durability mode."""
        if self._store is not None:
            await self._store.flush()

    async def aclose(self) -> None:
        """Close the store (flushing it and releasing our sessions), then :meth:`close`."""
        try:
            if self._store is not None:
                await self._store.close()
        finally:
            self.close()


def parse_event(event_name: str, payload: dict[str, Any]) -> SessionEvent:
    """Build the event named ``event_name`` from its payload, or raise ``InvalidEvent``."""
    event_class = EVENT_TYPES.get(event_name)
    if event_class is None:
        raise InvalidEvent(
            f"unknown event {event_name!r}; valid events: {', '.join(EVENT_TYPES)}",
            event_name=event_name,
            valid_names=EVENT_TYPES,
        )
    try:
        return event_class(**payload)  # type: ignore[return-value]
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidEvent(
            f"invalid payload for {event_name!r}: {problems}",
            event_name=event_name,
            valid_names=EVENT_TYPES,
            errors=error.errors(),
        ) from None


def _with_config(event: SessionEvent, config: SessionConfig) -> SessionEvent:
    """``started`` always records the session's own config."""
    assert isinstance(event, Started)
    if event.config is None:
        return Started(config=config)
    if event.config != config:
        raise InvalidEvent(
            "'started' carries a config that is not the session's",
            event_name="started",
            valid_names=EVENT_TYPES,
        )
    return event
