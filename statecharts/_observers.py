"""The spec's observer interface, as a thin adapter on the signals.

An observer is any object with ``async def on_event(session_id, event)``.
:class:`ObservableSessionManager` wraps a manager and feeds each observer the
events of *that* manager's sessions, in ``seq`` order per session, on the event
loop the observer was added from.  Each observer has its own queue and task: one
that raises is logged, one that hangs past ``observer_timeout`` is cancelled and
logged, and neither delays the others or the manager.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, runtime_checkable

from ._config import SessionConfig
from ._events import SessionEvent, TimestampedEvent
from ._ids import SessionId
from ._manager import InMemorySessionManager
from ._progress import SessionProgress
from ._snapshots import SessionCheckpoint, SessionInfo
from ._state import SessionState, SessionSummary
from .signals import state_changed

__all__ = ["ObservableSessionManager", "SessionObserver"]

log = logging.getLogger("statecharts.observers")


@runtime_checkable
class SessionObserver(Protocol):
    """Told of every event recorded for the sessions of the manager it observes."""

    async def on_event(self, session_id: SessionId, event: TimestampedEvent) -> None:
        """Called once per recorded event, in seq order per session."""
        ...


class _Subscription:
    """One observer's queue and task, fed from the signal thread."""

    def __init__(self, observer: SessionObserver, timeout: float) -> None:
        self.observer = observer
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[SessionId, TimestampedEvent]] = asyncio.Queue()
        self.task = self.loop.create_task(self._run(), name=f"observer {observer!r}")

    def push(self, session_id: SessionId, event: TimestampedEvent) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (session_id, event))
        except RuntimeError:  # its loop is closed
            log.warning("observer %r dropped: its event loop is closed", self.observer)

    async def _run(self) -> None:
        while True:
            session_id, event = await self.queue.get()
            try:
                await asyncio.wait_for(self.observer.on_event(session_id, event), self.timeout)
            except TimeoutError:
                log.error(  # noqa: TRY400 - a timeout has no traceback worth logging
                    "observer %r took more than %.1f s on seq %d of %s; cancelled",
                    self.observer,
                    self.timeout,
                    event.seq,
                    session_id,
                )
            except Exception:
                log.exception(
                    "observer %r failed on seq %d of %s", self.observer, event.seq, session_id
                )
            finally:
                self.queue.task_done()


class ObservableSessionManager:
    """A manager whose events are also delivered to registered observers."""

    def __init__(self, inner: InMemorySessionManager, *, observer_timeout: float = 10.0) -> None:
        self.inner = inner
        self.observer_timeout = observer_timeout
        self._subscriptions: dict[int, _Subscription] = {}
        state_changed.connect(self._on_state_changed)

    def _on_state_changed(self, session_id: SessionId, **data: Any) -> None:
        if data.get("manager") is not self.inner:
            return
        for subscription in list(self._subscriptions.values()):
            subscription.push(session_id, data["event"])

    def add_observer(self, observer: SessionObserver) -> None:
        """Start delivering events to ``observer`` (call it from its event loop)."""
        if not isinstance(observer, SessionObserver):
            raise TypeError(f"{observer!r} has no async on_event(session_id, event)")
        self._subscriptions[id(observer)] = _Subscription(observer, self.observer_timeout)

    async def remove_observer(self, observer: SessionObserver) -> None:
        """Stop delivering events to ``observer`` (pending ones are dropped)."""
        subscription = self._subscriptions.pop(id(observer), None)
        if subscription is not None:
            subscription.task.cancel()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every event recorded so far reached every observer."""
        await self.inner.drain_signals(timeout)
        for subscription in list(self._subscriptions.values()):
            if subscription.loop is asyncio.get_running_loop():
                await asyncio.wait_for(subscription.queue.join(), timeout)

    async def close(self) -> None:
        """Disconnect from the signals and stop every observer task."""
        state_changed.disconnect(self._on_state_changed)
        for observer_id in list(self._subscriptions):
            self._subscriptions.pop(observer_id).task.cancel()

    # -- the manager's interface, delegated ------------------------------------------------
    async def create_session(self, config: SessionConfig) -> SessionId:
        """See :meth:`InMemorySessionManager.create_session`."""
        return await self.inner.create_session(config)

    async def start_session(self, session_id: SessionId) -> None:
        """See :meth:`InMemorySessionManager.start_session`."""
        await self.inner.start_session(session_id)

    async def complete_session(self, session_id: SessionId) -> SessionSummary:
        """See :meth:`InMemorySessionManager.complete_session`."""
        return await self.inner.complete_session(session_id)

    async def record_event(self, session_id: SessionId, event: SessionEvent) -> TimestampedEvent:
        """See :meth:`InMemorySessionManager.record_event`."""
        return await self.inner.record_event(session_id, event)

    async def send(self, session_id: SessionId, event_name: str, **payload: Any) -> SessionState:
        """See :meth:`InMemorySessionManager.send`."""
        return await self.inner.send(session_id, event_name, **payload)

    async def get_state(self, session_id: SessionId) -> SessionState:
        """See :meth:`InMemorySessionManager.get_state`."""
        return await self.inner.get_state(session_id)

    async def get_progress(self, session_id: SessionId) -> SessionProgress:
        """See :meth:`InMemorySessionManager.get_progress`."""
        return await self.inner.get_progress(session_id)

    async def get_events(self, session_id: SessionId, after_seq: int = 0) -> list[TimestampedEvent]:
        """See :meth:`InMemorySessionManager.get_events`."""
        return await self.inner.get_events(session_id, after_seq)

    async def list_active_sessions(self) -> list[SessionInfo]:
        """See :meth:`InMemorySessionManager.list_active_sessions`."""
        return await self.inner.list_active_sessions()

    async def pause_session(self, session_id: SessionId, reason: str = "") -> SessionState:
        """See :meth:`InMemorySessionManager.pause_session`."""
        return await self.inner.pause_session(session_id, reason)

    async def resume_session(self, session_id: SessionId) -> SessionState:
        """See :meth:`InMemorySessionManager.resume_session`."""
        return await self.inner.resume_session(session_id)

    async def fail_session(self, session_id: SessionId, error: str) -> SessionState:
        """See :meth:`InMemorySessionManager.fail_session`."""
        return await self.inner.fail_session(session_id, error)

    async def save_checkpoint(self, session_id: SessionId) -> SessionCheckpoint:
        """See :meth:`InMemorySessionManager.save_checkpoint`."""
        return await self.inner.save_checkpoint(session_id)

    async def restore_session(self, session_id: SessionId) -> SessionState:
        """See :meth:`InMemorySessionManager.restore_session`."""
        return await self.inner.restore_session(session_id)
