"""Repairing a TinyDB store's damaged sessions, each on its own, in one run.

For each session :func:`~persistence.verify` found damaged (see
:mod:`persistence._repair` for what is fixed and how): fix what is safe to fix
under the session's lock, check the session again, and set it aside
(quarantine, or delete with ``remove``) if anything is still wrong — so one
run always ends with a store that verifies.  Every file rewritten or cut is
copied beside itself first (``<name>.corrupt-<timestamp>``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Final

from statecharts import FORMAT_VERSION, ReplayError, SessionId, SessionLocked, is_session_id
from statecharts._session import LiveSession

from .._errors import StorageError
from .._files import Directory, storage_errors, timestamp_suffix
from .._limits import MAX_LINE
from .._verify import Problem
from ._check import check_session
from ._documents import SessionDocument, document_lock, read_document, write_document
from ._lines import LogHeader, chain, encode_header, split_line
from ._log_reader import LOG_NAME, LogFile
from ._log_writer import write_new_log

if TYPE_CHECKING:
    from ._store import TinyDBSessionStorage

__all__ = ["repair_damage"]

LOG_DAMAGE: Final = frozenset(
    {
        "torn_tail",
        "checksum_mismatch",
        "chain_mismatch",
        "seq_gap",
        "invalid_event",
        "line_too_long",
    }
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
FIXABLE: Final = LOG_DAMAGE | STALE_DOCUMENT | {"missing_log", "bad_header"}


class _Unfixable(Exception):
    """The session cannot be fixed safely: it is set aside."""


def repair_damage(
    store: TinyDBSessionStorage, problems: tuple[Problem, ...], *, quarantine: bool, remove: bool
) -> tuple[list[str], list[Path]]:
    """Fix (or set aside) every damaged session ``problems`` name; returns actions and copies."""
    repairer = _Repairer(store, quarantine=quarantine, remove=remove)
    by_session: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        if problem.session_id is not None and is_session_id(problem.session_id):
            by_session[problem.session_id].append(problem)
    for session_id, found in sorted(by_session.items()):
        repairer.repair(SessionId(session_id), found)
    return repairer.actions, repairer.backups


class _Repairer:
    def __init__(self, store: TinyDBSessionStorage, *, quarantine: bool, remove: bool) -> None:
        self.store = store
        self.quarantine = quarantine
        self.remove = remove
        self.actions: list[str] = []
        self.backups: list[Path] = []
        self.stamp = timestamp_suffix()

    def repair(self, session_id: SessionId, found: list[Problem]) -> None:
        layout = self.store.layout
        if not layout.exists(session_id):  # a link or a file named like a session
            self._set_aside(session_id, "it is not a session's directory")
            return
        try:
            with layout.session_dir(session_id) as directory, document_lock(directory):
                self._fix(directory, session_id, found)
        except SessionLocked as error:
            self.actions.append(f"left session {session_id} alone: {error}")
            return
        except (_Unfixable, StorageError) as error:
            self._set_aside(session_id, str(error))
            return
        left, _count = check_session(self.store, session_id)
        if [p for p in left if p.kind != "torn_tail"]:
            self._set_aside(session_id, "; ".join(str(p) for p in left))

    def _fix(self, directory: Directory, session_id: SessionId, found: list[Problem]) -> None:
        kinds = {problem.kind for problem in found}
        unfixable = kinds - FIXABLE
        if unfixable:
            raise _Unfixable(", ".join(sorted(unfixable)))
        previous = self._previous(directory, session_id)
        holder = previous.holder if previous is not None else None
        mine = holder is not None and holder.token == self.store.held.token
        if holder is not None and not mine and self.store.held.liveness.alive(holder):
            raise SessionLocked(session_id, self.store.held.liveness.describe(holder))
        if "bad_header" in kinds:
            self._restore_header(directory, session_id, previous)
        damage = [p.offset for p in found if p.kind in LOG_DAMAGE and p.offset is not None]
        if damage:
            self._cut_log(directory, session_id, min(damage))
        if "missing_log" in kinds:
            self._recreate_log(directory, session_id, previous)
        if damage or kinds & STALE_DOCUMENT:
            self._rebuild_document(directory, session_id, previous)

    def _previous(self, directory: Directory, session_id: SessionId) -> SessionDocument | None:
        try:
            return read_document(directory, session_id)
        except StorageError:
            return None

    def _cut_log(self, directory: Directory, session_id: SessionId, offset: int) -> None:
        name = f"{LOG_NAME}.corrupt-{self.stamp}"
        directory.copy_file(LOG_NAME, directory, name, limit=1 << 40)
        self.backups.append(directory.path / name)
        fd = directory.open_file(LOG_NAME, os.O_RDWR)
        try:
            with storage_errors("cut", directory.path / LOG_NAME):
                os.ftruncate(fd, offset)
                os.fsync(fd)
        finally:
            os.close(fd)
        self.actions.append(
            f"cut the log of session {session_id} at byte {offset} (whole copy: {name})"
        )

    def _restore_header(
        self, directory: Directory, session_id: SessionId, previous: SessionDocument | None
    ) -> None:
        """Rewrite a damaged header from the document, if that gives back the log's very chain."""
        if previous is None:
            raise _Unfixable("its log header is damaged and it has no document to rebuild it from")
        with LogFile.open(directory, session_id) as log_file:
            start = os.pread(log_file.fd, MAX_LINE + 1, 0)
            cut = start.find(b"\n") + 1
            first = start[cut : start.find(b"\n", cut) + 1] if cut else b""
        fields = split_line(first) if first else None
        if not cut or (first and fields is None):
            raise _Unfixable("its log header is damaged beyond finding where it ends")
        for version in range(FORMAT_VERSION, 0, -1):
            header = LogHeader(
                format_version=version,
                session_id=session_id,
                created_at=previous.created_at,
                config=previous.config,
            )
            line = encode_header(header)
            if fields is None or chain(line, 0) == fields[0]:
                name = f"{LOG_NAME}.corrupt-{self.stamp}"
                directory.copy_file(LOG_NAME, directory, name, limit=1 << 40)
                self.backups.append(directory.path / name)
                directory.replace_head(LOG_NAME, cut, line)
                self.actions.append(
                    f"rebuilt the log header of session {session_id} from its document"
                )
                return
        raise _Unfixable("its log header is damaged and the document does not give it back")

    def _recreate_log(
        self, directory: Directory, session_id: SessionId, previous: SessionDocument | None
    ) -> None:
        if previous is None or previous.last_seq != 0:
            raise _Unfixable("its log is lost with its events")
        header = LogHeader(
            format_version=FORMAT_VERSION,
            session_id=session_id,
            created_at=previous.created_at,
            config=previous.config,
        )
        write_new_log(directory, header, (), sync=True)
        self.actions.append(f"wrote a new log for session {session_id} (it had no event)")

    def _rebuild_document(
        self, directory: Directory, session_id: SessionId, previous: SessionDocument | None
    ) -> None:
        with LogFile.open(directory, session_id) as log_file:
            header, start = log_file.header()
            session = LiveSession(session_id, header.config, header.created_at)
            try:
                for batch in log_file.events(start):
                    session.replay(batch)
                    session.forget_events()
            except ReplayError as error:
                raise _Unfixable(f"the chart refuses its log: {error}") from None
            checkpoint = None
            if previous is not None and previous.checkpoint is not None:
                ref = previous.checkpoint
                usable = (
                    ref.seq <= session.last_seq
                    and not self.store.checkpoints.examine(directory, session_id, ref, log_file)[1]
                )
                checkpoint = ref if usable else None
        document = SessionDocument(
            id=session_id,
            config=header.config,
            created_at=header.created_at,
            state=session.state,
            last_seq=session.last_seq,
            version=previous.version + 1 if previous else 1,
            checkpoint=checkpoint,
        )
        if directory.stat("session.json") is not None:
            name = f"session.json.corrupt-{self.stamp}"
            directory.copy_file("session.json", directory, name, limit=2 * MAX_LINE + (1 << 20))
            self.backups.append(directory.path / name)
        write_document(directory, document, sync=True)
        self.store.checkpoints.forget(session_id)
        self.actions.append(f"rebuilt the document of session {session_id} from its log")

    def _set_aside(self, session_id: SessionId, why: str) -> None:
        if not self.quarantine and not self.remove:
            self.actions.append(f"left damaged session {session_id} as it is: {why}")
            return
        layout = self.store.layout
        self.store.held.drop(session_id)
        if self.remove:
            layout.to_trash(session_id)
            layout.empty_trash()
            self.actions.append(f"removed damaged session {session_id}: {why}")
            return
        where = layout.quarantine(session_id)
        self.actions.append(f"set damaged session {session_id} aside in {where}: {why}")
