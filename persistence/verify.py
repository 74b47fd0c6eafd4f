"""Checking a store: every line, every seq, every document and checkpoint against a full replay.

:func:`verify` reads everything a store holds and reports each problem with
the session, the file and the byte offset where it starts (a
:class:`Problem`), without changing anything.  For every session it replays
the whole log from seq 1 with the compiled chart and checks that

- every line is intact and chained (torn tail, checksum, missing line, seq gap);
- the chart accepts every event where it stands;
- the session's document agrees with its log (its state at its seq, and a log
  that does not end before it);
- the latest checkpoint is intact, matches the log it was taken from, and
  restoring from it (checkpoint, then the events after it) gives the very same
  session as the full replay.

Any store is checked through the port; the TinyDB store's files (the database,
logs without documents, torn tails) are checked directly as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from statecharts import LiveSession, ReplayError, SessionId, SessionState, TimestampedEvent
from statecharts.loading import paused_gc
from statecharts.storage import SessionHead, SessionStorage, as_durable

from .documents import SessionDocument
from .errors import CorruptionError, StorageError
from .logs import LogReader, read_header
from .tinydb_store import TinyDBSessionStorage

__all__ = ["Problem", "VerifyReport", "verify"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a store: what (``kind``), whose, where (file and byte), and why."""

    kind: str
    session_id: str | None
    path: Path | None
    offset: int | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.path}" if self.path else "the store"
        at = f" at byte {self.offset}" if self.offset is not None else ""
        whose = f" (session {self.session_id})" if self.session_id else ""
        return f"{self.kind}: {where}{at}{whose}: {self.detail}"

    @classmethod
    def of(cls, error: StorageError, session_id: str | None = None) -> Problem:
        """The problem a store error describes."""
        if isinstance(error, CorruptionError):
            return cls(
                error.kind, error.session_id or session_id, error.path, error.offset, str(error)
            )
        return cls("unreadable", session_id, error.path, None, str(error))


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify` found: ``ok`` when there is no problem."""

    problems: tuple[Problem, ...]
    sessions: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        """True when the store holds no problem."""
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.sessions} sessions, {self.events} events: "
        if self.ok:
            return head + "ok"
        return (
            head + f"{len(self.problems)} problems\n" + "\n".join(f"  {p}" for p in self.problems)
        )


@dataclass(slots=True)
class ReplayCheck:
    """Replays one session's events from seq 1 and checks its document and checkpoint on the way."""

    head: SessionHead
    documented: tuple[int, SessionState] | None = None
    path: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    full: LiveSession = field(init=False)
    restored: LiveSession | None = field(init=False, default=None)
    moved_on: bool = field(init=False, default=False)  # events came after the checkpoint
    failed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.full = LiveSession(self.head.id, self.head.config, self.head.created_at)
        self._check_at(0)

    def _problem(self, kind: str, detail: str, offset: int | None = None) -> None:
        self.problems.append(Problem(kind, self.head.id, self.path, offset, detail))

    def feed(self, events: Iterable[TimestampedEvent]) -> None:
        """Fold the next events (stops at the first one the chart refuses)."""
        marks = self._marks()
        pending: list[TimestampedEvent] = []
        for event in events:
            pending.append(event)
            if event.seq in marks:
                self._fold(pending)
                pending = []
                self._check_at(event.seq)
        self._fold(pending)

    def _fold(self, events: list[TimestampedEvent]) -> None:
        if self.failed or not events:
            return
        try:
            self.full.replay(events)
            self.full.forget_events()  # the log has them: a long one need not fit in memory
            if self.restored is not None:
                self.restored.replay(events)
                self.restored.forget_events()
                self.moved_on = True
        except ReplayError as error:
            self._problem("replay_error", str(error))
            self.failed = True

    def _marks(self) -> list[int]:
        marks = []
        if self.head.checkpoint is not None:
            marks.append(self.head.checkpoint.seq)
        if self.documented is not None:
            marks.append(self.documented[0])
        return marks

    def _check_at(self, seq: int) -> None:
        if self.failed:
            return
        checkpoint = self.head.checkpoint
        if checkpoint is not None and checkpoint.seq == seq:
            self.restored = LiveSession.from_snapshot(
                self.head.id, self.head.config, self.head.created_at, checkpoint.state_snapshot
            )
            if not self.restored.same_as(self.full):
                self._problem(
                    "checkpoint_mismatch", f"the checkpoint at seq {seq} is not the replay"
                )
        documented = self.documented
        if documented is not None and documented[0] == seq and documented[1] != self.full.state:
            self._problem(
                "document_mismatch",
                f"the document says {documented[1]!r} at seq {seq}; "
                f"the log says {self.full.state!r}",
            )

    def finish(self) -> list[Problem]:
        """The problems found, once every event was fed."""
        if self.failed:
            return self.problems
        marks = self._marks()
        for seq in marks:
            if seq > self.full.last_seq:
                self._problem(
                    "document_mismatch",
                    f"seq {seq} is recorded, the log ends at seq {self.full.last_seq}",
                )
        if self.moved_on and self.restored is not None and not self.restored.same_as(self.full):
            self._problem("checkpoint_mismatch", "restoring from the checkpoint is not the replay")
        return self.problems


async def verify(storage: SessionStorage) -> VerifyReport:
    """Check everything ``storage`` holds; see the module's documentation.  Changes nothing."""
    with paused_gc:
        if isinstance(storage, TinyDBSessionStorage):
            return _verify_tinydb(storage)
        return await _verify_port(storage)


async def _verify_port(storage: SessionStorage) -> VerifyReport:
    store = as_durable(storage)
    problems: list[Problem] = []
    try:
        ids = await store.list()
    except StorageError as error:
        return VerifyReport((Problem.of(error),))
    events = 0
    for session_id in ids:
        try:
            head = await store.load_head(session_id)
            if head is None:
                continue
            check = ReplayCheck(head)
            batch = [event async for event in store.load_events(session_id)]
            events += len(batch)
            check.feed(batch)
            problems.extend(check.finish())
        except StorageError as error:
            problems.append(Problem.of(error, session_id))
    return VerifyReport(tuple(problems), len(ids), events)


def _verify_tinydb(store: TinyDBSessionStorage) -> VerifyReport:
    problems: list[Problem] = []
    try:
        documents = store.table.all()
        readable = True
    except StorageError as error:
        problems.append(Problem.of(error))
        documents, readable = {}, False
    log_ids = set(store.log_ids())
    events = 0
    for session_id in sorted(set(documents) | log_ids):
        document = documents.get(session_id)
        if document is not None and document.deleting:
            continue
        if session_id not in log_ids:
            problems.append(
                Problem(
                    "missing_log",
                    session_id,
                    store.log_path(session_id),
                    None,
                    "the session has a document but no log",
                )
            )
            continue
        if document is None and readable:
            problems.append(
                Problem(
                    "missing_document",
                    session_id,
                    store.log_path(session_id),
                    None,
                    "the log has no document in the database",
                )
            )
        found, count = _verify_log(store, session_id, document)
        problems.extend(found)
        events += count
    return VerifyReport(tuple(problems), len(set(documents) | log_ids), events)


def _verify_log(
    store: TinyDBSessionStorage, session_id: SessionId, document: SessionDocument | None
) -> tuple[list[Problem], int]:
    path = store.log_path(session_id)
    problems: list[Problem] = []
    try:
        header, start = read_header(path, session_id)
    except StorageError as error:
        return [Problem.of(error, session_id)], 0
    checkpoint = None
    documented = None
    if document is not None:
        documented = (document.last_seq, document.state)
        ref = document.checkpoint
        if ref is not None:
            checkpoint, trouble = store.checkpoints.examine(session_id, ref, path)
            if trouble is not None:
                problems.append(Problem("bad_checkpoint", session_id, path, ref.offset, trouble))
    head = SessionHead(
        id=session_id, config=header.config, created_at=header.created_at, checkpoint=checkpoint
    )
    check = ReplayCheck(head, documented, path)
    reader = LogReader(path, session_id, start)
    try:
        for batch in reader.events():
            check.feed(batch)
    except StorageError as error:
        problems.append(Problem.of(error, session_id))
        return problems + check.problems, reader.end.seq
    if reader.torn:
        problems.append(
            Problem(
                "torn_tail",
                session_id,
                path,
                reader.end.offset,
                f"{reader.torn} bytes of an incomplete last line",
            )
        )
    return problems + check.finish(), reader.end.seq
