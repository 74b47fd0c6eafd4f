"""When appended events reach the disk: the durability modes and the group committer.

- ``strict``: every append is fsynced before it returns.  A crash of the
  process, of the OS or of the power loses no acknowledged event.
- ``batched`` (the default): every append is written to the file before it
  returns (so a crash of the *process* loses nothing), and fsynced at most
  ``window`` seconds later by a background thread, the group committer, which
  syncs every log written meanwhile at once.  A crash of the OS or of the power
  may lose the events acknowledged in the last ``window`` seconds (plus the
  time one round of fsyncs takes).  ``flush()`` and ``close()`` sync at once.
- ``none``: nothing is fsynced unless ``flush()`` is called (tests, throwaway runs).
  A process crash loses nothing; an OS crash may lose anything not flushed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final, Literal, Protocol, get_args

__all__ = ["DEFAULT_WINDOW", "Durability", "GroupCommitter", "Periodic", "Syncable", "check_mode"]

log = logging.getLogger("persistence.durability")

Durability = Literal["strict", "batched", "none"]
"""How soon an appended event is on disk (see the module's documentation)."""

DEFAULT_WINDOW: Final = 0.05
"""Seconds within which ``batched`` mode fsyncs an append (50 ms)."""


def check_mode(durability: str) -> Durability:
    """``durability`` if it is a known mode, else ``ValueError``."""
    if durability not in get_args(Durability):
        raise ValueError(f"unknown durability {durability!r}: use strict, batched or none")
    return durability  # type: ignore[return-value]


class Syncable(Protocol):
    """Something with unsynced writes: an event log."""

    def sync(self) -> None:
        """Make what was written durable (raises ``StorageError`` when it cannot)."""
        ...


class GroupCommitter:
    """Fsyncs, in one background thread, every log written within the last ``window`` seconds.

    A log is marked with :meth:`dirty` after a write; the thread wakes, waits
    until ``window`` after the first unsynced write, and syncs every dirty log.
    An fsync that fails is logged and the log is marked dirty again, so the next
    :meth:`flush` (or ``close``) raises it to a caller.
    """

    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        self.window = window
        self._dirty: dict[int, Syncable] = {}
        self._since = 0.0
        self._wake = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def dirty(self, target: Syncable) -> None:
        """Note that ``target`` has writes to sync."""
        key = id(target)
        with self._wake:  # not lock-free: a write must never miss the round after it
            if key in self._dirty:
                return
            if not self._dirty:
                self._since = time.monotonic()
                self._wake.notify()
            self._dirty[key] = target
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="persistence-group-commit", daemon=True
                )
                self._thread.start()

    def discard(self, target: Syncable) -> None:
        """Forget ``target`` (it is being closed, after a sync of its own)."""
        with self._wake:
            self._dirty.pop(id(target), None)

    def flush(self) -> None:
        """Sync every dirty log now, in the caller's thread; raises the first failure."""
        with self._wake:
            batch, self._dirty = self._dirty, {}
        self._sync(batch, raise_errors=True)

    def close(self) -> None:
        """Flush, then stop the thread."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def _sync(self, batch: dict[int, Syncable], *, raise_errors: bool) -> None:
        failure: Exception | None = None
        for key, target in batch.items():
            try:
                target.sync()
            except Exception as error:  # noqa: BLE001 - kept for the next flush
                log.error("background fsync failed: %s", error)  # noqa: TRY400
                with self._wake:  # retried one window later
                    if not self._dirty:
                        self._since = time.monotonic()
                    self._dirty.setdefault(key, target)
                failure = failure or error
        if failure is not None and raise_errors:
            raise failure

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                delay = self._since + self.window - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._wake:
                batch, self._dirty = self._dirty, {}
            self._sync(batch, raise_errors=False)


class Periodic:
    """Calls ``action`` every ``interval`` seconds in a daemon thread, until :meth:`stop`."""

    def __init__(self, interval: float, action: Callable[[], None], name: str) -> None:
        self.interval = interval
        self._action = action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop calling (waits for a call in progress)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._action()
            except Exception:
                log.exception("%s failed", self._thread.name)
