"""A session's document: a one-document TinyDB database in the session's own directory.

The document is a summary, rewritten on lifecycle changes (not on every event):
the session's config, its state and last seq *as of that write*, who holds it,
and where its latest checkpoint is.  The log stays the truth: a document may
lag behind its log, never run ahead of it.

Each session has its own small database (``sessions/<id>/session.json``,
table ``session``, keyed by the session id), so a lifecycle change rewrites a
few kilobytes whatever the number of sessions in the store.  It is written
atomically (temporary file, fsync, rename, fsync of the directory) through
:class:`~persistence._files.Directory`, and read-modify-written under the
session's ``lock`` file (:func:`document_lock`), held for the few system
calls it takes — never while idle, so idle sessions cost no descriptor.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

from pydantic import AwareDatetime, Field, ValidationError
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from statecharts import (
    FORMAT_VERSION,
    Record,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    SessionState,
)

from .._errors import CorruptionError
from .._files import Directory, storage_errors
from .._limits import MAX_DOCUMENT
from .._migrations import upgrade
from ._owners import Holder

__all__ = [
    "CHECKPOINT_SLOTS",
    "DOCUMENT_NAME",
    "LOCK_NAME",
    "CheckpointFile",
    "CheckpointRef",
    "SessionDocument",
    "checkpoint_slot",
    "document_lock",
    "parse_document",
    "read_document",
    "write_document",
]

DOCUMENT_NAME: Final = "session.json"
"""The session's database, in its directory."""
LOCK_NAME: Final = "lock"
"""The file locked while the session's document is read-modify-written."""
TABLE_NAME: Final = "session"
"""The table holding the document."""


CHECKPOINT_SLOTS: Final = ("checkpoint-a.json", "checkpoint-b.json")
"""The two files a session's checkpoints take turns in (the latest, and the one before)."""


def checkpoint_slot(current: str | None) -> str:
    """The slot the next checkpoint goes to: the one the document does not point at."""
    return CHECKPOINT_SLOTS[1] if current == CHECKPOINT_SLOTS[0] else CHECKPOINT_SLOTS[0]


class CheckpointRef(Record):
    """Where a session's latest checkpoint is: its file, its line in the log, its hashes.

    ``line_start``..``offset`` are the bytes of the log line of event ``seq``;
    ``log_hash`` the running checksum after it; ``crc`` the CRC-32 of the file.
    """

    seq: int = Field(ge=0)
    line_start: int = Field(ge=0)
    offset: int = Field(ge=0)
    log_hash: str
    file: str
    crc: int = Field(ge=0)


class SessionDocument(Record):
    """One session's document (see the module's documentation)."""

    format_version: int = FORMAT_VERSION
    id: SessionId
    config: SessionConfig
    created_at: AwareDatetime
    state: SessionState
    last_seq: int = Field(default=0, ge=0)
    version: int = Field(default=1, ge=1)
    holder: Holder | None = None
    checkpoint: CheckpointRef | None = None

    def revised(self, **changes: Any) -> SessionDocument:
        """A copy with ``changes`` and the next ``version``."""
        return self.model_copy(update={**changes, "version": self.version + 1})


class CheckpointFile(Record):
    """The content of a checkpoint file: the checkpoint, and whose it is."""

    format_version: int = FORMAT_VERSION
    session_id: SessionId
    checkpoint: SessionCheckpoint

    def encode(self) -> tuple[bytes, int]:
        """The file's bytes and their CRC-32."""
        data = self.model_dump_json().encode()
        return data, zlib.crc32(data)


def parse_document(
    raw: Mapping[str, Any], path: Path | Callable[[], Path], session_id: str
) -> SessionDocument:
    """A stored document, upgraded and validated; :class:`CorruptionError` when it is not one."""

    def invalid(message: str) -> CorruptionError:
        return CorruptionError(
            f"the document of session {session_id} {message}",
            path,
            kind="invalid_document",
            session_id=session_id,
        )

    try:
        document = SessionDocument.model_validate(upgrade("session", raw, path))
    except ValidationError as error:
        raise invalid(f"is invalid: {error.errors()[0]['msg']}") from None
    except CorruptionError as error:
        raise invalid(f"is invalid: {error}") from None
    if document.id != session_id:
        raise invalid(f"is the one of {document.id!r}")
    return document


