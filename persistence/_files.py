"""Careful file handling: a store's files are untrusted input, and it writes only inside itself.

A store's directory may come from anywhere — a repository that commits its
``.sessionchart/``, a copy from another machine, a hand edit — so every file
operation of a store goes through :class:`Directory`, which holds a directory
open by descriptor and works *relative to it*:

- a name is one path component (no ``/``, never ``.`` or ``..``), checked at
  the point of use (:func:`component`), and a session id is checked before it
  becomes one (:func:`checked_id`);
- nothing is reached through a symbolic link: every directory and file is
  opened with ``O_NOFOLLOW``, so a link planted in the store is refused rather
  than followed out of it;
- a file is opened non-blocking, then ``fstat``-ed: anything but a regular
  file (a FIFO, a device, a directory) is refused, never waited on;
- a file is read up to a size limit (:mod:`persistence._limits`);
- a file is replaced atomically: written to a temporary file beside it,
  fsynced, renamed over it, and the directory fsynced (:meth:`Directory.write_atomic`);
- directories are created ``0700`` and files ``0600``, each component on its
  own (``mkdir -p`` would give the parents the process's default mode);
- any ``OSError`` becomes a :class:`~persistence.StorageError` naming
  the path and the cause (:func:`storage_errors`); a file that is not what the
  store wrote (a link, a FIFO, too large) is a
  :class:`~persistence.CorruptionError`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self, cast

from statecharts import SessionId, is_session_id

from ._errors import CorruptionError, InvalidSessionId, StorageError

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "Directory",
    "checked_id",
    "component",
    "make_private_dirs",
    "storage_errors",
    "timestamp_suffix",
    "try_lock",
    "write_all",
]

DIR_MODE: Final = 0o700
"""Directories a store creates: readable by their owner only."""
FILE_MODE: Final = 0o600
"""Files a store creates: readable by their owner only."""

_NOFOLLOW: Final = os.O_NOFOLLOW | os.O_CLOEXEC


_RENAME_EXCHANGE: Final = 2  # renameat2's flag: swap two names atomically


def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return cast(Callable[..., int], getattr(libc, name))
    except (OSError, AttributeError):  # pragma: no cover - not Linux, or an old C library
        return None


_syncfs: Final = _libc_function("syncfs")
_renameat2: Final = _libc_function("renameat2")
_swapping = True  # until the file system says it cannot
_REREADS: Final = 5  # a file rewritten while read is read again, this many times at most
_DIRECTORY: Final = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW


def checked_id(session_id: object) -> SessionId:
    """``session_id`` if it is a well-formed id (no ``/``, ``..``, NUL...), else raise.

    Raises :class:`~persistence.InvalidSessionId`.
    """
    if not is_session_id(session_id):
        raise InvalidSessionId(session_id)
    return SessionId(str(session_id))


def component(name: str) -> str:
    """``name`` if it is a single path component a store may use, else ``ValueError``."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a file name: {name!r}")
    return name


