"""Careful file handling: private modes, atomic replacement, whole writes, typed failures.

Every store goes through these helpers, so that the rules hold everywhere:

- a session id is checked before it becomes part of a path (:func:`checked_id`);
- directories are created ``0700`` and files ``0600`` (the umask can only
  tighten that);
- a file is replaced atomically: written to a temporary file beside it,
  fsynced, renamed over it, and the directory fsynced (:func:`atomic_write`);
- any ``OSError`` becomes a :class:`~persistence.errors.StorageError` naming
  the path and the cause (:func:`storage_errors`).
"""

from __future__ import annotations

import fcntl
import os
import resource
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from statecharts import SessionId, is_session_id

from .errors import InvalidSessionId, StorageError

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "atomic_write",
    "backup_copy",
    "checked_id",
    "ensure_dir",
    "fsync_dir",
    "open_private",
    "raise_open_files_limit",
    "read_bytes",
    "storage_errors",
    "timestamp_suffix",
    "try_lock",
    "write_all",
]

DIR_MODE = 0o700
"""Directories a store creates: readable by their owner only."""
FILE_MODE = 0o600
"""Files a store creates: readable by their owner only."""


def checked_id(session_id: object) -> SessionId:
    """``session_id`` if it is a well-formed id (no ``/``, ``..``, NUL...), else raise.

    Raises :class:`~persistence.errors.InvalidSessionId`.
    """
    if not is_session_id(session_id):
        raise InvalidSessionId(session_id)
    return SessionId(str(session_id))


@contextmanager
def storage_errors(action: str, path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into a :class:`StorageError` about ``path``."""
    try:
        yield
    except StorageError:
        raise
    except OSError as error:
        raise StorageError(f"cannot {action}", path, error) from error


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) as private directories if missing; return it."""
    with storage_errors("create directory", path):
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` with the private file mode (for files it creates)."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a new or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` all at once: readers see the old or the new file.

    With ``sync`` (the default) the data and the rename are durable when this
    returns.  On failure the old file is untouched and the temporary one removed.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    with storage_errors("write", path):
        fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            try:
                write_all(fd, data)
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            with suppress(OSError):
                temporary.unlink()
            raise
        if sync:
            fsync_dir(path.parent)


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    with storage_errors("read", path):
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None


def timestamp_suffix(now: datetime | None = None) -> str:
    """A sortable UTC timestamp for file names (``20250101T120000.123456Z``)."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def backup_copy(path: Path, stamp: str) -> Path:
    """Copy ``path`` to ``<path>.corrupt-<stamp>`` (private, fsynced) before it is rewritten."""
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    with storage_errors("back up", path):
        fd = open_private(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(path.parent)
    return target


def try_lock(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting; False when another holds it.

    The kernel drops the lock when the holder closes the file or dies (even
    on SIGKILL), so a crashed owner never leaves a session locked.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise the soft limit of open files towards ``wanted`` (a store holds one per session).

    Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft
