"""A per-session readers–writer lock for coroutines on any event loop, in any thread.

``asyncio.Lock`` belongs to one event loop and ``threading.Lock`` blocks the
whole loop while it waits (and deadlocks if the holder is a task of the same
loop that awaits storage).  This lock is taken without blocking when it is free
— the common case, a few hundred nanoseconds — and otherwise parks the caller on
a future of its own loop, woken thread-safely in FIFO order.  Readers share it;
a writer has it alone; a waiting writer stops new readers from overtaking it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from types import TracebackType

__all__ = ["ReadWriteLock"]


class _Waiter:
    __slots__ = ("future", "granted", "loop", "write")

    def __init__(self, write: bool) -> None:
        self.write = write
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Held:
    """``async with lock.reading():`` / ``async with lock.writing():``."""

    __slots__ = ("_lock", "_write")

    def __init__(self, lock: ReadWriteLock, write: bool) -> None:
        self._lock = lock
        self._write = write

    async def __aenter__(self) -> None:
        await self._lock.acquire(write=self._write)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release(write=self._write)


class ReadWriteLock:
    """Many readers or one writer; safe across threads, event loops and task cancellation."""

    __slots__ = ("_mutex", "_readers", "_waiters", "_writing")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._readers = 0
        self._writing = False
        self._waiters: deque[_Waiter] | None = None  # allocated on first contention

    def reading(self) -> _Held:
        """An async context manager holding the lock shared."""
        return _Held(self, False)

    def writing(self) -> _Held:
        """An async context manager holding the lock exclusively."""
        return _Held(self, True)

    @property
    def locked(self) -> bool:
        """Whether a writer or any reader holds the lock."""
        return self._writing or self._readers > 0

    async def acquire(self, *, write: bool) -> None:
        """Take the lock, waiting without blocking the event loop when it is held."""
        with self._mutex:
            if not self._waiters and not self._writing and (not write or not self._readers):
                if write:
                    self._writing = True
                else:
                    self._readers += 1
                return
            waiter = _Waiter(write)
            if self._waiters is None:
                self._waiters = deque()
            self._waiters.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._mutex:
                if waiter.granted:  # granted as we were cancelled: pass it on
                    self._release_locked(write)
                else:
                    assert self._waiters is not None
                    self._waiters.remove(waiter)
                    self._grant_locked()
            raise

    def release(self, *, write: bool) -> None:
        """Give the lock back and wake whoever may now have it."""
        with self._mutex:
            self._release_locked(write)

    def _release_locked(self, write: bool) -> None:
        if write:
            if not self._writing:
                raise RuntimeError("release of a write lock that is not held")
            self._writing = False
        else:
            if self._readers <= 0:
                raise RuntimeError("release of a read lock that is not held")
            self._readers -= 1
        if self._waiters:
            self._grant_locked()

    def _grant_locked(self) -> None:
        waiters = self._waiters
        while waiters and not self._writing:
            head = waiters[0]
            if head.write:
                if self._readers:
                    return
                self._writing = True
            else:
                self._readers += 1
            waiters.popleft()
            head.granted = True
            try:
                head.loop.call_soon_threadsafe(_wake, head.future)
            except RuntimeError:  # its loop is closed: nobody will ever take it
                head.granted = False
                if head.write:
                    self._writing = False
                else:
                    self._readers -= 1