@contextmanager
def storage_errors(action: str, path: Path | str | Callable[[], Path]) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into a :class:`StorageError` about ``path``.

    ``path`` may be a function giving it: computed only when there is an error to report.
    """
    try:
        yield
    except StorageError:
        raise
    except OSError as error:
        where = path() if callable(path) else path
        raise StorageError(f"cannot {action}", where, error) from error


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def timestamp_suffix(now: datetime | None = None) -> str:
    """A sortable UTC timestamp for file names (``20250101T120000.123456Z``)."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def try_lock(fd: int, *, shared: bool = False) -> bool:
    """Take an ``flock`` on ``fd`` without waiting; False when another holds it.

    The kernel drops the lock when the holder closes the file or dies (even on
    SIGKILL), so a crashed holder never leaves anything locked.
    """
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _exists(path: Path) -> bool:
    """Whether anything (a link too) is at ``path``; other errors than "missing" are raised."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def make_private_dirs(path: Path) -> Path:
    """Create ``path`` and its missing parents, each ``0700``; return it.

    ``Path.mkdir(parents=True)`` would create the parents with the process's
    default mode (``0777`` under umask 0); here each one gets the private mode.
    """
    missing: list[Path] = []
    probe = path
    with storage_errors("reach", path):
        while not _exists(probe) and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
    for directory in reversed(missing):
        with storage_errors("create directory", directory):
            try:
                directory.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue
    with storage_errors("open", path):
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
    return path


def _unsafe(path: Path, what: str, session_id: str | None = None) -> CorruptionError:
    return CorruptionError(
        f"{what}: the store does not follow links or open anything but its own regular files",
        path,
        kind="unsafe_file",
        session_id=session_id,
    )


class Directory:
    """A directory held open by descriptor; every operation is relative to it (see the module).

    ``path`` is for messages only: nothing is resolved through it after opening.
    ``session_id`` (when the directory is a session's) is named in the errors.
    """

    __slots__ = ("_fd", "_name", "_parent", "_path", "session_id")

    def __init__(
        self,
        fd: int,
        path: Path | None,
        session_id: str | None = None,
        *,
        parent: Directory | None = None,
        name: str = "",
    ) -> None:
        self._fd = fd
        self._path = path
        self._parent = parent
        self._name = name
        self.session_id = session_id

    @property
    def path(self) -> Path:
        """Where the directory is (for messages; made when first asked for)."""
        if self._path is None:
            assert self._parent is not None
            self._path = self._parent.path / self._name
        return self._path

    @property
    def fd(self) -> int:
        """The descriptor (``StorageError`` once closed: never ``-1`` handed to a system call)."""
        if self._fd < 0:
            raise StorageError("the store is closed", self.path)
        return self._fd

    # -- opening and closing ----------------------------------------------------------
    @classmethod
    def open_root(cls, path: Path, *, create: bool) -> Directory:
        """The store's own directory (a link *to* it, given by the user, is fine).

        With ``create``, it and its missing parents are created ``0700``;
        without, a missing directory raises ``StorageError`` (ENOENT).
        """
        if create:
            make_private_dirs(path)
        with storage_errors("open the store directory", path):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return cls(fd, path)

    def subdir(
        self, name: str, *, create: bool = False, session_id: str | None = None
    ) -> Directory:
        """The directory ``name`` inside this one, never through a link (created ``0700``)."""
        component(name)
        if create:
            with (
                storage_errors("create directory", lambda: self.path / name),
                suppress(FileExistsError),
            ):
                os.mkdir(name, DIR_MODE, dir_fd=self.fd)
        try:
            fd = os.open(name, _DIRECTORY, dir_fd=self.fd)
        except OSError as error:
            path = self.path / name
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _unsafe(path, "not a directory (a link or a file)", session_id) from None
            raise StorageError("cannot open directory", path, error) from error
        return Directory(fd, None, session_id, parent=self, name=name)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files ----------------------------------------------------------------------------
    def open_file(self, name: str, flags: int, *, create: bool = False) -> int:
        """A descriptor of the regular file ``name`` (``FileNotFoundError`` if missing).

        Opened with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a FIFO never blocks us),
        then checked with ``fstat``: a link, FIFO, device or directory raises
        :class:`~persistence.CorruptionError` (kind ``unsafe_file``).
        """
        component(name)
        flags |= _NOFOLLOW | os.O_NONBLOCK
        try:
            try:  # an existing file first: O_CREAT would take the directory for writing
                fd = os.open(name, flags, FILE_MODE, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    raise
                fd = os.open(name, flags | os.O_CREAT, FILE_MODE, dir_fd=self.fd)
        except FileNotFoundError:
            raise
        except OSError as error:
            path = self.path / name
            if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.ENODEV):
                raise _unsafe(path, "not a regular file", self.session_id) from None
            raise StorageError("cannot open", path, error) from error
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError as error:
            os.close(fd)
            raise StorageError("cannot check", self.path / name, error) from error
        if not regular:
            os.close(fd)
            raise _unsafe(self.path / name, "not a regular file", self.session_id)
        return fd

    def read(self, name: str, limit: int) -> bytes | None:
        """The bytes of file ``name`` (None when missing); larger than ``limit`` is refused.

        A file rewritten in place while it is read (a swapped document's spare,
        reused by the next write) is read again: what is returned was the
        whole file at one moment.
        """
        for _attempt in range(_REREADS):
            try:
                fd = self.open_file(name, os.O_RDONLY)
            except FileNotFoundError:
                return None
            try:
                with storage_errors("read", lambda: self.path / name):
                    before = os.fstat(fd)
                    data = self._read_all(fd, name, before.st_size, limit)
                    after = os.fstat(fd)
            finally:
                os.close(fd)
            if (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size):
                return data
        raise StorageError(
            f"the file kept changing while read ({_REREADS} times)", self.path / name
        )

    def _read_all(self, fd: int, name: str, size: int, limit: int) -> bytes:
        if size > limit:
            raise CorruptionError(
                f"the file is {size} bytes, over the limit of {limit}",
                self.path / name,
                kind="too_large",
                session_id=self.session_id,
            )
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise CorruptionError(
                    f"the file grew over the limit of {limit} bytes",
                    self.path / name,
                    kind="too_large",
                    session_id=self.session_id,
                )
        return b"".join(chunks)

    def write_atomic(self, name: str, data: bytes, *, sync: bool = True) -> None:
        """Replace file ``name`` with ``data`` all at once: readers see the old or the new file.

        With ``sync`` (the default) the data and the rename are durable when
        this returns.  On failure the old file is untouched and the temporary
        one removed.  A link in the way is replaced, never followed (a directory
        in the way makes it fail, changing nothing).
        """
        component(name)
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        with storage_errors("write", lambda: self.path / name):
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                FILE_MODE,
                dir_fd=self.fd,
            )
            try:
                try:
                    write_all(fd, data)
                    if sync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temporary, dir_fd=self.fd)
                raise
            if sync:
                os.fsync(self.fd)

    def write_in_place(
        self, name: str, data: bytes, *, sync: bool = True, shown_as: str | None = None
    ) -> None:
        """Write ``data`` over file ``name`` (made if missing): NOT atomic.

        For a file nobody trusts until it is pointed at, with its checksum (a
        checkpoint's slot): a crash in the middle leaves it torn, and it is
        then ignored.  No file is created (after the first time) or freed.
        ``shown_as`` is the name errors give (the file this one stands for).
        """
        fd = self.open_file(name, os.O_RDWR, create=True)
        try:
            with storage_errors("write", lambda: self.path / (shown_as or name)):
                written = 0
                while written < len(data):
                    written += os.pwrite(fd, memoryview(data)[written:], written)
                os.ftruncate(fd, len(data))
                if sync:
                    os.fsync(fd)
        finally:
            os.close(fd)

    def write_swapped(self, name: str, data: bytes, *, sync: bool = True) -> None:
        """Replace file ``name`` with ``data`` all at once, through a spare file kept beside it.

        The same guarantee as :meth:`write_atomic` — readers and crashes see the
        old file or the new one — for a file rewritten again and again (a
        session's document): ``data`` is written into ``.<name>.spare``, which is
        then swapped with ``name`` (``renameat2`` with ``RENAME_EXCHANGE``), so
        the old content becomes the next spare.  No file is created or freed:
        a metadata journal's cheapest replacement, several times faster than a
        new temporary file.  Where the swap is not available (another system,
        a file system without it, no file to swap with yet), a rename does it.
        """
        spare = f".{component(name)}.spare"
        self.write_in_place(spare, data, sync=sync, shown_as=name)  # no block freed
        with storage_errors("replace", lambda: self.path / name):
            if not self._swap(spare, name):
                os.replace(spare, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            if sync:
                os.fsync(self.fd)

    def _swap(self, first: str, second: str) -> bool:
        """Swap two names atomically; False when this system or file system cannot."""
        global _swapping  # noqa: PLW0603 - learnt once per process
        if _renameat2 is None or not _swapping:
            return False
        if _renameat2(self.fd, first.encode(), self.fd, second.encode(), _RENAME_EXCHANGE) == 0:
            return True
        error = ctypes.get_errno()
        if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            _swapping = False
            return False
        if error == errno.ENOENT:  # nothing to swap with yet: the first write
            return False
        raise OSError(error, os.strerror(error))

    def unlink(self, name: str) -> bool:
        """Remove entry ``name`` (a link is removed, not followed); False when missing."""
        with storage_errors("delete", lambda: self.path / component(name)):
            try:
                os.unlink(name, dir_fd=self.fd)
            except FileNotFoundError:
                return False
            except IsADirectoryError:
                self.remove_tree(name)
        return True

    def remove_tree(self, name: str) -> None:
        """Remove directory ``name`` and everything in it, never following a link out of it."""
        with storage_errors("delete", self.path / component(name)):
            shutil.rmtree(name, dir_fd=self.fd)

    def rename(self, name: str, target: Directory, new_name: str) -> None:
        """Move entry ``name`` to ``target/new_name`` (atomic within one file system)."""
        component(name)
        with storage_errors("rename", lambda: self.path / name):
            os.rename(name, component(new_name), src_dir_fd=self.fd, dst_dir_fd=target.fd)

    def copy_file(self, name: str, target: Directory, new_name: str, limit: int) -> None:
        """Copy regular file ``name`` to ``target/new_name`` (private, fsynced; up to ``limit``).

        The copy is streamed (a log may be large) and appears whole or not at all.
        """
        source = self.open_file(name, os.O_RDONLY)
        temporary = f".{component(new_name)}.{secrets.token_hex(6)}.tmp"
        if os.fstat(source).st_size > limit:
            os.close(source)
            raise CorruptionError(
                f"the file is over the limit of {limit} bytes",
                self.path / name,
                kind="too_large",
                session_id=self.session_id,
            )
        try:
            with storage_errors("copy", self.path / name):
                out = os.open(
                    temporary,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                    FILE_MODE,
                    dir_fd=target.fd,
                )
                try:
                    while chunk := os.read(source, 1 << 20):
                        write_all(out, chunk)
                    os.fsync(out)
                finally:
                    os.close(out)
                os.replace(temporary, new_name, src_dir_fd=target.fd, dst_dir_fd=target.fd)
                os.fsync(target.fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=target.fd)
            raise
        finally:
            os.close(source)

    def replace_head(self, name: str, cut: int, head: bytes) -> None:
        """Replace the first ``cut`` bytes of file ``name`` by ``head``, atomically (streamed)."""
        source = self.open_file(name, os.O_RDONLY)
        temporary = f".{component(name)}.{secrets.token_hex(6)}.tmp"
        try:
            with storage_errors("rewrite", self.path / name):
                out = os.open(
                    temporary,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                    FILE_MODE,
                    dir_fd=self.fd,
                )
                try:
                    write_all(out, head)
                    os.lseek(source, cut, os.SEEK_SET)
                    while chunk := os.read(source, 1 << 20):
                        write_all(out, chunk)
                    os.fsync(out)
                finally:
                    os.close(out)
                os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
                os.fsync(self.fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=self.fd)
            raise
        finally:
            os.close(source)

    def sync(self) -> None:
        """Make this directory's entries (new, renamed or removed files) durable."""
        with storage_errors("sync", self.path):
            os.fsync(self.fd)

    def sync_filesystem(self) -> None:
        """Make everything written on this directory's file system durable, at once.

        One ``syncfs`` instead of one fsync per file: what makes many small
        writes durable together (the recovery of many sessions).  Where
        ``syncfs`` is missing, ``sync`` does it for every file system.
        """
        with storage_errors("sync the file system of", self.path):
            if _syncfs is None or _syncfs(self.fd) != 0:
                os.sync()

    # -- looking around -------------------------------------------------------------------
    def entries(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of every entry, kind ``file``, ``dir``, ``link`` or ``other``.

        Links are reported as links: nothing is followed.
        """
        found: list[tuple[str, str]] = []
        with storage_errors("list", self.path), os.scandir(self.fd) as scan:
            for entry in scan:
                if entry.is_symlink():
                    kind = "link"
                elif entry.is_dir(follow_symlinks=False):
                    kind = "dir"
                elif entry.is_file(follow_symlinks=False):
                    kind = "file"
                else:
                    kind = "other"
                found.append((entry.name, kind))
        return found

    def stat(self, name: str) -> os.stat_result | None:
        """The entry's status, without following a link (None when missing)."""
        component(name)
        with storage_errors("stat", lambda: self.path / name):
            try:
                return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
