"""The session manager: create sessions, drive them by event, query them, checkpoint them.

:class:`SessionManager` is the interface (the spec's trait, plus ``send`` and a
few conveniences); :class:`InMemorySessionManager` implements it, with or
without a :class:`~statecharts.SessionStorage`.

Concurrency: each session has its own readers–writer lock; there is no global
lock on the event path.  Recording an event takes the session's write lock,
decides, stores, commits and queues the signals, in that order: an event that
is not accepted, or not stored, changes nothing and sends no signal.

Memory: with a store, the manager keeps per session only what the live path
needs — its lock, state and last seq, and for the sessions in use their place
in the chart and their bounded progress (see :mod:`statecharts._slots`).
Events are read from the store when asked for, and the manager checkpoints on
its own (every ``checkpoint_every`` events, when a session pauses or ends, and
when it closes), so that opening a store reads a checkpoint and a short tail
of each log, never a whole log.  Without a store, memory is the store: every
event stays.

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

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, Protocol, Self, TypeVar, runtime_checkable

from pydantic import ValidationError

from ._config import SessionConfig
from ._dispatch import SignalDispatcher
from ._errors import InvalidEvent, SessionError, SessionNotFound
from ._events import EVENT_TYPES, SessionEvent, Started, TimestampedEvent
from ._ids import SessionId, new_session_id
from ._loading import load_session, rebuild
from ._progress import SessionProgress
from ._session import LiveSession
from ._slots import DEFAULT_HOT_LIMIT, DEFAULT_IDLE_SECONDS, Slot, Slots
from ._snapshots import PersistedSession, SessionCheckpoint, SessionInfo
from ._state import Completed, SessionState, SessionSummary
from ._storage import DurableSessionStorage, SessionListing, SessionStorage, as_durable
from .state import ACTIVE_STATUSES, TERMINAL_STATUSES

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "INTERRUPTED",
    "InMemorySessionManager",
    "SessionManager",
    "parse_event",
]

log = logging.getLogger("statecharts.manager")

INTERRUPTED: Final = "interrupted"
"""The ``paused`` reason recorded for a session whose driving process went away."""

DEFAULT_CHECKPOINT_EVERY: Final = 1000
"""Events after which a store-backed manager checkpoints a session on its own."""

_EVENT_CLASSES = tuple(EVENT_TYPES.values())
_T = TypeVar("_T")


@runtime_checkable
class SessionManager(Protocol):
    """What a session manager offers: the spec's interface, in Python, and what consumers use.

    ``cook`` depends on this protocol, not on :class:`InMemorySessionManager`.
    ``damaged`` names the sessions the manager's store could not read (they
    are left out of listings).
    """

    damaged: dict[SessionId, SessionError]

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

    async def get_events(
        self, session_id: SessionId, after_seq: int = 0, limit: int | None = None
    ) -> list[TimestampedEvent]:
        """The session's events with ``seq > after_seq``, in order (at most ``limit``)."""
        ...

    def stream_events(
        self, session_id: SessionId, after_seq: int = 0, limit: int | None = None
    ) -> AsyncIterator[TimestampedEvent]:
        """The session's events with ``seq > after_seq``, one at a time (at most ``limit``)."""
        ...

    async def get_info(self, session_id: SessionId) -> SessionInfo:
        """The session at a glance: id, state, config, progress, who drives it."""
        ...

    async def list_sessions(
        self,
        statuses: Iterable[str] | None = None,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
        newest_first: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        """The sessions, filtered and paged (see :meth:`InMemorySessionManager.list_sessions`)."""
        ...

    async def count_sessions(
        self,
        statuses: Iterable[str] | None = None,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many sessions :meth:`list_sessions` would list with these filters, unpaged."""
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

    async def drain_signals(self, timeout: float | None = None) -> bool:
        """Wait until every signal of events recorded so far was delivered."""
        ...

    async def flush(self) -> None:
        """Make every event recorded so far durable."""
        ...

    async def aclose(self) -> None:
        """Checkpoint what is due, close the store, stop delivering signals."""
        ...


class InMemorySessionManager:
    """Sessions in memory, persisted through ``storage`` when one is given.

    ``receiver_timeout`` is how long a signal receiver may run before it is
    abandoned (see :mod:`statecharts.signals`).  With a store,
    ``checkpoint_every`` is how many events pass between two automatic
    checkpoints of a session, and ``hot_sessions`` and ``idle_seconds`` bound
    the sessions kept whole in memory (see the module's documentation).
    """

    def __init__(
        self,
        storage: SessionStorage | None = None,
        *,
        receiver_timeout: float = 10.0,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        hot_sessions: int = DEFAULT_HOT_LIMIT,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.storage: DurableSessionStorage | None = (
            None if storage is None else as_durable(storage)
        )
        self.checkpoint_every = max(1, checkpoint_every)
        self.damaged: dict[SessionId, SessionError] = {}
        self._slots = Slots(
            evicts=storage is not None, hot_limit=hot_sessions, idle_seconds=idle_seconds
        )
        self.signals = SignalDispatcher(self, receiver_timeout)

    @classmethod
    async def open(cls, storage: SessionStorage, *, recover: bool = True, **options: Any) -> Self:
        """A manager over ``storage``, after recovering what a crash left behind.

        Sessions are loaded when first used, not here.  With ``recover`` (the
        default; a read-only store is opened without), every session left
        ``running`` by a process that is gone is paused with reason
        :data:`INTERRUPTED` (a normal, recorded transition, so it can be
        resumed), in one batch; one that a live process drives is not
        touched.  A session the store cannot read is reported in
        :attr:`damaged` and left out; the others open.  ``options`` are the
        constructor's.
        """
        manager = cls(storage, **options)
        if recover:
            from ._recovery import recover_interrupted  # noqa: PLC0415 - open's path only

            await recover_interrupted(manager)
        return manager

    def _store(self) -> DurableSessionStorage:
        if self.storage is None:
            raise SessionError("this manager has no store")
        return self.storage

    # -- lifecycle --------------------------------------------------------------------
    async def create_session(self, config: SessionConfig) -> SessionId:
        """Create a session in ``created`` and return its new id."""
        if not isinstance(config, SessionConfig):
            raise InvalidEvent(f"expected a SessionConfig, got {type(config).__name__}")
        session = LiveSession(new_session_id(), config, datetime.now(UTC))
        if self.storage is not None:
            session.keep_events = False
            await self.storage.save(
                PersistedSession(
                    id=session.id, config=config, state=session.state, created_at=session.created_at
                )
            )
        self._slots.add(session.id, session)
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

        Raises :class:`~statecharts.InvalidEvent` for an unknown name or a
        bad payload, :class:`~statecharts.SessionNotFound` and
        :class:`~statecharts.IllegalTransition`.
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
        slot = await self._slot(session_id)
        async with slot.lock.writing():
            session = await self._writable(slot, session_id)
            if event.kind == "started":
                event = _with_config(event, session.config)
            step = session.prepare(event, datetime.now(UTC))
            if self.storage is not None:
                await self.storage.append(session_id, (step.recorded,), step.state)
            old_state = session.state
            session.commit(step)
            slot.committed(session)
            self.signals.publish(session_id, step.recorded, old_state, step.state)
            if self.storage is not None:
                await self._after_commit(slot, session, old_state)
        return step.recorded, step.state

    async def _slot(self, session_id: SessionId) -> Slot:
        """The session's slot (loaded from the store if the manager did not know it)."""
        slot = self._slots.get(session_id)
        if slot is not None:
            return slot
        if self.storage is None:
            raise SessionNotFound(session_id)
        live = await self._load(session_id)
        return self._slots.get(session_id) or self._slots.add(session_id, live)

    async def _load(self, session_id: SessionId) -> LiveSession:
        assert self.storage is not None
        try:
            return await load_session(self.storage, session_id)
        except SessionNotFound:
            raise
        except SessionError as error:
            self.damaged[session_id] = error
            raise

    async def _live(self, slot: Slot, session_id: SessionId) -> LiveSession:
        """The slot's whole session, reloaded from the store if it was let go (under its lock)."""
        live = slot.live
        if live is None:
            live = await self._load(session_id)
            slot.hold(live)
        self._slots.touch(session_id)
        return live

    async def _writable(self, slot: Slot, session_id: SessionId) -> LiveSession:
        """The session, ours to write in the store and up to date with it (under its write lock).

        When another process drove the session since we loaded it, it is
        reloaded before anything is decided on a stale copy.
        """
        session = await self._live(slot, session_id)
        if self.storage is None:
            return session
        stored_seq = await self.storage.acquire(session_id)
        if stored_seq is not None and stored_seq != session.last_seq:
            session = await self._load(session_id)
            slot.hold(session)
        return session

    async def _after_commit(self, slot: Slot, session: LiveSession, old: SessionState) -> None:
        """Checkpoint when due; let a session go once it stops running (store only)."""
        status = session.state.status
        stopped = status not in (old.status, "running")
        tail = session.last_seq - session.checkpoint_seq
        if tail >= self.checkpoint_every or (stopped and tail > 0):
            await self._auto_checkpoint(session)
        if stopped:  # reloaded from its checkpoint when needed
            self._slots.let_go(session.id, by_holder=True)

    async def _auto_checkpoint(self, session: LiveSession) -> None:
        """A checkpoint the manager takes on its own: a failure is logged, never raised."""
        try:
            await self._checkpoint(session)
        except SessionError as error:
            log.warning("could not checkpoint session %s: %s", session.id, error)

    async def _checkpoint(self, session: LiveSession) -> SessionCheckpoint:
        now = datetime.now(UTC)
        checkpoint = SessionCheckpoint(
            iteration=session.tracker.current_iteration,
            timestamp=now,
            seq=session.last_seq,
            state_snapshot=session.snapshot(now),
            resumable=session.state.status not in TERMINAL_STATUSES,
        )
        if self.storage is not None:
            checkpoint = await self.storage.save_checkpoint(session.id, checkpoint)
        else:
            session.checkpoints.append(checkpoint)
        session.checkpoint_seq = checkpoint.seq
        return checkpoint

    # -- queries ------------------------------------------------------------------------
    async def _read(self, session_id: SessionId, read: Callable[[LiveSession], _T]) -> _T:
        """``read(session)`` on the whole session, under its read lock if the manager has it.

        A session the manager does not have is loaded from the store (and not kept).
        """
        slot = self._slots.get(session_id)
        if slot is None:
            if self.storage is None:
                raise SessionNotFound(session_id)
            return read(await self._load(session_id))
        async with slot.lock.reading():
            return read(await self._live(slot, session_id))

    async def _reading(self, session_id: SessionId) -> LiveSession:
        """The session whole (for tests: not a copy, and read without a lock afterwards)."""
        return await self._read(session_id, lambda live: live)

    async def get_state(self, session_id: SessionId) -> SessionState:
        """The current state (committed states are swapped in atomically: no lock needed)."""
        slot = self._slots.get(session_id)
        if slot is not None:
            return slot.state
        return await self._read(session_id, lambda live: live.state)

    async def get_progress(self, session_id: SessionId) -> SessionProgress:
        """The session's progress as of now."""
        return await self._read(session_id, lambda live: live.tracker.snapshot(live.state))

    async def get_info(self, session_id: SessionId) -> SessionInfo:
        """The session at a glance: id, state, config, progress — and who drives it."""
        info = await self._read(session_id, LiveSession.info)
        if self.storage is None:
            return info
        rows = await self.storage.listing([session_id])
        return _with_row(info, rows[0]) if rows else info

    async def get_events(
        self, session_id: SessionId, after_seq: int = 0, limit: int | None = None
    ) -> list[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order, at most ``limit`` (from the store)."""
        return [event async for event in self.stream_events(session_id, after_seq, limit)]

    async def stream_events(
        self, session_id: SessionId, after_seq: int = 0, limit: int | None = None
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order, one at a time, at most ``limit``.

        With a store they are read from it as they are consumed (a long log is
        never held in memory); without one, from memory.
        """
        if limit is not None and limit <= 0:
            return
        if self.storage is None:
            slot = self._slots.get(session_id)
            if slot is None or slot.live is None:
                raise SessionNotFound(session_id)
            live = slot.live
            async with slot.lock.reading():
                wanted = live.events[max(after_seq - live.events_base, 0) :]
            events: Iterable[TimestampedEvent] = wanted if limit is None else wanted[:limit]
            for event in events:
                yield event
            return
        up_to = None
        slot = self._slots.get(session_id)
        if slot is not None:  # what this manager committed: never an event still in flight
            async with slot.lock.reading():
                up_to = slot.last_seq
        count = 0
        async for event in self.storage.load_events(session_id, after_seq):
            if up_to is not None and event.seq > up_to:
                return
            yield event
            count += 1
            if limit is not None and count >= limit:
                return

    async def list_sessions(
        self,
        statuses: Iterable[str] | None = None,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
        newest_first: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        """The sessions, oldest first (or ``newest_first``): ``limit`` of them after ``offset``.

        Only those whose status is in ``statuses``, whose workflow is named
        ``workflow``, created at ``since`` or later, when given.  With a store,
        the filters and the page come from the store's listing (no log is
        read), and only the sessions of the page are loaded; one the store
        cannot read is left out and reported in :attr:`damaged`.  Without a
        filter, the page is chosen by id alone (ids sort by creation), and only
        its sessions' rows are read.
        """
        if offset < 0:
            raise ValueError(f"offset must be 0 or more, not {offset}")
        wanted = None if statuses is None else frozenset(statuses)
        end = None if limit is None else offset + max(limit, 0)
        if self.storage is not None and wanted is None and workflow is None and since is None:
            ids = await self.storage.list()
            if newest_first:
                ids.reverse()
            chosen = await self._rows_of(ids[offset:end])
        else:
            chosen = await self._filtered(wanted, workflow, since)
            if newest_first:
                chosen.reverse()
            chosen = chosen[offset:end]
        infos = []
        for row in chosen:
            try:
                info = await self._read(row.id, LiveSession.info)
            except SessionNotFound:
                continue  # deleted meanwhile
            except SessionError as error:
                self.damaged[row.id] = error
                continue
            infos.append(_with_row(info, row) if self.storage is not None else info)
        return infos

    async def count_sessions(
        self,
        statuses: Iterable[str] | None = None,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many sessions :meth:`list_sessions` would list with these filters, unpaged.

        Without a filter it counts ids (no row is read): a damaged session is
        counted, though :meth:`list_sessions` leaves it out.
        """
        wanted = None if statuses is None else frozenset(statuses)
        if self.storage is not None and wanted is None and workflow is None and since is None:
            return len(await self.storage.list())
        return len(await self._filtered(wanted, workflow, since))

    async def _rows_of(self, ids: list[SessionId]) -> list[SessionListing]:
        """The rows of ``ids``, in their order (one gone or damaged meanwhile is left out)."""
        assert self.storage is not None
        rows = {row.id: row for row in await self.storage.listing(ids)}
        self.damaged.update(self.storage.damaged())
        return [rows[session_id] for session_id in ids if session_id in rows]

    async def _filtered(
        self, wanted: frozenset[str] | None, workflow: str | None, since: datetime | None
    ) -> list[SessionListing]:
        """Every row that passes the filters, oldest first."""
        return [
            row
            for row in await self._rows()
            if (wanted is None or row.status in wanted)
            and (workflow is None or row.workflow == workflow)
            and (since is None or row.created_at >= since)
        ]

    async def _rows(self) -> list[SessionListing]:
        """Every session at a glance: from the store, or from memory."""
        if self.storage is not None:
            rows = await self.storage.listing()
            self.damaged.update(self.storage.damaged())
            return rows
        listed = []
        for session_id in self._slots:
            slot = self._slots.get(session_id)
            if slot is not None and slot.live is not None:
                live = slot.live
                listed.append(
                    SessionListing(
                        id=live.id,
                        state=live.state,
                        workflow=live.config.workflow.name,
                        created_at=live.created_at,
                    )
                )
        return listed

    async def list_active_sessions(self) -> list[SessionInfo]:
        """Every session that is not finished (created, running or paused), oldest first."""
        return await self.list_sessions(ACTIVE_STATUSES)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    # -- checkpoints ----------------------------------------------------------------------
    async def save_checkpoint(self, session_id: SessionId) -> SessionCheckpoint:
        """Snapshot the session so that a restore replays only what comes after."""
        slot = await self._slot(session_id)
        async with slot.lock.writing():
            session = await self._live(slot, session_id)
            return await self._checkpoint(session)

    async def restore_session(self, session_id: SessionId) -> SessionState:
        """Rebuild the session from its latest checkpoint plus the events after it.

        Without a checkpoint the whole log is replayed.  The rebuilt session
        replaces the one in memory.  From a store, only the events after the
        checkpoint are read.
        """
        slot = await self._slot(session_id)
        async with slot.lock.writing():
            if self.storage is not None:
                rebuilt = await self._load(session_id)
            else:
                live = await self._live(slot, session_id)
                rebuilt = rebuild(live, live.checkpoints, live.events)
            slot.hold(rebuilt)
        return rebuilt.state

    # -- signals and the end ------------------------------------------------------------
    async def drain_signals(self, timeout: float | None = None) -> bool:
        """Wait until every signal of events recorded so far was delivered."""
        return await self.signals.drain(timeout)

    def close(self) -> None:
        """Stop the signal delivery thread (after delivering what is queued)."""
        self.signals.close()

    async def flush(self) -> None:
        """Make every event recorded so far durable, whatever the store's durability mode."""
        if self.storage is not None:
            await self.storage.flush()

    async def aclose(self) -> None:
        """Checkpoint what is due, close the store (flushing it), then :meth:`close`."""
        try:
            if self.storage is not None:
                await self._checkpoint_running()
                await self.storage.close()
        finally:
            self.close()

    async def _checkpoint_running(self) -> None:
        """Checkpoint every session in memory that ran since its last checkpoint."""
        for session_id in list(self._slots):
            slot = self._slots.get(session_id)
            if slot is None or slot.live is None or slot.lock.locked:
                continue
            live = slot.live
            if live.state.status == "running" and live.last_seq > live.checkpoint_seq:
                await self._auto_checkpoint(live)


def _with_row(info: SessionInfo, row: SessionListing) -> SessionInfo:
    """``info`` with what the store's listing says of its holder."""
    if row.holder is None and not row.orphaned:
        return info
    interrupted = row.orphaned and info.state.status == "running"
    return info.model_copy(update={"holder": row.holder, "interrupted": interrupted})


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
