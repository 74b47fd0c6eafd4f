"""The sessions one TinyDB store instance writes, and the few log files it keeps open for them.

A session is written only by the instance that *holds* it: its document names
the instance (:class:`~persistence.tinydb._owners.Holder`) and the instance is
alive (its owner file is locked).  Taking a session reads its document under
the session's lock file and takes it only from a holder that is gone;
otherwise :class:`~statecharts.SessionLocked`, saying who holds it.
A session is held while it runs: leaving ``running`` lets it go.

Descriptors stay bounded whatever the number of sessions: an instance keeps
one owner file open for all the sessions it holds, and at most
``max_open_logs`` logs open — the least recently written are suspended and
reopened on demand (see :class:`~persistence.tinydb._log_writer.EventLog`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from statecharts import SessionId, SessionLocked

from .._durability import Durability, GroupCommitter, Periodic
from .._errors import CorruptionError, StorageError
from .._files import Directory
from ._documents import SessionDocument, document_lock, read_document, write_document
from ._layout import Layout
from ._log_reader import LOG_NAME
from ._log_writer import EventLog
from ._owners import Holder, Liveness, OwnerFile, new_token

__all__ = ["DEFAULT_MAX_OPEN_LOGS", "Held", "Holdings"]

log = logging.getLogger("persistence.tinydb")

DEFAULT_MAX_OPEN_LOGS = 128
"""Logs a store keeps open at most (the others are reopened when written)."""


@dataclass(slots=True, eq=False)
class Held:
    """A session this instance writes: its log and the status its document records."""

    session_id: SessionId
    log: EventLog
    status: str
    holder: Holder


class Holdings:
    """The sessions one store instance holds; see the module's documentation."""

    def __init__(
        self,
        layout: Layout,
        durability: Durability,
        committer: GroupCommitter | None,
        lease: float,
        max_open_logs: int = DEFAULT_MAX_OPEN_LOGS,
    ) -> None:
        self.layout = layout
        self.durability: Durability = durability
        self.sync = durability != "none"
        self.committer = committer
        self.lease = lease
        self.max_open_logs = max(1, max_open_logs)
        self.guard = threading.RLock()
        self.closed = False
        self.token = new_token()
        self.liveness = Liveness(layout.owners, self.token, lease)
        self._held: dict[SessionId, Held] = {}
        self._open: OrderedDict[SessionId, EventLog] = OrderedDict()
        self._open_guard = threading.Lock()
        self._owner: OwnerFile | None = None
        self._heartbeat: Periodic | None = None

    # -- this instance ---------------------------------------------------------------------
    def owner(self) -> OwnerFile:
        """This instance's owner file (created, locked, and its heartbeat started, on first use)."""
        if self.closed:
            raise StorageError("the store is closed", self.layout.path)
        if self._owner is None:
            if self.layout.owners is None:
                raise StorageError("the store is open read-only", self.layout.path)
            self._owner = OwnerFile(self.layout.owners, self.token)
            self._heartbeat = Periodic(self.lease / 3, self._owner.beat, "persistence-heartbeat")
        return self._owner

    # -- what is held --------------------------------------------------------------------------
    def get(self, session_id: SessionId) -> Held | None:
        """The session, if held (lock-free: the hot path of every append)."""
        return self._held.get(session_id)

    def ids(self) -> list[SessionId]:
        """The sessions held."""
        return list(self._held)

    def new_log(self, session_id: SessionId) -> EventLog:
        """An :class:`EventLog` of the session (not opened yet)."""
        return EventLog(
            lambda: self.layout.session_dir(session_id),
            lambda: self.layout.path / "sessions" / session_id / LOG_NAME,
            session_id,
            self.durability,
            self.committer,
        )

    def add(self, held: Held) -> None:
        """Hold a session whose document names us (its log is open)."""
        self._held[held.session_id] = held
        self._opened(held.session_id, held.log)

    def writable(self, held: Held) -> EventLog:
        """The session's log, counted as the most recently written (others may be suspended)."""
        session_id, event_log = held.session_id, held.log
        with self._open_guard:
            if session_id in self._open:
                if next(reversed(self._open)) != session_id:
                    self._open.move_to_end(session_id)
                return event_log
        self._opened(session_id, event_log)
        return event_log

    def _opened(self, session_id: SessionId, event_log: EventLog) -> None:
        evicted: list[EventLog] = []
        with self._open_guard:
            self._open[session_id] = event_log
            self._open.move_to_end(session_id)
            while len(self._open) > self.max_open_logs:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            try:
                old.suspend()
            except StorageError as error:  # it is reopened (and synced) on its next append
                log.warning("could not suspend a log: %s", error)

    # -- taking and letting go -------------------------------------------------------------------
    def hold(self, session_id: SessionId) -> Held:
        """The session, held: its document names us, its log is open."""
        with self.guard:
            held = self._held.get(session_id)
            return held if held is not None else self._take(session_id)

    def _take(self, session_id: SessionId) -> Held:
        holder = self.owner().holder()
        with self.layout.session_dir(session_id) as directory, document_lock(directory):
            document = self.takeable(directory, session_id)
            event_log = self.open_log(document, directory)
            try:
                write_document(directory, document.revised(holder=holder), sync=self.sync)
            except BaseException:
                event_log.close()
                raise
        held = Held(session_id, event_log, document.state.status, holder)
        self.add(held)
        return held

    def open_log(self, document: SessionDocument, directory: Directory | None = None) -> EventLog:
        """The session's log, open, and not ending before the seq its document records."""
        event_log = self.new_log(document.id)
        try:
            event_log.open(directory)
        except FileNotFoundError:
            raise CorruptionError(
                "the session's log is missing",
                event_log.path,
                kind="missing_log",
                session_id=document.id,
            ) from None
        if event_log.end.seq < document.last_seq:
            event_log.close()
            raise CorruptionError(
                f"the document records seq {document.last_seq}, "
                f"the log ends at seq {event_log.end.seq}",
                event_log.path,
                kind="document_mismatch",
                offset=event_log.end.offset,
                session_id=document.id,
            )
        return event_log

    def takeable(self, directory: Directory, session_id: SessionId) -> SessionDocument:
        """The session's document, if this instance may take the session (under its lock)."""
        document = read_document(directory, session_id)
        if document is None:
            raise CorruptionError(
                "the session has no document",
                directory.path,
                kind="missing_document",
                session_id=session_id,
            )
        holder = document.holder
        if holder is not None and holder.token != self.token and self.liveness.alive(holder):
            raise SessionLocked(session_id, self.liveness.describe(holder))
        return document

    def release(self, session_id: SessionId) -> None:
        """Let the session go: its document names no holder, its log is closed."""
        with self.guard:
            held = self._held.get(session_id)
            if held is None:
                return
            try:
                with self.layout.session_dir(session_id) as directory, document_lock(directory):
                    document = read_document(directory, session_id)
                    if document is not None and document.holder == held.holder:
                        write_document(directory, document.revised(holder=None), sync=self.sync)
            finally:
                self.drop(session_id)

    def drop(self, session_id: SessionId) -> None:
        """Stop holding the session and close its log (its document is the caller's business)."""
        held = self._held.pop(session_id, None)
        with self._open_guard:
            self._open.pop(session_id, None)
        if held is not None:
            held.log.close()

    # -- the end -------------------------------------------------------------------------------
    def sync_all(self) -> None:
        """Fsync the log of every session held."""
        for held in list(self._held.values()):
            held.log.sync()

    def stop(self) -> None:
        """Take no session any more, and stop the heartbeat (call without holding the guard)."""
        self.closed = True
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()

    def close(self) -> None:
        """Close every log, then the owner file: every session held is free for others to take.

        The documents still name this instance; once its owner file is gone,
        that holder is gone, and the next store to open recovers the sessions
        it left running (as a crash would leave them, but with every log synced).
        """
        self.stop()
        with self.guard:
            failure: StorageError | None = None
            for session_id in list(self._held):
                try:
                    self.drop(session_id)
                except StorageError as error:
                    failure = failure or error
            if self._owner is not None:
                self._owner.close()
            if failure is not None:
                raise failure
