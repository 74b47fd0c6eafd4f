"""Who holds a session, and whether that holder is still alive — with no descriptor per session.

Every store instance that writes has an *owner file*, ``owners/<token>.lock``:
it is created when the instance first takes a session, ``flock``-ed by it for
as long as it lives (the kernel drops the lock when the process dies, even on
SIGKILL), its content names the process (host, pid, start time), and its
modification time is the instance's heartbeat (touched every third of the
lease).  A session's document names its holder by token (see
:class:`Holder`); whatever the number of sessions an instance holds, it keeps
one descriptor for all of them.

A holder is *gone* when (:meth:`Liveness.alive`):

- its owner file is missing (it closed, or was cleaned up after it died);
- on this host: its owner file's lock can be taken (nobody holds it);
- on another host: its heartbeat is older than the lease (a shared file system
  may not carry locks between hosts).

Tokens come from stored documents, so a token is checked (16 hex digits)
before it becomes a file name; one that is not a token is a holder that is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Final

from pydantic import AwareDatetime, Field

from statecharts import Record, SessionHolder

from .._errors import StorageError
from .._files import Directory, storage_errors, try_lock
from .._ownership import DEFAULT_LEASE, hostname, process_start

__all__ = ["DEFAULT_LEASE", "OWNERS_DIR", "Holder", "Liveness", "OwnerFile", "new_token"]

OWNERS_DIR: Final = "owners"
"""The directory of the owner files, in the store's directory."""

_TOKEN: Final = re.compile(r"[0-9a-f]{16}")
_SUFFIX: Final = ".lock"
_ALIVE_FOR: Final = 1.0  # seconds a live verdict is reused


def new_token() -> str:
    """A new owner token: 16 hex digits."""
    return secrets.token_hex(8)


class Holder(Record):
    """The holder of a session, as its document records it: which instance, since when."""

    token: str
    host: str
    pid: int = Field(ge=0)
    started: int = Field(default=0, ge=0)
    since: AwareDatetime


class OwnerFile:
    """This instance's owner file: created, locked and touched by it (see the module)."""

    def __init__(self, owners: Directory, token: str) -> None:
        self.name = f"{token}{_SUFFIX}"
        self.path = owners.path / self.name
        self.token = token
        self.host = hostname()
        self.pid = os.getpid()
        self.started = process_start(self.pid) or 0
        identity = json.dumps({"host": self.host, "pid": self.pid, "started": self.started})
        with storage_errors("create the owner file", self.path):
            fd = os.open(
                self.name,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=owners.fd,
            )
        try:
            with storage_errors("write the owner file", self.path):
                os.write(fd, identity.encode())
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: always free
        except BaseException:
            os.close(fd)
            os.unlink(self.name, dir_fd=owners.fd)
            raise
        self._fd = fd
        self._owners = owners

    def holder(self) -> Holder:
        """The holder record for a session taken now."""
        return Holder(
            token=self.token,
            host=self.host,
            pid=self.pid,
            started=self.started,
            since=datetime.now(UTC),
        )

    def beat(self) -> None:
        """Touch the owner file: the heartbeat other hosts go by."""
        if self._fd >= 0:
            with storage_errors("touch the owner file", self.path):
                os.utime(self._fd)

    def close(self) -> None:
        """Remove the owner file and drop its lock: every session it held is free."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.unlink(self.name, dir_fd=self._owners.fd)
            except OSError:
                pass  # another instance cleans it up: its lock is free once we close
            finally:
                os.close(fd)


class Liveness:
    """Tells whether holders are alive, from their owner files (see the module)."""

    def __init__(self, owners: Directory | None, my_token: str, lease: float) -> None:
        self.owners = owners
        self.my_token = my_token
        self.lease = lease
        self._gone: set[str] = set()
        self._alive: dict[str, float] = {}

    def alive(self, holder: Holder | None) -> bool:
        """Whether ``holder`` still drives its session (None: nobody does)."""
        return holder is not None and self.token_alive(holder.token)

    def token_alive(self, token: str) -> bool:
        """Whether the store instance of ``token`` is alive (see the module's documentation)."""
        if token == self.my_token:
            return True
        if token in self._gone or self.owners is None or not _TOKEN.fullmatch(token):
            return False
        seen = self._alive.get(token)
        if seen is not None and time.monotonic() - seen < _ALIVE_FOR:
            return True
        alive = self._probe(token)
        if alive:
            self._alive[token] = time.monotonic()
        else:
            self._gone.add(token)
            self._alive.pop(token, None)
        return alive

    def _probe(self, token: str) -> bool:
        assert self.owners is not None
        try:
            fd = self.owners.open_file(f"{token}{_SUFFIX}", os.O_RDONLY)
        except FileNotFoundError:
            return False
        except StorageError:
            return False  # not a file we wrote: nobody holds anything through it
        try:
            if not try_lock(fd, shared=True):
                return True  # its instance holds the lock: alive
            if _owner_host(fd) == hostname():
                return False  # on this host, a free lock means a dead instance
            return time.time() - os.fstat(fd).st_mtime <= self.lease  # another host: its heartbeat
        except OSError:
            return False
        finally:
            os.close(fd)

    def heartbeat(self, holder: Holder) -> datetime | None:
        """When ``holder`` last showed it is alive (its owner file's time), if known."""
        if holder.token == self.my_token:
            return datetime.now(UTC)
        if self.owners is None or not _TOKEN.fullmatch(holder.token):
            return None
        status = self.owners.stat(f"{holder.token}{_SUFFIX}")
        return None if status is None else datetime.fromtimestamp(status.st_mtime, UTC)

    def describe(self, holder: Holder) -> SessionHolder:
        """``holder`` in the domain's words, for listings and :class:`SessionLocked`."""
        return SessionHolder(
            host=holder.host, pid=holder.pid, since=holder.since, heartbeat=self.heartbeat(holder)
        )

    def sweep(self) -> int:
        """Remove the owner files of instances of this host that are gone; returns how many."""
        if self.owners is None:
            return 0
        removed = 0
        here = hostname()
        for name, kind in self.owners.entries():
            token = name[: -len(_SUFFIX)]
            if kind != "file" or not name.endswith(_SUFFIX) or not _TOKEN.fullmatch(token):
                continue
            if token == self.my_token:
                continue
            removed += self._remove_if_gone(name, here)
        return removed

    def _remove_if_gone(self, name: str, here: str) -> int:
        assert self.owners is not None
        try:
            fd = self.owners.open_file(name, os.O_RDONLY)
        except (FileNotFoundError, StorageError):
            return 0
        try:
            host = _owner_host(fd)
            stale = time.time() - os.fstat(fd).st_mtime > max(self.lease, 1) * 10
            if (host == here or stale) and try_lock(fd):
                os.unlink(name, dir_fd=self.owners.fd)
                self._gone.add(name[: -len(_SUFFIX)])
                return 1
        except OSError:
            return 0
        finally:
            os.close(fd)
        return 0


def _owner_host(fd: int) -> str | None:
    """The host an owner file names (None when it names none)."""
    try:
        identity = json.loads(os.pread(fd, 4096, 0))
    except ValueError:
        return None
    host = identity.get("host") if isinstance(identity, dict) else None
    return host if isinstance(host, str) else None
