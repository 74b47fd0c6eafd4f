"""Checking a TinyDB store's files: :func:`persistence.verify` for this store.

Every session directory is checked on its own — one damaged session never
hides the others — by reading its document, its log from seq 1 (each line, and
a replay with the chart, see :class:`~persistence._verify.ReplayCheck`) and its
checkpoint.  Besides the sessions: entries of ``sessions/`` that are not
sessions (a link named like a session is damage; a creation a crash
interrupted is a notice, removed on the next open), and the sessions set aside
in ``quarantine/`` (a notice).  A session whose holder is alive is checked a
second time before its problems are reported: its writer may have been
between two writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from statecharts import SessionHead, SessionId, is_session_id

from .._errors import StorageError
from .._files import Directory
from .._verify import Problem, ReplayCheck, VerifyReport
from ._documents import DOCUMENT_NAME, LOCK_NAME, SessionDocument, read_document
from ._layout import NEW_PREFIX
from ._log_reader import LOG_NAME, LogFile

if TYPE_CHECKING:
    from ._store import TinyDBSessionStorage

__all__ = ["NOTICE_KINDS", "check_session", "check_store"]

NOTICE_KINDS: Final = frozenset({"torn_tail", "interrupted_creation", "quarantined"})
"""What the next opening puts right by itself (or what was set aside): not damage."""


def check_store(store: TinyDBSessionStorage) -> VerifyReport:
    """Check every session of ``store`` and its directory; changes nothing."""
    found: list[Problem] = []
    events = 0
    ids = store.layout.session_ids()
    for session_id in ids:
        problems, count = check_session(store, session_id)
        if problems and _held_by_another(store, session_id):
            problems, count = check_session(store, session_id)  # it may have been mid-write
        found.extend(problems)
        events += count
    found.extend(_strays(store))
    found.extend(
        Problem("quarantined", None, store.path / "quarantine" / name, None, "set aside by repair")
        for name in store.layout.quarantined()
    )
    damage = tuple(p for p in found if p.kind not in NOTICE_KINDS)
    notices = tuple(p for p in found if p.kind in NOTICE_KINDS)
    return VerifyReport(damage, len(ids), events, notices)


def _held_by_another(store: TinyDBSessionStorage, session_id: SessionId) -> bool:
    try:
        with store.layout.session_dir(session_id) as directory:
            document = read_document(directory, session_id)
    except StorageError:
        return False
    return document is not None and store.held.liveness.alive(document.holder)


def _strays(store: TinyDBSessionStorage) -> list[Problem]:
    problems = []
    for name, kind in store.layout.strays():
        path = store.path / "sessions" / name
        if name.startswith(NEW_PREFIX) and kind == "dir":
            detail = "a creation a crash interrupted (removed when the store is next opened)"
            problems.append(Problem("interrupted_creation", None, path, None, detail))
        elif is_session_id(name):
            detail = f"a {_KIND_WORDS.get(kind, kind)} where a session's directory belongs"
            problems.append(Problem("unsafe_file", name, path, None, detail))
    return problems


def check_session(store: TinyDBSessionStorage, session_id: SessionId) -> tuple[list[Problem], int]:
    """The problems of one session (each reported once), and how many events it has."""
    try:
        with store.layout.session_dir(session_id) as directory:
            found, count = _check_directory(store, directory, session_id)
    except StorageError as error:
        return [Problem.of(error, session_id)], 0
    unique: dict[tuple[str, str | None], Problem] = {}
    for problem in found:
        unique.setdefault((problem.kind, str(problem.path)), problem)
    return list(unique.values()), count


def _check_directory(
    store: TinyDBSessionStorage, directory: Directory, session_id: SessionId
) -> tuple[list[Problem], int]:
    problems = _unexpected_entries(directory, session_id)
    document: SessionDocument | None = None
    try:
        document = read_document(directory, session_id)
        if document is None:
            detail = "the session has no document"
            problems.append(Problem("missing_document", session_id, directory.path, None, detail))
    except StorageError as error:
        problems.append(Problem.of(error, session_id))
    try:
        log_file = LogFile.open(directory, session_id)
    except FileNotFoundError:
        path = directory.path / LOG_NAME
        problems.append(Problem("missing_log", session_id, path, None, "the session has no log"))
        return problems, 0
    except StorageError as error:
        return [*problems, Problem.of(error, session_id)], 0
    with log_file:
        found, count = _check_log(store, directory, log_file, document)
    return problems + found, count


def _check_log(
    store: TinyDBSessionStorage,
    directory: Directory,
    log_file: LogFile,
    document: SessionDocument | None,
) -> tuple[list[Problem], int]:
    session_id = SessionId(log_file.session_id)
    problems: list[Problem] = []
    try:
        header, start = log_file.header()
    except StorageError as error:
        return [Problem.of(error, session_id)], 0
    checkpoint = None
    documented = None
    if document is not None:
        documented = (document.last_seq, document.state)
        if document.config != header.config or document.created_at != header.created_at:
            detail = "the document's config or creation time is not the log header's"
            problems.append(Problem("document_mismatch", session_id, log_file.path, 0, detail))
        ref = document.checkpoint
        if ref is not None:
            checkpoint, trouble = store.checkpoints.examine(directory, session_id, ref, log_file)
            if trouble is not None:
                problems.append(
                    Problem("bad_checkpoint", session_id, log_file.path, ref.offset, trouble)
                )
    head = SessionHead(
        id=session_id, config=header.config, created_at=header.created_at, checkpoint=checkpoint
    )
    check = ReplayCheck(head, documented, log_file.path)
    try:
        for batch in log_file.events(start):
            check.feed(batch)
    except StorageError as error:
        problems.append(Problem.of(error, session_id))
        return problems + check.problems, log_file.end.seq
    if log_file.torn:
        detail = f"{log_file.torn} bytes of an unfinished write (cut off when next opened)"
        problems.append(
            Problem("torn_tail", session_id, log_file.path, log_file.end.offset, detail)
        )
    return problems + check.finish(), log_file.end.seq


_KNOWN: Final = (DOCUMENT_NAME, f".{DOCUMENT_NAME}.spare", LOG_NAME, LOCK_NAME)
_KIND_WORDS: Final = {"link": "link", "dir": "directory", "other": "FIFO, socket or device"}


def _unexpected_entries(directory: Directory, session_id: SessionId) -> list[Problem]:
    """Links, FIFOs or directories where a session's own files belong."""
    problems = []
    for name, kind in directory.entries():
        ours = name in _KNOWN or (name.startswith("checkpoint-") and name.endswith(".json"))
        if ours and kind != "file":
            detail = f"a {_KIND_WORDS.get(kind, kind)} where the session's {name} belongs"
            problems.append(Problem("unsafe_file", session_id, directory.path / name, None, detail))
    return problems
