"""TinyDB storages of ours: the database file written atomically, under an inter-process lock.

TinyDB's ``JSONStorage`` rewrites its file in place and does not lock it: a
crash mid-write leaves a truncated, unreadable file, and two processes writing
at once lose each other's changes.  :class:`AtomicJSONStorage` instead

- replaces the file atomically (temporary file, fsync, rename, fsync of the
  directory), so the file on disk is always a complete database;
- serialises every read–modify–write across processes with an ``flock`` on a
  lock file beside the database (:meth:`AtomicJSONStorage.transaction`), and
  across threads with a lock;
- keeps the parsed database while the file is unchanged (same write
  generation, counted in the lock file, and same inode, size and mtime), so
  reading it costs two system calls, not a parse;
- raises :class:`~persistence.errors.CorruptionError` (kind
  ``unreadable_database``, with the byte offset) for a file that is not a
  database, instead of starting an empty one over it.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from .errors import CorruptionError, StorageError
from .files import atomic_write, ensure_dir, open_private, storage_errors

__all__ = ["AtomicJSONStorage"]

_Tables = dict[str, dict[str, Any]]


class AtomicJSONStorage(Storage):
    """A TinyDB storage for one JSON file; see the module's documentation."""

    def __init__(self, path: str | Path, *, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        ensure_dir(self.path.parent)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        with storage_errors("open the lock of", self.lock_path):
            self._lock_fd = open_private(self.lock_path, os.O_RDWR | os.O_CREAT)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._cache: tuple[tuple[int, int, int, int], _Tables] | None = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the database for this thread and process (re-entrant)."""
        with self._thread_lock:
            if self._lock_fd < 0:
                raise StorageError("the database is closed", self.path)
            if self._depth == 0:
                with storage_errors("lock", self.lock_path):
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _generation(self) -> int:
        with storage_errors("read", self.lock_path):
            return int.from_bytes(os.pread(self._lock_fd, 8, 0).ljust(8, b"\0"), "little")

    def _stat_key(self) -> tuple[int, int, int, int] | None:
        with storage_errors("read", self.path):
            try:
                status = os.stat(self.path)
            except FileNotFoundError:
                return None
        return (self._generation(), status.st_ino, status.st_size, status.st_mtime_ns)

    def read(self) -> _Tables | None:
        """The whole database, or None when the file is missing or empty."""
        with self.transaction():
            key = self._stat_key()
            if key is None:
                self._cache = None
                return None
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            with storage_errors("read", self.path):
                data = self.path.read_bytes()
            if not data:
                return None
            tables = self._parse(data)
            self._cache = (key, tables)
            return tables

    def _parse(self, data: bytes) -> _Tables:
        try:
            tables = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            offset = getattr(error, "pos", None)
            if offset is None:
                offset = getattr(error, "start", 0)
            raise CorruptionError(
                f"the database is not JSON ({error})",
                self.path,
                kind="unreadable_database",
                offset=offset,
            ) from None
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise CorruptionError(
                "the database is not a mapping of tables",
                self.path,
                kind="unreadable_database",
                offset=0,
            )
        return tables

    def write(self, data: _Tables) -> None:
        """Replace the database atomically (fsynced unless ``sync`` is false)."""
        with self.transaction():
            self._cache = None
            payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
            generation = self._generation() + 1
            atomic_write(self.path, payload, sync=self.sync)
            with storage_errors("write", self.lock_path):
                os.pwrite(self._lock_fd, generation.to_bytes(8, "little"), 0)
            key = self._stat_key()
            if key is not None:
                self._cache = (key, data)

    def close(self) -> None:
        """Release the lock file."""
        with self._thread_lock:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1
