"""The sessions a TinyDB store instance writes: their locks, their open logs, their owner record.

A session is written only by the store instance that *holds* it: it has the
``flock`` of the session's lock file, its log open for appending, and its
document names it as the owner (refreshed by a heartbeat).  Taking a session
whose lock is free still asks the document who owned it last, and takes it
only from an owner that is gone (see :mod:`persistence.ownership`); otherwise
:class:`~statecharts.storage.SessionLocked`.  An incomplete last line left by a
crashed owner is cut off when the log is opened again.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from statecharts import SessionId, SessionNotFound
from statecharts.storage import SessionLocked

from .documents import SessionDocument
from .durability import Durability, GroupCommitter, Periodic
from .errors import CorruptionError, StorageError
from .eventlog import EventLog
from .ownership import Owner, SessionLock, is_gone, this_process
from .table import SessionsTable

__all__ = ["LOG_SUFFIX", "Held", "Holdings"]

log = logging.getLogger("persistence.holding")

LOG_SUFFIX = ".jsonl"
"""The suffix of a session's log file."""


@dataclass(slots=True)
class Held:
    """A session this store writes: its lock, its open log, the status its document records."""

    lock: SessionLock
    log: EventLog
    status: str


class Holdings:
    """The sessions one store instance holds; see the module's documentation."""

    def __init__(
        self,
        table: SessionsTable,
        logs_dir: Path,
        durability: Durability,
        committer: GroupCommitter | None,
        lease: float,
    ) -> None:
        self.table = table
        self.logs_dir = logs_dir
        self.durability: Durability = durability
        self.committer = committer
        self.lease = lease
        self.guard = threading.RLock()
        self.closed = False
        self._held: dict[SessionId, Held] = {}
        self._token = secrets.token_hex(8)
        self._heartbeat: Periodic | None = None

    # -- where ----------------------------------------------------------------------------
    def log_path(self, session_id: SessionId) -> Path:
        """Where the session's event log is."""
        return self.logs_dir / f"{session_id}{LOG_SUFFIX}"

    def lock(self, session_id: SessionId) -> SessionLock:
        """Take the session's lock (``SessionLocked`` when another store has it)."""
        if self.closed:
            raise StorageError("the store is closed", self.table.path)
        return SessionLock(self.logs_dir / f"{session_id}.lock", session_id)

    # -- what is held ---------------------------------------------------------------------
    def get(self, session_id: SessionId) -> Held | None:
        """The session, if held (lock-free: the hot path of every append)."""
        return self._held.get(session_id)

    def ids(self) -> list[SessionId]:
        """The sessions held."""
        return list(self._held)

    def add(self, session_id: SessionId, held: Held) -> None:
        """Hold a session created by this store (its lock and log are already ours)."""
        self._held[session_id] = held
        self._start_heartbeat()

    def pop(self, session_id: SessionId) -> Held | None:
        """Stop holding a session, leaving its lock and log to the caller."""
        return self._held.pop(session_id, None)

    def owner(self) -> Owner:
        """This store instance as a session's owner (with a fresh heartbeat)."""
        return this_process(self._token)

    # -- taking and letting go ------------------------------------------------------------
    def hold(self, session_id: SessionId) -> Held:
        """The session, held: locked, its log open, us recorded as its owner."""
        with self.guard:
            held = self._held.get(session_id)
            return held if held is not None else self._take(session_id)

    def _take(self, session_id: SessionId) -> Held:
        lock = self.lock(session_id)
        try:
            document = self._takeable(session_id)
            opened = self._open_log(session_id, document)
        except BaseException:
            lock.release()
            raise
        try:
            self.table.update([session_id], lambda d: d.revised(owner=self.owner()))
        except BaseException:
            opened.close()
            lock.release()
            raise
        held = Held(lock, opened, document.state.status)
        self.add(session_id, held)
        return held

    def _takeable(self, session_id: SessionId) -> SessionDocument:
        """The session's document, if the session may be taken (its lock is ours)."""
        document = self.table.get(session_id)
        if document is None or document.deleting:
            raise SessionNotFound(session_id)
        if document.owner is not None and not self._may_take(document.owner):
            raise SessionLocked(session_id, document.owner.describe())
        return document

    def _may_take(self, owner: Owner) -> bool:
        """Whether a session whose lock we got may be taken from the owner its document names."""
        me = self.owner()
        if owner.token == me.token or (owner.host, owner.pid) == (me.host, me.pid):
            return True  # a store of this very process, which does not hold the lock
        return is_gone(owner, self.lease)

    def _open_log(self, session_id: SessionId, document: SessionDocument) -> EventLog:
        path = self.log_path(session_id)
        if not path.exists():
            raise CorruptionError(
                "the session's log is missing", path, kind="missing_log", session_id=session_id
            )
        opened = EventLog.open(path, session_id, self.durability, self.committer)
        if opened.end.seq < document.last_seq:
            opened.close()
            raise CorruptionError(
                f"the document records seq {document.last_seq}, the log ends at {opened.end.seq}",
                path,
                kind="document_mismatch",
                offset=opened.end.offset,
                session_id=session_id,
            )
        return opened

    def release(self, session_id: SessionId) -> None:
        """Let the session go: its document names no owner, its lock and log are closed."""
        with self.guard:
            if session_id in self._held:
                self.table.update([session_id], lambda d: d.revised(owner=None))
                self.drop(session_id)

    def drop(self, session_id: SessionId) -> None:
        """Close the session's log and lock (its document is the caller's business)."""
        held = self._held.pop(session_id, None)
        if held is not None:
            try:
                held.log.close()
            finally:
                held.lock.release()

    # -- heartbeat and the end ------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._heartbeat is None and not self.closed:
            self._heartbeat = Periodic(self.lease / 3, self.beat, "persistence-heartbeat")

    def beat(self) -> None:
        """Refresh the heartbeat of every session held."""
        with self.guard:
            owner = self.owner()
            self.table.update(list(self._held), lambda d: d.revised(owner=owner))

    def sync_all(self) -> None:
        """Fsync the log of every session held."""
        for held in list(self._held.values()):
            held.log.sync()

    def stop(self) -> None:
        """Take no session any more, and stop the heartbeat (call without holding the guard).

        The heartbeat thread takes the guard: waiting for it while holding the
        guard would never end.
        """
        self.closed = True
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()

    def close(self) -> None:
        """Say that we own nothing any more and drop every lock (after :meth:`stop`)."""
        self.stop()
        with self.guard:
            try:
                self.table.update(list(self._held), lambda d: d.revised(owner=None))
            except StorageError as error:  # our locks die with our files: others take over
                log.warning("could not clear the owner of our sessions: %s", error)
            for session_id in list(self._held):
                self.drop(session_id)
