"""The signal bridge: transitions recorded by any process, re-emitted on this process's signals.

Every append to a :class:`~persistence.PostgresSessionStorage`
sends ``NOTIFY`` on the store's channel with ``writer-token session:seq ...``
(the sessions a batch of appends moved on, and their last seq), in the append's
transaction: only committed events are announced.  A
:class:`PostgresSignalBridge` ``LISTEN``-s on that channel with a connection of
its own; for each notification it reads the session's new events *from the
events table* — everything after the last seq it emitted, in seq order — folds
them into a local replica of the session and publishes them on the blinker
signals of :mod:`statecharts.signals`, exactly as a local manager would (with
``manager`` set to the bridge).  Observers thus work the same whether a session
runs here or on another machine.

A notification is only a hint: when the listening connection drops, the
bridge reconnects, listens again and catches up every followed session from the
events table by seq, so a lost notification never loses an event, and no event
is emitted twice or out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection

from statecharts import ReplayError, SessionId, SessionNotFound
from statecharts._dispatch import SignalDispatcher
from statecharts._loading import load_session
from statecharts._session import LiveSession

from .._errors import StorageError
from .._files import checked_id
from ._store import PostgresSessionStorage

__all__ = ["PostgresSignalBridge"]

log = logging.getLogger("persistence.postgres.bridge")


class PostgresSignalBridge:
    """Re-emits on local signals the transitions any process records in ``storage``.

    With ``sessions`` given, only those sessions are followed (from their
    first event); otherwise every session is: those that exist when the
    bridge starts from their current seq, new ones from their first event.
    :meth:`follow` adds a session (from any seq).  With ``skip_own``, events
    written through ``storage`` itself are not emitted again (the local
    manager already did).  Use it as an async context manager, or call
    :meth:`start` and :meth:`aclose`.
    """

    def __init__(
        self,
        storage: PostgresSessionStorage,
        *,
        sessions: Iterable[SessionId] | None = None,
        skip_own: bool = True,
        receiver_timeout: float = 10.0,
        retry_delay: float = 0.5,
    ) -> None:
        self.storage = storage
        self.skip_own = skip_own
        self.retry_delay = retry_delay
        self.signals = SignalDispatcher(self, receiver_timeout)
        self.reconnects = 0
        self._all = sessions is None
        self._positions: dict[SessionId, int] = {}
        for session_id in sessions or ():
            self._positions[checked_id(session_id)] = 0
        self._replicas: dict[SessionId, LiveSession] = {}
        self._connection: AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._moved = asyncio.Condition()
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def position(self, session_id: SessionId) -> int:
        """The seq of the last event of ``session_id`` handled (0: none yet)."""
        return self._positions.get(session_id, 0)

    # -- the life of the bridge ---------------------------------------------------------
    async def start(self) -> None:
        """Listen, catch up the followed sessions, then follow notifications in a task."""
        if self._started:
            return
        await self._listen()
        await self._catch_up(first=True)
        self._started = True
        self._task = asyncio.create_task(self._run(), name="postgres-signal-bridge")

    async def follow(self, session_id: SessionId, after_seq: int = 0) -> None:
        """Follow ``session_id`` too, emitting its events after ``after_seq`` (caught up now)."""
        session_id = checked_id(session_id)
        async with self._lock:
            if session_id not in self._positions:
                self._positions[session_id] = max(int(after_seq), 0)
        await self._advance(session_id)

    async def wait_for(self, session_id: SessionId, seq: int, timeout: float | None = None) -> bool:
        """Wait until the events of ``session_id`` up to ``seq`` were handled; False on timeout."""
        async with self._moved:
            try:
                await asyncio.wait_for(
                    self._moved.wait_for(lambda: self.position(session_id) >= seq), timeout
                )
            except TimeoutError:
                return False
        return True

    async def drain_signals(self, timeout: float | None = None) -> bool:
        """Wait until every signal emitted so far was delivered."""
        return await self.signals.drain(timeout)

    async def aclose(self) -> None:
        """Stop listening and close the connection (delivering the signals queued)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect()
        self.signals.close()

    # -- listening ----------------------------------------------------------------------
    async def _listen(self) -> None:
        self._connection = await self.storage.listener()

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _run(self) -> None:
        while True:
            try:
                assert self._connection is not None
                async for notification in self._connection.notifies():
                    await self._notified(notification.payload)
            except (psycopg.Error, StorageError) as error:
                log.warning("signal bridge lost its connection (%s); reconnecting", error)
            except Exception:  # a bug must not stop the bridge: start afresh, catching up
                log.exception("signal bridge failed; reconnecting")
            await self._reconnect()

    async def _reconnect(self) -> None:
        """Listen again (retrying until the server is back), then catch up from the table."""
        await self._disconnect()
        while True:
            await asyncio.sleep(self.retry_delay)
            try:
                await self._listen()
                await self._catch_up(first=False)
            except StorageError as error:
                log.info("signal bridge: the server is still away (%s)", error)
                await self._disconnect()
                continue
            self.reconnects += 1
            return

    async def _notified(self, payload: str) -> None:
        """Handle ``token sid:seq sid:seq...``: the sessions a committed batch moved on."""
        token, *entries = payload.split(" ")
        for entry in entries:
            session_id, _, seq = entry.partition(":")
            if not seq.isdigit():
                log.warning("signal bridge: ignored a notification %r", payload)
                return
            await self._session_moved(SessionId(session_id), int(seq), token)

    async def _session_moved(self, sid: SessionId, last: int, token: str) -> None:
        if sid not in self._positions:
            if not self._all:
                return
            self._positions[sid] = 0  # a new session: from its first event
        if self.skip_own and token == self.storage.token:
            async with self._lock:  # ours: already emitted by our manager
                if last > self._positions[sid]:
                    self._positions[sid] = last
                    self._replicas.pop(sid, None)
            await self._moved_on()
            return
        await self._advance(sid)

    async def _catch_up(self, *, first: bool) -> None:
        """Handle every event stored since the last one handled, for every followed session."""
        for sid, last_seq in (await self.storage.positions()).items():
            if sid not in self._positions:
                if not self._all:
                    continue
                self._positions[sid] = last_seq if first else 0
            if last_seq > self._positions[sid]:
                await self._advance(sid)

    # -- emitting -----------------------------------------------------------------------
    async def _advance(self, session_id: SessionId) -> None:
        """Emit the stored events of ``session_id`` after the last one handled, in seq order."""
        async with self._lock:
            position = self._positions[session_id]
            try:
                replica = self._replicas.get(session_id)
                if replica is None or replica.last_seq != position:
                    replica = await self._replica(session_id, position)
                    self._replicas[session_id] = replica
                async for recorded in self.storage.load_events(session_id, position):
                    old_state = replica.state
                    replica.replay([recorded])
                    self._positions[session_id] = recorded.seq
                    self.signals.publish(session_id, recorded, old_state, replica.state)
            except SessionNotFound:
                self._replicas.pop(session_id, None)
            except ReplayError as error:
                log.warning("signal bridge: session %s cannot be followed: %s", session_id, error)
                self._replicas.pop(session_id, None)
        await self._moved_on()

    async def _replica(self, session_id: SessionId, seq: int) -> LiveSession:
        """The session as it was at ``seq``: from a checkpoint at or before it, then events."""
        return await load_session(self.storage, session_id, up_to=seq)

    async def _moved_on(self) -> None:
        async with self._moved:
            self._moved.notify_all()
