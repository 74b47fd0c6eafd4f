"""Migrating a store of layout 1 (one ``sessions.json`` for every session) to layout 2.

Layout 1, for a database file ``sessions.json``::

    sessions.json                    TinyDB database: table ``sessions``, one document per session
    sessions.json.lock               its lock
    sessions.json.logs/<id>.jsonl    each session's log (and ``<id>.lock``)
    sessions.json.checkpoints/<id>.<seq>.json

Each session is moved into ``sessions/<id>/`` — its log renamed (not copied:
a log may be large), its document converted, its latest checkpoint copied —
through ``sessions/.migrating-<id>``, renamed into place when whole; a
migration interrupted by a crash resumes where it stopped.  The old files go
to ``migrated-from-layout-1/``.  A session that cannot be migrated (its
document is not one, its log is missing or damaged) is set aside in
``quarantine/`` with whatever files it has, and reported.

The old files are untrusted like any other: ids are checked before they become
names, nothing is followed through a link, and a store still used by a process
of an older sessionchart (its locks held, its owners alive) is not migrated.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from typing import Any, Final

from pydantic import AwareDatetime, Field, ValidationError

from statecharts import FORMAT_VERSION, Record, ReplayError, SessionConfig, SessionId, SessionState
from statecharts._session import LiveSession
from statecharts.state import Created

from .._errors import CorruptionError, InvalidSessionId, StorageError
from .._files import Directory, checked_id, storage_errors, timestamp_suffix, try_lock
from .._migrations import upgrade
from .._ownership import DEFAULT_LEASE, Owner, is_gone
from ._documents import CHECKPOINT_SLOTS, CheckpointRef, SessionDocument, write_document
from ._layout import LAYOUT, MARKER_NAME, QUARANTINE_DIR, SESSIONS_DIR, StoreMarker
from ._log_reader import LOG_NAME, LogFile

__all__ = ["migrate_legacy"]

log = logging.getLogger("persistence.tinydb")

_MIGRATING: Final = ".migrating-"
_DONE_DIR: Final = "migrated-from-layout-1"
_MAX_DATABASE: Final = 1 << 30
_MAX_OLD_CHECKPOINT: Final = 1 << 28


class _OldRef(Record):
    seq: int = Field(ge=0)
    line_start: int = Field(ge=0)
    offset: int = Field(ge=0)
    log_hash: str
    file: str
    crc: int = Field(ge=0)


class _OldDocument(Record):
    """A session's document in layout 1."""

    format_version: int
    id: SessionId
    config: SessionConfig
    created_at: AwareDatetime
    state: SessionState
    last_seq: int = Field(default=0, ge=0)
    version: int = Field(default=1, ge=1)
    owner: Owner | None = None
    checkpoint: _OldRef | None = None
    deleting: bool = False


def migrate_legacy(root: Directory, name: str, *, sync: bool) -> None:
    """Migrate the layout-1 store whose database is ``root/name`` (see the module)."""
    migration = _Migration(root, name, sync=sync)
    try:
        migration.run()
    finally:
        migration.close()


