"""The embedded default store: each session a small TinyDB database and a log, in its own directory.

See :mod:`~persistence.tinydb._layout` for the layout.  A lifecycle change
rewrites the session's own document (a few kilobytes), an event is an O(1)
append to its log, as durably as the store's mode says
(:mod:`persistence._durability`): both cost the same at session 10 and at
session 100,000.  An instance holds the sessions it runs (no other instance
or process can write them: :class:`~statecharts.SessionLocked`,
naming the holder), with one descriptor for all of them and a bounded number
of open logs.  Everything read from the directory is untrusted input
(:mod:`persistence._files`): a damaged session is reported and left out, the
others open and run.  The format is described in ``docs/persistence-format.md``.
"""

from __future__ import annotations

import builtins
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import Final

from statecharts import (
    FORMAT_VERSION,
    Batch,
    PersistedSession,
    SessionCheckpoint,
    SessionError,
    SessionHead,
    SessionId,
    SessionListing,
    SessionLocked,
    SessionNotFound,
    SessionState,
    TimestampedEvent,
)
from statecharts._session import LiveSession

from .._durability import DEFAULT_WINDOW, Durability, GroupCommitter, check_mode
from .._errors import CorruptionError, StorageError
from .._files import Directory, checked_id
from .._rules import checked_append
from .._verify import Problem, VerifyReport
from ._batch import append_many
from ._check import check_store
from ._checkpointing import save_checkpoint
from ._checkpoints import Checkpoints
from ._documents import SessionDocument, document_lock, read_document, write_document
from ._holding import DEFAULT_MAX_OPEN_LOGS, Held, Holdings
from ._layout import Layout
from ._lines import LogHeader, parse_hash
from ._listing import Listing
from ._log_reader import LogFile, LogPosition
from ._log_writer import write_new_log
from ._opening import open_layout, remove_abandoned_creations
from ._owners import DEFAULT_LEASE
from ._repair import repair_damage

__all__ = ["TinyDBSessionStorage"]

_MARKS: Final = 256  # sessions whose last read position is remembered (tail -f)


