"""The store's change feed: which session moved, and to which seq, wherever it was driven.

A change is only a hint: whoever shows a session reads its events from the
store by seq (so nothing is missed or shown twice, whatever the hints do).
Three sources, all publishing to one :class:`Feed`:

- **this process**: the blinker signal ``state_changed`` (the actions the
  dashboard performs itself; and on PostgreSQL, what the bridge re-emits);
- **PostgreSQL**: :class:`~persistence.PostgresSignalBridge` LISTENs on the
  store's channel and re-emits every process's transitions on those signals
  (a lost connection is caught up by seq by the bridge itself);
- **TinyDB**: :class:`TinyDBPoller` watches the logs grow, through the store's
  public API only, in a thread of its own: every :data:`HOT_POLL` seconds it
  reads the new events of the *hot* sessions (running and driven by a live
  process, or shown by a page), which costs a stat and a
  read of nothing when nothing moved (~0.15 ms a session); every
  :data:`IDS_POLL` seconds the ids (one directory listing, ~10 ms at 10,000
  sessions) for new sessions; and the whole listing (status changes of
  sessions that were not hot: a paused session resumed elsewhere) every ten
  times what it costs, at least :data:`FULL_POLL_MIN` seconds apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from statecharts import (
    DurableSessionStorage,
    SessionError,
    SessionId,
    SessionListing,
    TimestampedEvent,
    signals,
)

__all__ = ["FULL_POLL_MIN", "HOT_POLL", "IDS_POLL", "Change", "Feed", "TinyDBPoller"]

log = logging.getLogger("cook.ui.feed")

HOT_POLL = 0.1
"""Seconds between two reads of the hot sessions' logs (TinyDB)."""
IDS_POLL = 0.5
"""Seconds between two listings of the ids, for new sessions (TinyDB)."""
FULL_POLL_MIN = 2.0
"""The least seconds between two full listings, for status changes (TinyDB)."""


@dataclass(frozen=True)
class Change:
    """Session ``session_id`` moved to ``seq`` (its last event is ``kind``), now ``status``."""

    session_id: SessionId
    seq: int
    kind: str
    status: str | None

    def as_json(self) -> dict[str, Any]:
        """The change as the stream sends it."""
        return {"id": self.session_id, "seq": self.seq, "kind": self.kind, "status": self.status}


CLOSED: Final = Change(SessionId(""), 0, "closed", None)
"""Put in every subscriber's queue when the feed closes."""


class Feed:
    """Where changes are published (from any thread) and waited for (in the event loop)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: dict[SessionId, int] = {}
        self._moved = asyncio.Condition()
        self._queues: set[asyncio.Queue[Change]] = set()
        self._watched: dict[SessionId, int] = {}
        self.watched: frozenset[SessionId] = frozenset()
        """The sessions a page shows now (a new set each time: read from any thread)."""
        self.published = 0
        self.closed = False

    def close(self) -> None:
        """The server stops: every stream ends (in the event loop)."""
        self.closed = True
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(CLOSED)
        asyncio.get_running_loop().create_task(self._notify())

    def attach(self) -> None:
        """Receive this process's signals (call in the event loop)."""
        self._loop = asyncio.get_running_loop()
        signals.state_changed.connect(self._signalled)

    def detach(self) -> None:
        """Stop receiving this process's signals."""
        signals.state_changed.disconnect(self._signalled)
        self._loop = None

    def _signalled(self, sender: str, **data: Any) -> None:
        """A blinker receiver: runs in the manager's (or the bridge's) delivery thread."""
        loop = self._loop
        event: TimestampedEvent = data["event"]
        change = Change(SessionId(sender), event.seq, event.event.kind, data["new_state"].status)
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.publish, change)

    def publish(self, change: Change) -> None:
        """Tell every waiter and subscriber (in the event loop)."""
        self.published += 1
        if change.seq > self._seen.get(change.session_id, -1):
            self._seen[change.session_id] = change.seq
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):  # a reader that lags refetches anyway
                queue.put_nowait(change)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._moved:
            self._moved.notify_all()

    async def wait(self, session_id: SessionId, after_seq: int, timeout: float) -> bool:
        """Wait for a change of ``session_id`` past ``after_seq``; False on timeout."""
        async with self._moved:
            try:
                await asyncio.wait_for(
                    self._moved.wait_for(
                        lambda: self.closed or self._seen.get(session_id, -1) > after_seq
                    ),
                    timeout,
                )
            except TimeoutError:
                return False
        return True

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        """Every change from now on, in a queue of its own."""
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @contextlib.contextmanager
    def watching(self, session_id: SessionId) -> Iterator[None]:
        """While in it, ``session_id`` is hot for the pollers (a page shows it)."""
        self._watched[session_id] = self._watched.get(session_id, 0) + 1
        self.watched = frozenset(self._watched)
        try:
            yield
        finally:
            self._watched[session_id] -= 1
            if not self._watched[session_id]:
                del self._watched[session_id]
            self.watched = frozenset(self._watched)


