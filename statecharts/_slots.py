"""The sessions a manager knows, and the few it keeps whole in memory.

Every session the manager has written has a :class:`Slot`: its lock, its state
and last seq — what ``get_state`` answers and what keeps two writers of this
process in order.  Only a bounded number of slots also hold their
:class:`~statecharts._session.LiveSession` (the chart's place and the progress
tracker, the big part): the most recently used ones, at most ``hot_limit``,
none idle for longer than ``idle_seconds``, and never a finished or paused one
once it is checkpointed.  A slot without its session reloads it from the store
when next written or read — its latest checkpoint and the few events after it.

A manager without a store keeps every session whole: memory is its store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Final

from ._ids import SessionId
from ._locks import ReadWriteLock
from ._session import LiveSession
from ._state import SessionState

__all__ = ["DEFAULT_HOT_LIMIT", "DEFAULT_IDLE_SECONDS", "Slot", "Slots"]

DEFAULT_HOT_LIMIT: Final = 256
"""Sessions a store-backed manager keeps whole in memory at most."""
DEFAULT_IDLE_SECONDS: Final = 30.0
"""Seconds after which a session nobody touched is let go (reloaded when needed)."""
_SWEEP_EVERY: Final = 1024  # touches between two sweeps of idle sessions
_monotonic = time.monotonic


class Slot:
    """One session the manager knows (see the module's documentation)."""

    __slots__ = ("last_seq", "live", "lock", "state")

    def __init__(self, live: LiveSession) -> None:
        self.lock = ReadWriteLock()
        self.live: LiveSession | None = live
        self.state: SessionState = live.state
        self.last_seq = live.last_seq

    def hold(self, live: LiveSession) -> None:
        """Keep ``live`` as the slot's session (loaded, or reloaded)."""
        self.live = live
        self.state, self.last_seq = live.state, live.last_seq

    def committed(self, live: LiveSession) -> None:
        """Note that ``live`` moved on (after an event was committed)."""
        self.state, self.last_seq = live.state, live.last_seq


class Slots:
    """Every slot of a manager, and which ones hold their session (an LRU)."""

    def __init__(self, *, evicts: bool, hot_limit: int, idle_seconds: float) -> None:
        self.evicts = evicts
        self.hot_limit = max(1, hot_limit)
        self.idle_seconds = idle_seconds
        self._slots: dict[SessionId, Slot] = {}
        self._hot: OrderedDict[SessionId, float] = OrderedDict()
        self._touches = 0
        self._latest: SessionId | None = None  # the last one touched: at the end already
        self._guard = threading.Lock()  # sessions may be driven from several threads

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._slots

    def __iter__(self) -> Iterator[SessionId]:
        with self._guard:
            ids = sorted(self._slots)
        return iter(ids)

    def get(self, session_id: SessionId) -> Slot | None:
        """The session's slot, if the manager knows it."""
        return self._slots.get(session_id)

    def add(self, session_id: SessionId, live: LiveSession) -> Slot:
        """A new slot holding ``live`` (or the existing one, made to hold it)."""
        with self._guard:
            slot = self._slots.get(session_id)
            if slot is None:
                slot = self._slots[session_id] = Slot(live)
            else:
                slot.hold(live)
        self.touch(session_id)
        return slot

    def hot_count(self) -> int:
        """How many slots hold their session."""
        return len(self._hot)

    def touch(self, session_id: SessionId) -> None:
        """Count the session as just used (kept whole); let go of the coldest beyond the limit."""
        if not self.evicts:
            return
        now = _monotonic()
        hot = self._hot
        if self._latest == session_id and session_id in hot:  # the hot path: the same again
            hot[session_id] = now
            self._touches += 1  # (counted loosely: it only paces the sweeps)
            if not self._touches % _SWEEP_EVERY:
                self.sweep(now)
            return
        self._latest = session_id
        with self._guard:
            hot[session_id] = now
            hot.move_to_end(session_id)
            over = len(hot) > self.hot_limit
            self._touches += 1
            due = not self._touches % _SWEEP_EVERY
        if over:
            self._evict_over_limit()
        if due:
            self.sweep(now)

    def let_go(self, session_id: SessionId, *, by_holder: bool = False) -> None:
        """Drop the session's whole copy now (it is reloaded when needed), unless it is in use.

        ``by_holder``: the caller holds the session's write lock and is done with it.
        """
        slot = self._slots.get(session_id)
        if self.evicts and slot is not None and (by_holder or not slot.lock.locked):
            with self._guard:
                slot.live = None
                self._hot.pop(session_id, None)

    def sweep(self, now: float | None = None) -> int:
        """Let go of every session idle for ``idle_seconds``; returns how many."""
        now = time.monotonic() if now is None else now
        with self._guard:
            idle = [sid for sid, seen in self._hot.items() if now - seen >= self.idle_seconds]
        for session_id in idle:
            self.let_go(session_id)
        return len(idle)

    def _evict_over_limit(self) -> None:
        with self._guard:
            coldest = list(self._hot)
        for session_id in coldest:
            if len(self._hot) <= self.hot_limit:
                return
            self.let_go(session_id)

    def forget(self, session_id: SessionId) -> None:
        """Forget the session entirely (it was deleted)."""
        with self._guard:
            self._slots.pop(session_id, None)
            self._hot.pop(session_id, None)