class _Migration:
    def __init__(self, root: Directory, name: str, *, sync: bool) -> None:
        self.root = root
        self.name = name
        self.sync = sync
        self.logs = _optional_dir(root, f"{name}.logs")
        self.checkpoints = _optional_dir(root, f"{name}.checkpoints")
        self._sessions: Directory | None = None
        self.set_aside: list[str] = []

    @property
    def sessions(self) -> Directory:
        if self._sessions is None:
            self._sessions = self.root.subdir(SESSIONS_DIR, create=True)
        return self._sessions

    def close(self) -> None:
        for directory in (self.logs, self.checkpoints, self._sessions):
            if directory is not None:
                directory.close()

    def run(self) -> None:
        documents = self._documents()
        self._refuse_live_owners(documents)  # before anything is created
        log_ids = self._log_ids()
        for session_id in sorted(set(documents) | log_ids):
            if self.sessions.stat(session_id) is not None:
                continue  # migrated by an earlier, interrupted run
            raw = documents.get(session_id)
            try:
                self._migrate_session(session_id, raw)
            except (StorageError, ValidationError, ReplayError, ValueError, TypeError) as error:
                self._quarantine(session_id, raw, str(error))
        self.root.write_atomic(MARKER_NAME, StoreMarker(layout=LAYOUT).model_dump_json().encode())
        self._put_away_old_files()
        if self.set_aside:
            log.warning(
                "%s: %d sessions could not be migrated and are in %s/: %s",
                self.root.path,
                len(self.set_aside),
                QUARANTINE_DIR,
                ", ".join(self.set_aside),
            )

    # -- reading layout 1 ---------------------------------------------------------------------
    def _documents(self) -> dict[SessionId, Any]:
        try:
            data = self.root.read(self.name, _MAX_DATABASE)
        except StorageError as error:
            log.warning("%s: %s; sessions come from the logs", self.name, error)
            return {}
        if not data:
            return {}
        try:
            tables = json.loads(data)
            table = tables.get("sessions", {}) if isinstance(tables, dict) else {}
        except ValueError:
            log.warning("%s: the old database is not JSON; sessions come from the logs", self.name)
            return {}
        if not isinstance(table, dict):
            return {}
        documents: dict[SessionId, Any] = {}
        for key, raw in table.items():
            try:
                documents[checked_id(key)] = raw
            except InvalidSessionId:
                log.warning("%s: ignored a document under the invalid id %r", self.name, key)
        return documents

    def _log_ids(self) -> set[SessionId]:
        if self.logs is None:
            return set()
        ids = set()
        for entry, kind in self.logs.entries():
            if kind == "file" and entry.endswith(".jsonl"):
                try:
                    ids.add(checked_id(entry[: -len(".jsonl")]))
                except InvalidSessionId:
                    continue
        return ids

    def _refuse_live_owners(self, documents: dict[SessionId, Any]) -> None:
        for session_id, raw in documents.items():
            owner = raw.get("owner") if isinstance(raw, dict) else None
            try:
                record = Owner.model_validate(owner) if owner else None
            except ValidationError:
                continue
            locked = self._old_lock_held(session_id)
            if locked or (record is not None and not is_gone(record, DEFAULT_LEASE)):
                who = record.describe() if record is not None else "another process"
                raise StorageError(
                    f"the store is in use by an older sessionchart ({who} drives session "
                    f"{session_id}); stop it, then open the store again to migrate it",
                    self.root.path,
                )

    def _old_lock_held(self, session_id: SessionId) -> bool:
        if self.logs is None:
            return False
        try:
            fd = self.logs.open_file(f"{session_id}.lock", os.O_RDONLY)
        except (FileNotFoundError, StorageError):
            return False
        try:
            return not try_lock(fd, shared=True)
        finally:
            os.close(fd)

    # -- moving one session --------------------------------------------------------------------
    def _migrate_session(self, session_id: SessionId, raw: Any) -> None:
        old = None
        if raw is not None:
            old = _OldDocument.model_validate(upgrade("session", _mapping(raw), self.name))
            if old.id != session_id:
                raise StorageError(f"the document is the one of {old.id!r}", self.name)
            if old.deleting:
                self._forget(session_id)
                return
        with self._building(session_id) as building:
            self._move_log(session_id, building)
            document = self._document(session_id, building, old)
            write_document(building, document, sync=self.sync)
            if self.sync:
                building.sync()
        self.sessions.rename(f"{_MIGRATING}{session_id}", self.sessions, session_id)
        if self.sync:
            self.sessions.sync()

    def _building(self, session_id: SessionId) -> Directory:
        return self.sessions.subdir(f"{_MIGRATING}{session_id}", create=True, session_id=session_id)

    def _move_log(self, session_id: SessionId, building: Directory) -> None:
        if building.stat(LOG_NAME) is not None:
            return  # moved by an interrupted run
        if self.logs is None or self.logs.stat(f"{session_id}.jsonl") is None:
            raise StorageError("the session's log is missing", self.name)
        os.close(self.logs.open_file(f"{session_id}.jsonl", os.O_RDONLY))  # a link, a FIFO: refused
        self.logs.rename(f"{session_id}.jsonl", building, LOG_NAME)

    def _document(
        self, session_id: SessionId, building: Directory, old: _OldDocument | None
    ) -> SessionDocument:
        with LogFile.open(building, session_id) as log_file:
            header, start = log_file.header()
            size = os.fstat(log_file.fd).st_size
            end, _line_start, _torn = log_file.tail(start, size)
            checkpoint = None
            if old is not None and old.checkpoint is not None:
                checkpoint = self._copy_checkpoint(session_id, old.checkpoint, building)
            if old is not None and old.last_seq <= end.seq:
                state, last_seq = old.state, old.last_seq
            elif end.seq == 0:
                state, last_seq = Created(), 0
            else:  # no (usable) document: the log tells the state
                session = LiveSession(session_id, header.config, header.created_at)
                for batch in log_file.events(start):
                    session.replay(batch)
                state, last_seq = session.state, session.last_seq
        return SessionDocument(
            format_version=FORMAT_VERSION,
            id=session_id,
            config=header.config,
            created_at=header.created_at,
            state=state,
            last_seq=last_seq,
            checkpoint=checkpoint,
        )

    def _copy_checkpoint(
        self, session_id: SessionId, ref: _OldRef, building: Directory
    ) -> CheckpointRef | None:
        if self.checkpoints is None or ref.file != f"{session_id}.{ref.seq}.json":
            return None
        new_name = CHECKPOINT_SLOTS[0]
        try:
            self.checkpoints.copy_file(ref.file, building, new_name, _MAX_OLD_CHECKPOINT)
        except StorageError:
            return None  # the log has everything: the session is rebuilt without it
        return CheckpointRef(**{**ref.model_dump(), "file": new_name})

    def _forget(self, session_id: SessionId) -> None:
        """A session being deleted when the old store stopped: finish deleting it."""
        if self.logs is not None:
            self.logs.unlink(f"{session_id}.jsonl")

    def _quarantine(self, session_id: SessionId, raw: Any, why: str) -> None:
        stamp = timestamp_suffix()
        with (
            self.root.subdir(QUARANTINE_DIR, create=True) as quarantine,
            quarantine.subdir(f"{session_id}-{stamp}", create=True) as aside,
        ):
            if raw is not None:
                aside.write_atomic("document-layout-1.json", json.dumps(raw).encode())
            aside.write_atomic("why.txt", f"not migrated from layout 1: {why}\n".encode())
            building = f"{_MIGRATING}{session_id}"
            if self.sessions.stat(building) is not None:
                self.sessions.rename(building, aside, "partial")
            elif self.logs is not None and self.logs.stat(f"{session_id}.jsonl") is not None:
                self.logs.rename(f"{session_id}.jsonl", aside, LOG_NAME)
        self.set_aside.append(session_id)

    def _put_away_old_files(self) -> None:
        with self.root.subdir(_DONE_DIR, create=True) as done:
            for name in (
                self.name,
                f"{self.name}.lock",
                f"{self.name}.logs",
                f"{self.name}.checkpoints",
            ):
                if self.root.stat(name) is not None:
                    with storage_errors("move", self.root.path / name):
                        self.root.rename(name, done, f"{name}.{timestamp_suffix()}")


def _optional_dir(root: Directory, name: str) -> Directory | None:
    status = root.stat(name)
    if status is None or not stat.S_ISDIR(status.st_mode):
        return None
    try:
        return root.subdir(name)
    except CorruptionError:
        return None


def _mapping(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError("the document is not an object")
    return raw