async def last_seq(storage: DurableSessionStorage, session_id: SessionId) -> int:
    """The seq of the session's last stored event (reading from its latest checkpoint on)."""
    head = await storage.load_head(session_id)
    seq = head.checkpoint.seq if head is not None and head.checkpoint is not None else 0
    async for event in storage.load_events(session_id, seq):
        seq = event.seq
    return seq


class TinyDBPoller:
    """Publishes the changes of a TinyDB store as its logs grow (see the module).

    It polls in a thread of its own, with an event loop and a store instance of
    its own (``open_store`` makes it), so that a listing of 10,000 documents
    never holds up the server's event loop.
    """

    def __init__(self, open_store: Callable[[], DurableSessionStorage], feed: Feed) -> None:
        self.open_store = open_store
        self.feed = feed
        self._rows: dict[SessionId, SessionListing] = {}
        self._seqs: dict[SessionId, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.storage: DurableSessionStorage | None = None
        self.full_cost = 0.0

    async def start(self) -> None:
        """Take the store as it is, then poll (in a thread)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, name="cook-ui-poller", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait, 60)

    async def aclose(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)

    @property
    def _store(self) -> DurableSessionStorage:
        assert self.storage is not None, "used in the poller's thread only"
        return self.storage

    def _publish(self, change: Change) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.feed.publish, change)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self.storage = storage = self.open_store()
        try:
            try:
                await self._full()
            finally:
                self._started.set()
            next_ids = next_full = time.monotonic()
            while not self._stop.wait(HOT_POLL):
                try:
                    await self._hot()
                    now = time.monotonic()
                    if now >= next_ids:
                        await self._new_ids()
                        next_ids = now + IDS_POLL
                    if now >= next_full:
                        await self._full()
                        next_full = time.monotonic() + max(FULL_POLL_MIN, 10 * self.full_cost)
                except Exception:  # a store error must not stop the feed: try again next time
                    log.exception("cook ui: reading the store for changes failed")
        finally:
            await storage.close()

    def _hot_ids(self) -> set[SessionId]:
        """The running sessions a live process drives, and those a page shows.

        (One whose process is gone moves only once another takes it: the listing
        sees that — its holder or status changes — and it is hot again.)
        """
        driven = {
            sid for sid, row in self._rows.items() if row.status == "running" and not row.orphaned
        }
        return driven | set(self.feed.watched)

    async def _hot(self) -> None:
        for session_id in self._hot_ids():
            known = self._seqs.get(session_id)
            if known is None:
                known = self._seqs[session_id] = await self._last_seq(session_id)
            last: TimestampedEvent | None = None
            try:
                async for event in self._store.load_events(session_id, known):
                    last = event
            except SessionError:
                continue  # gone or damaged: the full listing says
            if last is not None:
                self._seqs[session_id] = last.seq
                rows = await self._store.listing([session_id])
                status = rows[0].status if rows else None
                if rows:
                    self._rows[session_id] = rows[0]
                self._publish(Change(session_id, last.seq, last.event.kind, status))

    async def _last_seq(self, session_id: SessionId) -> int:
        try:
            return await last_seq(self._store, session_id)
        except SessionError:
            return 0

    async def _new_ids(self) -> None:
        ids = await self._store.list()
        new = [sid for sid in ids if sid not in self._rows]
        if len(ids) - len(new) != len(self._rows):  # some were deleted
            alive = set(ids)
            for gone in [sid for sid in self._rows if sid not in alive]:
                del self._rows[gone]
                self._seqs.pop(gone, None)
        if new:
            for row in await self._store.listing(new):
                self._rows[row.id] = row
                self._publish(Change(row.id, 0, "created", row.status))

    async def _full(self) -> None:
        started = time.monotonic()
        rows = await self._store.listing()
        self.full_cost = time.monotonic() - started
        first = not self._rows
        fresh = {row.id: row for row in rows}
        for sid, row in fresh.items():
            old = self._rows.get(sid)
            if not first and (old is None or _moved(old, row)):
                self._publish(Change(sid, self._seqs.get(sid, 0), "listing", row.status))
        self._rows = fresh


def _moved(old: SessionListing, new: SessionListing) -> bool:
    """Whether a session's row changed (its state, or who holds it; a heartbeat is no change)."""
    if old.state != new.state or old.orphaned != new.orphaned:
        return True
    before, after = old.holder, new.holder
    if before is None or after is None:
        return before is not after
    return (before.host, before.pid, before.since) != (after.host, after.pid, after.since)
