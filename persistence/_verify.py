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

Any store is checked through the port; a store that knows more about its own
files (:class:`SelfChecking`: the TinyDB store — documents, logs, links or
FIFOs where files belong, torn tails, interrupted creations) checks itself.
What the next opening of the store puts right by itself, losing nothing, is a
*notice*, not a problem: :attr:`VerifyReport.ok` stays true.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from statecharts import (
    ReplayError,
    SessionHead,
    SessionState,
    SessionStorage,
    TimestampedEvent,
    as_durable,
)
from statecharts._loading import paused_gc
from statecharts._session import LiveSession

from ._errors import CorruptionError, StorageError

__all__ = ["Problem", "ReplayCheck", "SelfChecking", "VerifyReport", "verify"]


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
                error.kind, error.session_id or session_id, error.path, error.offset, error.message
            )
        return cls("unreadable", session_id, error.path, None, str(error))


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify` found: ``ok`` when there is no problem.

    ``problems`` are damage (something is lost or wrong until repaired);
    ``notices`` are what the next opening of the store puts right by itself,
    losing nothing (an interrupted write's torn tail, a creation a crash
    interrupted), and sessions set aside in quarantine.
    """

    problems: tuple[Problem, ...]
    sessions: int = 0
    events: int = 0
    notices: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the store holds no problem (notices are not problems)."""
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.sessions} sessions, {self.events} events: "
        lines = [head + ("ok" if self.ok else f"{len(self.problems)} problems")]
        lines += [f"  {p}" for p in self.problems]
        lines += [f"  note: {p}" for p in self.notices]
        return "\n".join(lines)


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


@runtime_checkable
class SelfChecking(Protocol):
    """A store that checks its own files (beyond what the port shows): the TinyDB store."""

    async def check(self) -> VerifyReport:
        """Everything :func:`verify` checks, and the store's files."""
        ...


async def verify(storage: SessionStorage) -> VerifyReport:
    """Check everything ``storage`` holds; see the module's documentation.  Changes nothing."""
    with paused_gc:
        if isinstance(storage, SelfChecking):
            return await storage.check()
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
