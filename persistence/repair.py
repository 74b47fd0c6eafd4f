"""Repairing a store: fix what is safe to fix, keep a copy of everything rewritten, report the rest.

:func:`repair` runs :func:`~persistence.verify.verify`, then, for the TinyDB
store:

- a damaged log (torn last line, bad checksum, missing line, seq gap, invalid
  event) is cut at the first damaged byte, after the whole file was copied to
  ``<log>.corrupt-<timestamp>``: the session keeps every event before the
  damage, and the events after it survive in the copy (they cannot be trusted:
  a line is missing before them);
- a session document that is missing, invalid, or disagrees with its log is
  rebuilt from the log (its header holds the config and creation time, a replay
  gives the state); a checkpoint that no longer matches is dropped from it;
- an unreadable database is copied to ``<db>.corrupt-<timestamp>`` and rebuilt
  from the logs;
- a session created but never started whose log is gone gets a new log.

A session that another process holds is left alone.  What could not be fixed
(a damaged log header, events the chart refuses, a lost log with events) is
reported in :attr:`RepairReport.remaining`, found by verifying again.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from statecharts import FORMAT_VERSION, LiveSession, ReplayError, SessionId
from statecharts.storage import SessionLocked, SessionStorage

from .documents import SessionDocument
from .errors import StorageError
from .files import atomic_write, backup_copy, storage_errors, timestamp_suffix
from .lines import LogHeader, encode_header
from .logs import LogReader, read_header
from .table import TABLE_NAME
from .tinydb_store import TinyDBSessionStorage
from .verify import Problem, verify

__all__ = ["RepairReport", "repair"]

LOG_DAMAGE: Final = frozenset(
    {"torn_tail", "checksum_mismatch", "chain_mismatch", "seq_gap", "invalid_event"}
)
"""Problems fixed by cutting the log at the damage."""
STALE_DOCUMENT: Final = frozenset(
    {
        "missing_document",
        "invalid_document",
        "document_mismatch",
        "bad_checkpoint",
        "checkpoint_mismatch",
    }
)
"""Problems fixed by rebuilding the session's document from its log."""


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`repair` did: problems ``fixed``, problems ``remaining``, files it copied."""

    fixed: tuple[Problem, ...]
    remaining: tuple[Problem, ...]
    actions: tuple[str, ...]
    backups: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        """True when the store holds no problem any more."""
        return not self.remaining

    def __str__(self) -> str:
        lines = [f"fixed {len(self.fixed)}, remaining {len(self.remaining)}"]
        lines += [f"  did: {action}" for action in self.actions]
        lines += [f"  left: {problem}" for problem in self.remaining]
        return "\n".join(lines)


async def repair(storage: SessionStorage) -> RepairReport:
    """Fix what is safe to fix in ``storage``; see the module's documentation."""
    before = await verify(storage)
    if before.ok:
        return RepairReport((), (), (), ())
    actions: list[str] = []
    backups: list[Path] = []
    if isinstance(storage, TinyDBSessionStorage):
        _Repairer(storage, actions, backups).run(before.problems)
    after = await verify(storage)
    left = {_key(problem) for problem in after.problems}
    fixed = tuple(p for p in before.problems if _key(p) not in left)
    return RepairReport(fixed, after.problems, tuple(actions), tuple(backups))


def _key(problem: Problem) -> tuple[str, str | None]:
    return problem.kind, problem.session_id


class _Repairer:
    """The repairs of one TinyDB store (see the module's documentation)."""

    def __init__(
        self, store: TinyDBSessionStorage, actions: list[str], backups: list[Path]
    ) -> None:
        self.store = store
        self.actions = actions
        self.backups = backups
        self.stamp = timestamp_suffix()

    def run(self, problems: Iterable[Problem]) -> None:
        by_session: dict[str | None, list[Problem]] = defaultdict(list)
        for problem in problems:
            by_session[problem.session_id].append(problem)
        database_broken = any(p.kind == "unreadable_database" for p in by_session.pop(None, []))
        documents: dict[SessionId, SessionDocument] = {}
        for session_id, found in sorted(by_session.items()):
            document = self._repair_session(SessionId(str(session_id)), found)
            if document is not None:
                documents[document.id] = document
        if database_broken:
            self._rebuild_database()
        else:
            for document in documents.values():
                self.store.table.put(document)
                self.actions.append(f"rebuilt the document of session {document.id} from its log")

    def _repair_session(
        self, session_id: SessionId, found: list[Problem]
    ) -> SessionDocument | None:
        try:
            lock = self.store.held.lock(session_id)
        except SessionLocked:
            self.actions.append(f"left session {session_id} alone: another process holds it")
            return None
        try:
            kinds = {problem.kind for problem in found}
            damage = [p.offset for p in found if p.kind in LOG_DAMAGE and p.offset is not None]
            if damage:
                self._cut_log(session_id, min(damage))
            if "missing_log" in kinds:
                self._recreate_log(session_id)
            if damage or kinds & STALE_DOCUMENT:
                return self._document_from_log(session_id)
            return None
        finally:
            lock.release()

    def _cut_log(self, session_id: SessionId, offset: int) -> None:
        path = self.store.log_path(session_id)
        self.backups.append(backup_copy(path, self.stamp))
        with storage_errors("cut", path):
            os.truncate(path, offset)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.actions.append(
            f"cut the log of session {session_id} at byte {offset} (whole copy: {self.backups[-1]})"
        )

    def _recreate_log(self, session_id: SessionId) -> None:
        try:
            document = self.store.table.get(session_id)
        except StorageError:
            return
        if document is None or document.last_seq != 0:
            return  # its events are lost: nothing safe to do
        header = LogHeader(
            format_version=FORMAT_VERSION,
            session_id=session_id,
            created_at=document.created_at,
            config=document.config,
        )
        atomic_write(self.store.log_path(session_id), encode_header(header))
        self.actions.append(f"wrote a new log for session {session_id} (it had no event)")

    def _document_from_log(self, session_id: SessionId) -> SessionDocument | None:
        """The session's document as its log tells it (None when the log cannot tell)."""
        path = self.store.log_path(session_id)
        try:
            header, start = read_header(path, session_id)
            session = LiveSession(session_id, header.config, header.created_at)
            for batch in LogReader(path, session_id, start).events():
                session.replay(batch)
        except StorageError:
            return None
        except ReplayError:
            pass  # the document records how far the chart accepts the log
        previous = self._previous(session_id)
        checkpoint = None
        if previous is not None and previous.checkpoint is not None:
            ref = previous.checkpoint
            if ref.seq <= session.last_seq and not self.store.checkpoints.problem(
                session_id, ref, path
            ):
                checkpoint = ref
        return SessionDocument(
            id=session_id,
            config=header.config,
            created_at=header.created_at,
            state=session.state,
            last_seq=session.last_seq,
            version=previous.version + 1 if previous else 1,
            checkpoint=checkpoint,
        )

    def _previous(self, session_id: SessionId) -> SessionDocument | None:
        try:
            return self.store.table.get(session_id)
        except StorageError:
            return None

    def _rebuild_database(self) -> None:
        storage = self.store.table.storage
        if storage.path.exists():
            self.backups.append(backup_copy(storage.path, self.stamp))
        documents: dict[str, dict[str, Any]] = {}
        for session_id in self.store.log_ids():
            document = self._document_from_log(session_id)
            if document is not None:
                documents[session_id] = document.model_dump(mode="json")
        storage.write({TABLE_NAME: documents})
        self.actions.append(f"rebuilt the database from the logs of {len(documents)} sessions")