class _DocumentStorage(Storage):
    """TinyDB storage of one session's database file, through the session's directory."""

    def __init__(self, directory: Directory, *, sync: bool = True) -> None:
        self.directory = directory
        self.sync = sync

    @property
    def path(self) -> Path:
        return self.directory.path / DOCUMENT_NAME

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = self.directory.read(DOCUMENT_NAME, MAX_DOCUMENT)
        if not data:
            return None
        try:
            tables = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise CorruptionError(
                f"the document is not JSON ({error})",
                self.path,
                kind="invalid_document",
                offset=getattr(error, "pos", None),
                session_id=self.directory.session_id,
            ) from None
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise CorruptionError(
                "the document is not a TinyDB database",
                self.path,
                kind="invalid_document",
                session_id=self.directory.session_id,
            )
        return cast(dict[str, dict[str, Any]], tables)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        self.directory.write_swapped(DOCUMENT_NAME, payload, sync=self.sync)


class _SessionTable(Table):
    """A TinyDB table whose document ids are session ids."""

    document_id_class = str  # type: ignore[assignment]


class _Database(TinyDB):
    table_class = _SessionTable


def _table(directory: Directory, sync: bool) -> Table:
    database = _Database(directory, storage=_DocumentStorage, sync=sync)
    return database.table(TABLE_NAME, cache_size=0)


class _Parsed:
    """Documents parsed lately, by file identity: a file rewritten is a new file (a new inode)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._documents: OrderedDict[tuple[str, int, int, int, int], SessionDocument] = (
            OrderedDict()
        )
        self._guard = threading.Lock()

    @staticmethod
    def key(directory: Directory, session_id: str) -> tuple[str, int, int, int, int] | None:
        status = directory.stat(DOCUMENT_NAME)
        if status is None or not stat.S_ISREG(status.st_mode):
            return None
        return (session_id, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)

    def get(self, key: tuple[str, int, int, int, int] | None) -> SessionDocument | None:
        if key is None:
            return None
        with self._guard:
            return self._documents.get(key)

    def put(self, key: tuple[str, int, int, int, int] | None, document: SessionDocument) -> None:
        if key is None:
            return
        with self._guard:
            self._documents[key] = document
            self._documents.move_to_end(key)
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)


_parsed = _Parsed(256)


def read_document(directory: Directory, session_id: SessionId) -> SessionDocument | None:
    """The session's document (None when its directory has none).

    A document read (or written) lately, whose file has not changed since, is
    not parsed again.
    """
    key = _parsed.key(directory, session_id)
    cached = _parsed.get(key)
    if cached is not None:
        return cached
    raw = _table(directory, sync=False).get(doc_id=session_id)  # type: ignore[call-overload]
    if raw is None:
        if directory.stat(DOCUMENT_NAME) is None:
            return None
        raise CorruptionError(
            f"the document holds no session {session_id}",
            directory.path / DOCUMENT_NAME,
            kind="invalid_document",
            session_id=session_id,
        )
    document = parse_document(
        cast(Mapping[str, Any], raw), lambda: directory.path / DOCUMENT_NAME, session_id
    )
    if key == _parsed.key(directory, session_id):  # not replaced while it was read
        _parsed.put(key, document)
    return document


def write_document(directory: Directory, document: SessionDocument, *, sync: bool) -> None:
    """Store ``document`` as the session's only document, atomically."""
    fields = document.model_dump(mode="json")
    # the whole database, written at once: one table, one document (TinyDB's own layout)
    _DocumentStorage(directory, sync=sync).write({TABLE_NAME: {document.id: fields}})
    _parsed.put(_parsed.key(directory, document.id), document)


@contextmanager
def document_lock(directory: Directory) -> Iterator[None]:
    """Hold the session's document for a read-modify-write (across processes)."""
    fd = directory.open_file(LOCK_NAME, os.O_RDWR, create=True)
    try:
        with storage_errors("lock", lambda: directory.path / LOCK_NAME):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
