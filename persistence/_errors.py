"""The errors a store raises, all :class:`statecharts.SessionError` subclasses.

A store's failure names the file and the cause, so that an operator can act on
it (free disk space, fix a permission, run :func:`persistence.repair`); and a
failed write leaves what is on disk as it was, so the manager's rollback (an
event that was not stored was not accepted) holds.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

from statecharts import SessionError

from ._limits import describe_size

__all__ = [
    "AppendRefused",
    "CorruptionError",
    "InvalidSessionId",
    "RecordTooLarge",
    "StorageError",
]


class StorageError(SessionError, OSError):
    """The store could not read or write ``path``: disk full, read-only, permission, gone...

    ``cause`` is the underlying ``OSError`` (also chained as ``__cause__``);
    ``errno`` is its error number, when there is one.
    """

    def __init__(
        self,
        message: str,
        path: Path | str | Callable[[], Path] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        if callable(path):  # a path made only when there is an error to report
            path = path()
        self.path = None if path is None else Path(path)
        self.cause = cause
        code = getattr(cause, "errno", None)
        where = f" ({self.path})" if self.path is not None else ""
        why = f": {cause}" if cause is not None else ""
        super().__init__(code or errno.EIO, f"{message}{where}{why}")

    def __str__(self) -> str:
        return str(self.args[1])


class CorruptionError(StorageError):
    """Stored bytes that are not what the store wrote: a torn line, a bad checksum, a gap...

    ``kind`` names the damage (the same kinds :func:`persistence.verify` reports),
    ``offset`` the byte where it starts.  Nothing is dropped silently: a store
    refuses to load past damage until :func:`persistence.repair` dealt with it.
    """

    def __init__(
        self,
        message: str,
        path: Path | str | Callable[[], Path] | None,
        *,
        kind: str,
        offset: int | None = None,
        session_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.offset = offset
        self.session_id = session_id
        self.message = message
        at = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{kind}{at}: {message}", path)
        self.errno = errno.EIO


class InvalidSessionId(SessionError, ValueError):
    """A session id that is not one (``../x``, ``a/b``, NUL...): refused before it nears a path."""

    def __init__(self, session_id: object) -> None:
        self.session_id = session_id
        super().__init__(f"invalid session id {session_id!r}")


class RecordTooLarge(StorageError, ValueError):
    """A record over the store's size limit (:mod:`persistence._limits`): refused before writing.

    ``what`` names the record (``the session's configuration``...), ``size`` and
    ``limit`` are in bytes.  Nothing was written: the store is as it was.
    """

    def __init__(self, what: str, size: int, limit: int, path: Path | str | None = None) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {describe_size(size)}, over the store's limit of {describe_size(limit)}",
            path,
        )
        self.errno = errno.EFBIG


class AppendRefused(StorageError, ValueError):
    """Events a store will not append: their seqs do not follow, or the session is finished.

    The caller's mistake, not the disk's: nothing was written.  Every store
    applies the same rule (:func:`persistence._rules.checked_append`).
    """

    def __init__(self, session_id: str, why: str) -> None:
        self.session_id = session_id
        self.why = why
        super().__init__(f"cannot append to session {session_id}: {why}")
