"""The embedded default store: sessions in TinyDB, events in append-only logs beside it.

Layout, for ``TinyDBSessionStorage("state/sessions.json")``::

    state/sessions.json                    the TinyDB database: table ``sessions``
    state/sessions.json.lock               its inter-process lock (and write generation)
    state/sessions.json.logs/<id>.jsonl    one append-only event log per session
    state/sessions.json.logs/<id>.lock     the session's owner lock (flock)
    state/sessions.json.checkpoints/<id>.<seq>.json   its latest checkpoint

The database holds one small document per session (see
:mod:`persistence.documents`), rewritten on lifecycle changes, checkpoints and
ownership changes only; events go to the log, O(1) per append, as durably as
the store's mode says (:mod:`persistence.durability`).  A store instance holds
the lock of every session it writes, so no other instance or process can write
it (:class:`~statecharts.storage.SessionLocked`).  The format is described in
``docs/persistence-format.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from pathlib import Path

from statecharts import (
    FORMAT_VERSION,
    LiveSession,
    PersistedSession,
    SessionCheckpoint,
    SessionId,
    SessionNotFound,
    SessionState,
    TimestampedEvent,
    is_session_id,
)
from statecharts.state import TERMINAL_STATUSES, Created
from statecharts.storage import SessionHead, SessionLocked

from .checkpoints import CheckpointFiles
from .documents import SessionDocument
from .durability import DEFAULT_WINDOW, Durability, GroupCommitter, check_mode
from .errors import CorruptionError, StorageError
from .eventlog import EventLog
from .files import checked_id, ensure_dir, raise_open_files_limit, storage_errors
from .holding import LOG_SUFFIX, Held, Holdings
from .lines import LogHeader, chain, parse_hash
from .logs import LogPosition, LogReader, position_problem, read_header
from .ownership import DEFAULT_LEASE
from .table import SessionsTable

__all__ = ["TinyDBSessionStorage"]


class TinyDBSessionStorage:
    """Sessions in a TinyDB database, their events in logs beside it; see the module's doc.

    ``durability`` is ``strict``, ``batched`` (fsync within ``window`` seconds)
    or ``none``; ``lease`` is how long an owner on another host is trusted
    after its last heartbeat.
    """

    def __init__(
        self,
        path: str | Path,
        durability: Durability = "batched",
        *,
        window: float = DEFAULT_WINDOW,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.path = Path(path)
        self.durability = check_mode(durability)
        self.lease = lease
        sync = durability != "none"
        ensure_dir(self.path.parent)
        self.logs_dir = ensure_dir(self.path.with_name(self.path.name + ".logs"))
        self.checkpoints = CheckpointFiles(
            self.path.with_name(self.path.name + ".checkpoints"), sync=sync
        )
        self.table = SessionsTable(self.path, sync=sync)
        self._committer = GroupCommitter(window) if durability == "batched" else None
        self.held = Holdings(self.table, self.logs_dir, self.durability, self._committer, lease)
        self._guard = self.held.guard
        self._marks: dict[SessionId, tuple[LogPosition, int]] = {}  # where reads ended
        raise_open_files_limit()

    def __repr__(self) -> str:
        return f"TinyDBSessionStorage({str(self.path)!r}, durability={self.durability!r})"

    # -- paths --------------------------------------------------------------------------
    def log_path(self, session_id: SessionId) -> Path:
        """Where the session's event log is."""
        return self.held.log_path(session_id)

    def log_ids(self) -> list[SessionId]:
        """The ids of the sessions that have a log file."""
        names = (p.name for p in self.logs_dir.iterdir() if p.name.endswith(LOG_SUFFIX))
        ids = (name[: -len(LOG_SUFFIX)] for name in names)
        return sorted(SessionId(i) for i in ids if is_session_id(i))

    # -- the spec's four ---------------------------------------------------------------
    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole: a new log with its events, its latest checkpoint, a document."""
        session_id = checked_id(session.id)
        with self._guard:
            if self.table.get(session_id) is None:
                self._create(session)
            else:
                self._replace(session)
            if session.checkpoints:
                await self._save_checkpoint_at(session_id, session.checkpoints[-1])

    def _new_log(self, session: PersistedSession) -> EventLog:
        header = LogHeader(
            format_version=FORMAT_VERSION,
            session_id=session.id,
            created_at=session.created_at,
            config=session.config,
        )
        return EventLog.create(
            self.log_path(session.id), header, session.events, self.durability, self._committer
        )

    def _create(self, session: PersistedSession) -> None:
        """A new session: its log, then its document; a failure leaves nothing behind."""
        lock = self.held.lock(session.id)
        try:
            log = self._new_log(session)
            try:
                self.table.put(
                    SessionDocument(
                        id=session.id,
                        config=session.config,
                        created_at=session.created_at,
                        state=session.state,
                        last_seq=log.end.seq,
                        owner=self.held.owner(),
                    )
                )
            except BaseException:
                log.close()
                with suppress(OSError):
                    log.path.unlink()
                raise
        except BaseException:
            lock.release(unlink=True)
            raise
        self.held.add(session.id, Held(lock, log, session.state.status))

    def _replace(self, session: PersistedSession) -> None:
        """An existing session replaced whole, its lock held throughout."""
        held = self.held.hold(session.id)
        held.log.close()
        try:
            held.log = self._new_log(session)
        except BaseException:
            self.held.pop(session.id)
            held.lock.release()
            raise
        held.status = session.state.status
        last_seq = held.log.end.seq
        self.table.update(
            [session.id],
            lambda d: d.revised(
                config=session.config,
                created_at=session.created_at,
                state=session.state,
                last_seq=last_seq,
                checkpoint=None,
                owner=self.held.owner(),
            ),
        )

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
        """Every stored session, oldest first.

        Raises :class:`~persistence.errors.CorruptionError` when the database
        is unreadable or a log with events has no document (run :func:`persistence.repair`).
        """
        documents = self.table.all()
        found = {sid for sid, document in documents.items() if not document.deleting}
        for session_id in sorted(set(documents) - found):
            self._finish_delete(session_id)
        for session_id in self.log_ids():
            if session_id not in documents and self._adopt(session_id):
                found.add(session_id)
        return sorted(found)

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session: document, log, checkpoints (``SessionLocked`` if another drives it)."""
        session_id = checked_id(session_id)
        with self._guard:
            if self.table.get(session_id) is None:
                return
            self.held.hold(session_id)
            self.table.update([session_id], lambda d: d.revised(deleting=True))
            self._finish_delete(session_id)

    # -- events -------------------------------------------------------------------------
    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Append to the session's log; on a lifecycle change, also record the new status."""
        if not events:
            return
        held = self.held.get(session_id) or self.held.hold(checked_id(session_id))
        log = held.log
        before, before_start = log.end, log.last_line_start
        log.append(events)
        if state.status != held.status:
            try:
                self._record_status(session_id, held, state)
            except BaseException:
                log.truncate_to(before, before_start)
                raise

    def _record_status(self, session_id: SessionId, held: Held, state: SessionState) -> None:
        if self.durability != "none":
            held.log.sync()  # the document never runs ahead of the durable log
        finished = state.status in TERMINAL_STATUSES
        owner = None if finished else self.held.owner()
        seq = held.log.end.seq
        self.table.update([session_id], lambda d: d.revised(state=state, last_seq=seq, owner=owner))
        held.status = state.status
        if finished:
            self.held.drop(session_id)

    async def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, read from the nearest known position."""
        session_id = checked_id(session_id)
        start = self._start(session_id, after_seq)
        if start is None:
            return
        reader = LogReader(self.log_path(session_id), session_id, start)
        for batch in reader.events(after_seq):
            for event in batch:
                yield event
        if reader.end.seq:  # the next read of this session (tail -f) starts here
            self._marks[session_id] = (reader.end, reader.last_line_start)

    def _start(self, session_id: SessionId, after_seq: int) -> LogPosition | None:
        document = self.table.get(session_id)
        if document is None:
            raise SessionNotFound(session_id)
        path = self.log_path(session_id)
        if not path.exists():
            if document.last_seq == 0:
                return None
            raise CorruptionError(
                "the session's log is missing", path, kind="missing_log", session_id=session_id
            )
        known = [self._marks.get(session_id)]
        ref = document.checkpoint
        if ref is not None:
            running = parse_hash(ref.log_hash) or 0
            known.append((LogPosition(ref.offset, running, ref.seq), ref.line_start))
        usable = [k for k in known if k is not None and k[0].seq <= after_seq]
        for position, line_start in sorted(usable, key=lambda k: -k[0].seq):
            if position_problem(path, position, line_start) is None:
                return position  # the nearest known position before the events wanted
        return read_header(path, session_id)[1]

    # -- checkpoints --------------------------------------------------------------------
    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Store ``checkpoint`` (taken at the log's last seq) and point the document at it."""
        session_id = checked_id(session_id)
        with self._guard:
            self.held.hold(session_id)
            return await self._save_checkpoint_at(session_id, checkpoint)

    async def _save_checkpoint_at(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        log = self.held.hold(session_id).log
        if self.durability != "none":
            log.sync()  # a checkpoint never runs ahead of the durable log
        end, line_start = self._position_of(log, checkpoint.seq)
        stored, ref = self.checkpoints.write(session_id, checkpoint, end, line_start)
        state = checkpoint.state_snapshot.state
        finished = state.status in TERMINAL_STATUSES
        owner = None if finished else self.held.owner()
        self.table.update(
            [session_id],
            lambda d: d.revised(checkpoint=ref, state=state, last_seq=ref.seq, owner=owner),
        )
        self.checkpoints.remove(session_id, keep=ref.file)
        if finished:
            self.held.drop(session_id)
        return stored

    def _position_of(self, log: EventLog, seq: int) -> tuple[LogPosition, int]:
        """The position after line ``seq`` of ``log``, and where that line starts."""
        if seq == log.end.seq:
            return log.end, log.last_line_start
        end = read_header(log.path, log.session_id)[1]
        line_start = 0
        reader = LogReader(log.path, log.session_id, end)
        for at, line, number in reader.lines():
            if number > seq:
                break
            end, line_start = LogPosition(at + len(line), chain(line, end.running), number), at
        if end.seq != seq:
            raise StorageError(f"no seq {seq} in the log (it ends at {log.end.seq})", log.path)
        return end, line_start

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest trusted checkpoint, without reading its log."""
        session_id = checked_id(session_id)
        document = self.table.get(session_id)
        if document is None or document.deleting:
            return None
        checkpoint = None
        if document.checkpoint is not None:
            checkpoint = self.checkpoints.read(
                session_id, document.checkpoint, self.log_path(session_id)
            )
        return SessionHead(
            id=session_id,
            config=document.config,
            created_at=document.created_at,
            checkpoint=checkpoint,
        )

    # -- ownership (see persistence.holding) ---------------------------------------------
    async def acquire(self, session_id: SessionId) -> int | None:
        """Become the session's writer; returns its last stored seq (see the port)."""
        held = self.held.get(session_id) or self.held.hold(checked_id(session_id))
        return held.log.end.seq

    async def release(self, session_id: SessionId) -> None:
        """Stop writing the session: its document says nobody owns it, its lock is dropped."""
        self.held.release(checked_id(session_id))

    # -- creation and deletion leftovers ------------------------------------------------
    def _adopt(self, session_id: SessionId) -> bool:
        """A log without a document: adopt it if its creation was interrupted, else raise."""
        path = self.log_path(session_id)
        try:
            lock = self.held.lock(session_id)
        except SessionLocked:
            return False  # being created right now
        try:
            header, end = read_header(path, session_id)
            if path.stat().st_size > end.offset:
                raise CorruptionError(
                    "a log with events has no document (the database lost it)",
                    path,
                    kind="missing_document",
                    offset=end.offset,
                    session_id=session_id,
                )
            document = SessionDocument(
                id=session_id, config=header.config, created_at=header.created_at, state=Created()
            )
            self.table.put(document)
        finally:
            lock.release()
        return True

    def _finish_delete(self, session_id: SessionId) -> None:
        """Remove what is left of a session being deleted (unless another store holds it)."""
        held = self.held.pop(session_id)
        if held is not None:
            held.log.close()
            lock = held.lock
        else:
            try:
                lock = self.held.lock(session_id)
            except SessionLocked:
                return
        try:
            path = self.log_path(session_id)
            with storage_errors("delete", path), suppress(FileNotFoundError):
                path.unlink()
            self.checkpoints.remove(session_id)
            self.table.remove(session_id)
        finally:
            lock.release(unlink=True)

    # -- durability ---------------------------------------------------------------------
    async def flush(self) -> None:
        """Fsync every log written since the last sync (``batched`` and ``none`` modes)."""
        if self._committer is not None:
            self._committer.flush()
        elif self.durability == "none":
            self.held.sync_all()

    async def close(self) -> None:
        """Flush, release every session this store holds, and close the database."""
        if self.held.closed:
            return
        self.held.stop()  # no new session, no heartbeat: then nothing else takes the guard
        with self._guard:
            try:
                await self.flush()
            finally:
                self.held.close()
                if self._committer is not None:
                    self._committer.close()
                self.table.close()