class TinyDBSessionStorage:
    """Sessions in a directory, each a TinyDB document and an event log; see the module's doc.

    ``path`` is the store's directory (a store of the old layout — one
    ``sessions.json`` for every session — is migrated when opened for
    writing; its database file's path is accepted too).  ``durability`` is
    ``strict``, ``batched`` (fsync within ``window`` seconds) or ``none``;
    ``lease`` is how long an instance on another host is trusted after its
    last heartbeat; ``read_only`` opens without creating or changing anything
    (a store in a read-only directory can be read); ``max_open_logs`` bounds
    the logs kept open; ``shared`` names entries another tool keeps in the
    same directory (they do not make it "not a store").
    """

    def __init__(
        self,
        path: str | Path,
        durability: Durability = "batched",
        *,
        window: float = DEFAULT_WINDOW,
        lease: float = DEFAULT_LEASE,
        read_only: bool = False,
        max_open_logs: int = DEFAULT_MAX_OPEN_LOGS,
        shared: Collection[str] = (),
    ) -> None:
        self.durability = check_mode(durability)
        self.read_only = read_only
        self.lease = lease
        self.sync = durability != "none"
        self.layout: Layout = open_layout(
            Path(path), read_only=read_only, sync=self.sync, shared=shared
        )
        self.path = self.layout.path
        self.checkpoints = Checkpoints(sync=self.durability == "strict")
        self._committer = GroupCommitter(window) if durability == "batched" else None
        self.held = Holdings(self.layout, self.durability, self._committer, lease, max_open_logs)
        self._guard = self.held.guard
        self._marks: OrderedDict[SessionId, tuple[LogPosition, int]] = OrderedDict()
        self._damaged: dict[SessionId, SessionError] = {}
        self._listing = Listing(self.layout, self.held.liveness)
        if not read_only:
            self._tidy()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"TinyDBSessionStorage({str(self.path)!r}, durability={self.durability!r}{mode})"

    def _tidy(self) -> None:
        """Remove what crashed instances left: deletes in progress, dead owners' files."""
        self.layout.empty_trash()
        self.held.liveness.sweep()
        remove_abandoned_creations(self.layout, self.held.liveness)

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError("the store is open read-only", self.path)

    def session_path(self, session_id: SessionId) -> Path:
        """Where the session's directory is."""
        return self.path / "sessions" / checked_id(session_id)

    # -- the spec's four ---------------------------------------------------------------------
    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole: a new log with its events, a document, its latest checkpoint."""
        session_id = checked_id(session.id)
        self._writable()
        with self._guard:
            if self.layout.exists(session_id):
                self._replace(session)
            else:
                self._create(session)
            if session.checkpoints:
                await self._save_checkpoint(session_id, session.checkpoints[-1])

    def _header(self, session: PersistedSession) -> LogHeader:
        return LogHeader(
            format_version=FORMAT_VERSION,
            session_id=session.id,
            created_at=session.created_at,
            config=session.config,
        )

    def _create(self, session: PersistedSession) -> None:
        """A new session, built aside and moved into place whole."""
        header = self._header(session)
        document = SessionDocument(
            id=session.id,
            config=session.config,
            created_at=session.created_at,
            state=session.state,
            last_seq=session.events[-1].seq if session.events else 0,
        )
        directory, name = self.layout.new_session_dir(session.id, self.held.owner().token)
        try:
            with directory:
                write_new_log(directory, header, session.events, sync=self.sync)
                write_document(directory, document, sync=self.sync)
            self.layout.publish(name, session.id, sync=self.sync)
        except BaseException:
            self.layout.discard(name)
            raise
        if session.state.status == "running":
            self.held.hold(session.id)

    def _replace(self, session: PersistedSession) -> None:
        """An existing session replaced whole (taken first: nobody else may be writing it)."""
        held = self.held.hold(session.id)
        self.held.drop(session.id)
        running = session.state.status == "running"
        with self.layout.session_dir(session.id) as directory, document_lock(directory):
            document = self.held.takeable(directory, session.id)
            write_new_log(directory, self._header(session), session.events, sync=self.sync)
            write_document(
                directory,
                document.revised(
                    config=session.config,
                    created_at=session.created_at,
                    state=session.state,
                    last_seq=session.events[-1].seq if session.events else 0,
                    checkpoint=None,
                    holder=held.holder if running else None,
                ),
                sync=self.sync,
            )
            Checkpoints.remove_all(directory)
        self.checkpoints.forget(session.id)
        self._marks.pop(session.id, None)
        if running:
            self.held.hold(session.id)

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        """The whole session: every event, its state (replayed), its latest trusted checkpoint."""
        head = await self.load_head(session_id)
        if head is None:
            return None
        events = [event async for event in self.load_events(head.id)]
        session = LiveSession(head.id, head.config, head.created_at)
        session.replay(events)
        return PersistedSession(
            id=head.id,
            config=head.config,
            state=session.state,
            created_at=head.created_at,
            events=tuple(events),
            checkpoints=(head.checkpoint,) if head.checkpoint else (),
        )

    async def list(self) -> list[SessionId]:
        """Every stored session, oldest first (read from the directory: no document is opened)."""
        return self.layout.session_ids()

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        """Every session (or those of ``ids``) at a glance, oldest first; see the port.

        A damaged one is left out (:meth:`damaged` says why).
        """
        rows = []
        if ids is None:
            self._damaged = {}
            wanted = self.layout.session_ids()
        else:
            wanted = sorted(checked_id(session_id) for session_id in ids)
        for session_id in wanted:
            try:
                rows.append(self._listing.row(session_id))
            except SessionNotFound:
                continue  # deleted meanwhile
            except StorageError as error:
                self._damaged[session_id] = error
        return rows

    def damaged(self) -> dict[SessionId, SessionError]:
        """The sessions found damaged by the last :meth:`listing` (and loads since), with why."""
        return dict(self._damaged)

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session: its directory goes, whole (``SessionLocked`` if another drives it).

        A damaged session can be deleted too: nothing of it is parsed but its holder.
        """
        session_id = checked_id(session_id)
        self._writable()
        with self._guard:
            if not self.layout.exists(session_id):
                return
            if self.held.get(session_id) is None:
                self._check_not_held(session_id)
            self.held.drop(session_id)
            name = self.layout.to_trash(session_id)
            self.checkpoints.forget(session_id)
            self._listing.forget(session_id)
            self._marks.pop(session_id, None)
            self._damaged.pop(session_id, None)
            self.layout.empty_trash()
            del name

    def _check_not_held(self, session_id: SessionId) -> None:
        """Raise ``SessionLocked`` when a live instance holds the session (damage aside)."""
        try:
            with self.layout.session_dir(session_id) as directory:
                self.held.takeable(directory, session_id)
        except SessionLocked:
            raise
        except StorageError:
            return  # a damaged session: nobody can be driving it through its document

    async def quarantine(self, session_id: SessionId) -> Path:
        """Set a (damaged) session aside, with all its files; returns where they are now."""
        session_id = checked_id(session_id)
        self._writable()
        with self._guard:
            if not self.layout.exists(session_id):
                raise SessionNotFound(session_id)
            if self.held.get(session_id) is None:
                self._check_not_held(session_id)
            self.held.drop(session_id)
            self._damaged.pop(session_id, None)
            self.checkpoints.forget(session_id)
            self._listing.forget(session_id)
            return self.layout.quarantine(session_id)

    # -- events ----------------------------------------------------------------------------------
    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Append to the session's log; on a lifecycle change, also record the new status."""
        if isinstance(events, Sequence) and not events:
            return
        held = self.held.get(session_id)
        if held is None:
            self._writable()
            held = self.held.hold(checked_id(session_id))
        self.append_held(held, events, state)

    def append_held(
        self, held: Held, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Append to a session this store holds (see :meth:`append`)."""
        events = checked_append(
            held.session_id, events, state, last_seq=held.log.end.seq, status=held.status
        )
        if not events:
            return
        event_log = self.held.writable(held)
        before, before_start = event_log.end, event_log.last_line_start
        event_log.append(events)
        if state.status != held.status:
            try:
                self._record_status(held, state)
            except BaseException:
                event_log.truncate_to(before, before_start)
                raise

    def _record_status(self, held: Held, state: SessionState) -> None:
        """Write the session's new status in its document (and let it go if it stops running)."""
        if self.sync:
            held.log.sync()  # the document never runs ahead of the durable log
        running = state.status == "running"
        session_id = held.session_id
        with self.layout.session_dir(session_id) as directory, document_lock(directory):
            document = self.own_document(directory, held)
            changed = document.revised(
                state=state, last_seq=held.log.end.seq, holder=held.holder if running else None
            )
            write_document(directory, changed, sync=self.sync)
        held.status = state.status
        if not running:
            self.held.drop(session_id)

    def own_document(self, directory: Directory, held: Held) -> SessionDocument:
        document = read_document(directory, held.session_id)
        if document is None:
            raise CorruptionError(
                "the session's document is gone",
                directory.path,
                kind="missing_document",
                session_id=held.session_id,
            )
        if document.holder != held.holder:  # taken over: we were presumed gone
            self.held.drop(held.session_id)
            holder = document.holder
            raise SessionLocked(
                held.session_id,
                None if holder is None else self.held.liveness.describe(holder),
            )
        return document

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        """Append to many sessions, made durable together; see the port (and ``_batch``)."""
        self._writable()
        with self._guard:
            return append_many(self, batch)

    async def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, read from the nearest known position."""
        session_id = checked_id(session_id)
        held = self.held.get(session_id)
        if held is not None and after_seq >= held.log.end.seq:
            return  # nothing after the end we wrote
        with self.layout.session_dir(session_id) as directory:
            document = self._document(directory, session_id)
            try:
                log_file = LogFile.open(directory, session_id)
            except FileNotFoundError:
                if document.last_seq == 0:
                    return
                raise CorruptionError(
                    "the session's log is missing",
                    directory.path,
                    kind="missing_log",
                    session_id=session_id,
                ) from None
        with log_file:
            start = self._start(log_file, document, after_seq)
            for batch in log_file.events(start, after_seq):
                for event in batch:
                    yield event
            if log_file.end.seq:  # the next read of this session (tail -f) starts here
                self._mark(session_id, log_file.end, log_file.last_line_start)

    def _mark(self, session_id: SessionId, end: LogPosition, line_start: int) -> None:
        self._marks[session_id] = (end, line_start)
        self._marks.move_to_end(session_id)
        while len(self._marks) > _MARKS:
            self._marks.popitem(last=False)

    def _document(self, directory: Directory, session_id: SessionId) -> SessionDocument:
        try:
            document = read_document(directory, session_id)
        except StorageError as error:
            self._damaged[session_id] = error
            raise
        if document is None:
            missing = CorruptionError(
                "the session has no document",
                directory.path,
                kind="missing_document",
                session_id=session_id,
            )
            self._damaged[session_id] = missing
            raise missing
        return document

    def _start(self, log_file: LogFile, document: SessionDocument, after_seq: int) -> LogPosition:
        """The nearest trusted position before the events with ``seq > after_seq``."""
        known = [self._marks.get(document.id)]
        ref = document.checkpoint
        if ref is not None:
            running = parse_hash(ref.log_hash) or 0
            known.append((LogPosition(ref.offset, running, ref.seq), ref.line_start))
        usable = [k for k in known if k is not None and k[0].seq <= after_seq]
        for position, line_start in sorted(usable, key=lambda k: -k[0].seq):
            if log_file.position_problem(position, line_start) is None:
                return position
        return log_file.header_end()

    # -- checkpoints -------------------------------------------------------------------------
    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Store ``checkpoint`` (taken at seq ``checkpoint.seq``) and point the document at it."""
        session_id = checked_id(session_id)
        self._writable()
        with self._guard:
            return await self._save_checkpoint(session_id, checkpoint)

    async def _save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        return save_checkpoint(self, session_id, checkpoint)

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest trusted checkpoint, without reading its log."""
        session_id = checked_id(session_id)
        try:
            directory = self.layout.session_dir(session_id)
        except SessionNotFound:
            return None
        with directory:
            document = self._document(directory, session_id)
            checkpoint = None
            if document.checkpoint is not None:
                try:
                    with LogFile.open(directory, session_id) as log_file:
                        checkpoint = self.checkpoints.read(
                            directory, session_id, document.checkpoint, log_file
                        )
                except FileNotFoundError:
                    checkpoint = None
        return SessionHead(
            id=session_id,
            config=document.config,
            created_at=document.created_at,
            checkpoint=checkpoint,
        )

    # -- holding -------------------------------------------------------------------------------
    async def acquire(self, session_id: SessionId) -> int | None:
        """Become the session's writer; returns its last stored seq (see the port)."""
        held = self.held.get(session_id)
        if held is None:
            self._writable()
            held = self.held.hold(checked_id(session_id))
        return held.log.end.seq

    async def release(self, session_id: SessionId) -> None:
        """Stop writing the session: its document names no holder, its log is closed."""
        self.held.release(checked_id(session_id))

    # -- checking and repairing ------------------------------------------------------------------
    async def check(self) -> VerifyReport:
        """Check every session and the store's directory (what :func:`persistence.verify` runs)."""
        return check_store(self)

    async def repair_damage(
        self, problems: tuple[Problem, ...], *, quarantine: bool, remove: bool
    ) -> tuple[builtins.list[str], builtins.list[Path]]:
        """Fix or set aside the damaged sessions (what :func:`persistence.repair` runs)."""
        self._writable()
        with self._guard:
            return repair_damage(self, problems, quarantine=quarantine, remove=remove)

    # -- durability ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Fsync every log written since the last sync (``batched`` and ``none`` modes)."""
        if self._committer is not None:
            self._committer.flush()
        elif self.durability == "none":
            self.held.sync_all()

    async def close(self) -> None:
        """Flush, close every log, let every session go, and close the directory."""
        if self.held.closed:
            return
        self.held.stop()  # no new session, no heartbeat: then nothing else takes the guard
        with self._guard:
            try:
                await self.flush()
            finally:
                try:
                    self.held.close()
                finally:
                    if self._committer is not None:
                        self._committer.close()
                    self.layout.close()
