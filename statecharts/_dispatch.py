"""Delivery of signals off the event path, in order, immune to failing or hanging receivers.

The manager hands every committed event to :meth:`SignalDispatcher.publish`
while it still holds the session's lock (a queue put, well under a microsecond,
and nothing at all when no receiver is connected), so events enter the queue in
``seq`` order.  One delivery thread calls the receivers, outside any lock.  A
receiver that raises is logged and the others still run.  A receiver that runs
longer than ``receiver_timeout`` is abandoned: a watchdog logs it and starts a
fresh delivery thread that carries on with the next receiver, so one hung
receiver never stalls the others or the manager.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._events import TimestampedEvent
from ._state import SessionState
from .signals import SIGNAL_FOR_EVENT, state_changed

__all__ = ["SignalDispatcher"]

log = logging.getLogger("statecharts.signals")

_Call = tuple[Callable[..., Any], str, dict[str, Any]]
_STOP = object()


class SignalDispatcher:
    """Delivers the signals of one manager on a thread of its own."""

    def __init__(self, manager: object, receiver_timeout: float = 10.0) -> None:
        self._manager = manager
        self.receiver_timeout = receiver_timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._last_published = 0
        self._delivered = 0
        self._done = threading.Condition()
        self._guard = threading.Lock()  # generation, current work, busy marker
        self._generation = 0
        self._work: deque[_Call] | None = None
        self._busy_since: float | None = None
        self._busy_receiver: Callable[..., Any] | None = None
        self._started = False
        self._closed = threading.Event()

    def publish(
        self,
        session_id: str,
        recorded: TimestampedEvent,
        old_state: SessionState,
        new_state: SessionState,
    ) -> None:
        """Queue the signals for one committed event (call it in seq order)."""
        signal = SIGNAL_FOR_EVENT[recorded.event.kind]
        if not (state_changed.receivers or signal.receivers):
            return
        if not self._started:
            self._start()
        with self._guard:
            self._last_published += 1
            self._queue.put((session_id, recorded, old_state, new_state))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every signal published so far was delivered; False on timeout."""
        target = self._last_published
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._delivered < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done.wait(remaining if remaining is not None else 0.5)
        return True

    async def drain(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for coroutines (waits in a worker thread)."""
        return await asyncio.to_thread(self.flush, timeout)

    def close(self) -> None:
        """Stop the delivery and watchdog threads once the queue is delivered."""
        if self._started and not self._closed.is_set():
            self._queue.put(_STOP)
            self._closed.set()

    # -- threads --------------------------------------------------------------------
    def _start(self) -> None:
        with self._guard:
            if self._started:  # pragma: no cover - two first publishers raced
                return
            self._started = True
            self._spawn_worker(self._generation)
            threading.Thread(target=self._watch, name="sessionchart-watchdog", daemon=True).start()

    def _spawn_worker(self, generation: int) -> None:
        threading.Thread(
            target=self._deliver, args=(generation,), name="sessionchart-signals", daemon=True
        ).start()

    def _calls(
        self, item: tuple[str, TimestampedEvent, SessionState, SessionState]
    ) -> deque[_Call]:
        session_id, recorded, old_state, new_state = item
        kwargs = {
            "event": recorded,
            "old_state": old_state,
            "new_state": new_state,
            "manager": self._manager,
        }
        calls: deque[_Call] = deque()
        for signal in (state_changed, SIGNAL_FOR_EVENT[recorded.event.kind]):
            calls.extend(
                (receiver, session_id, kwargs) for receiver in signal.receivers_for(session_id)
            )
        return calls

    def _deliver(self, generation: int) -> None:
        """The delivery loop; ``generation`` tells a worker whether it was abandoned."""
        while True:
            with self._guard:
                work = self._work  # what an abandoned worker left, if anything
            if work is None:
                item = self._queue.get()
                if item is _STOP:
                    return
                work = self._calls(item)
                with self._guard:
                    self._work = work
            while True:
                with self._guard:
                    if not work:
                        self._work = None
                        break
                    receiver, sender, kwargs = work.popleft()
                    self._busy_since, self._busy_receiver = time.monotonic(), receiver
                self._call(receiver, sender, kwargs)
                with self._guard:
                    if self._generation != generation:
                        return  # abandoned while it ran: the new worker carries on
                    self._busy_since = self._busy_receiver = None
            with self._done:
                self._delivered += 1
                self._done.notify_all()

    @staticmethod
    def _call(receiver: Callable[..., Any], sender: str, kwargs: dict[str, Any]) -> None:
        try:
            result = receiver(sender, **kwargs)
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
        except Exception:
            log.exception("signal receiver %r failed on session %s", receiver, sender)

    def _watch(self) -> None:
        period = max(min(self.receiver_timeout / 4, 1.0), 0.01)
        while not self._closed.wait(period):
            with self._guard:
                since, receiver = self._busy_since, self._busy_receiver
                if since is None or time.monotonic() - since < self.receiver_timeout:
                    continue
                log.error(
                    "signal receiver %r has run for more than %.1f s; abandoned, delivery goes on",
                    receiver,
                    self.receiver_timeout,
                )
                self._generation += 1
                self._busy_since = self._busy_receiver = None
                generation = self._generation
            # The new worker finishes the abandoned item's other receivers, then goes on.
            self._spawn_worker(generation)


async def _awaited(awaitable: Any) -> None:
    await awaitable
