"""Appending to many sessions at once, made durable together: how many stuck sessions recover.

After a crash, a store may hold thousands of sessions left running by a dead
process.  Recording ``paused`` in each, one durable append and one durable
document at a time, would cost several fsyncs per session.  Here the batch
goes in chunks, each in two steps:

1. each session of the chunk is locked (its ``lock`` file, without waiting: a
   session another process is working on is left to it), its document read
   and its holder checked (gone, or us), and its events appended to its log;
2. once the chunk's logs are durable (one ``syncfs``), each document records
   the new state (and lets the session go unless it runs on), and the locks
   are released.

The documents are made durable by one last ``syncfs``.  A document never runs
ahead of the durable log, and no other process can take a session while its
events are written.  A session that fails (damaged, held by a live process,
not where the events expect it) is reported and left as it was; the others go
on.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from statecharts import (
    Batch,
    SessionError,
    SessionId,
    SessionLocked,
    SessionState,
    TimestampedEvent,
)

from .._files import Directory, checked_id
from .._rules import checked_append
from ._documents import LOCK_NAME, SessionDocument, write_document
from ._holding import Held
from ._log_writer import EventLog
from ._owners import Holder

if TYPE_CHECKING:
    from ._store import TinyDBSessionStorage

__all__ = ["CHUNK", "append_many"]

CHUNK: Final = 60
"""Sessions locked at once (two descriptors each, within the store's budget of 256)."""


@dataclass(slots=True)
class _Locked:
    session_id: SessionId
    directory: Directory
    lock_fd: int
    document: SessionDocument
    log: EventLog
    state: SessionState


def append_many(store: TinyDBSessionStorage, batch: Batch) -> dict[SessionId, SessionError]:
    """Append each session's events, chunk by chunk, made durable together; see the module."""
    failed: dict[SessionId, SessionError] = {}
    holder = store.held.owner().holder()
    wrote = False
    for first in range(0, len(batch), CHUNK):
        wrote |= _chunk(store, batch[first : first + CHUNK], holder, failed)
    if store.sync and wrote:
        store.layout.root.sync_filesystem()  # the documents
    return failed


def _chunk(
    store: TinyDBSessionStorage,
    chunk: Batch,
    holder: Holder,
    failed: dict[SessionId, SessionError],
) -> bool:
    locked: list[_Locked] = []
    try:
        for session_id, events, state in chunk:
            if not events:
                continue
            try:
                entry = _lock_and_append(store, checked_id(session_id), events, state)
            except SessionError as error:
                failed[session_id] = error
                continue
            if entry is not None:
                locked.append(entry)
        if store.sync and locked:
            store.layout.root.sync_filesystem()  # the logs, before any document names them
        for entry in locked:
            try:
                _record(store, entry, holder)
            except SessionError as error:  # the log has the events: the document lags, as allowed
                failed[entry.session_id] = error
    finally:
        for entry in locked:
            os.close(entry.lock_fd)
            entry.directory.close()
    return bool(locked)


def _lock_and_append(
    store: TinyDBSessionStorage,
    session_id: SessionId,
    events: Sequence[TimestampedEvent],
    state: SessionState,
) -> _Locked | None:
    """Lock the session and append its events (None: it is ours already, appended as usual)."""
    held = store.held.get(session_id)
    if held is not None:
        store.append_held(held, events, state)
        return None
    directory = store.layout.session_dir(session_id)
    try:
        lock_fd = directory.open_file(LOCK_NAME, os.O_RDWR, create=True)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SessionLocked(session_id, "another process, working on it now") from None
            document = store.held.takeable(directory, session_id)
            event_log = store.held.open_log(document, directory)
            try:
                checked = checked_append(
                    session_id,
                    events,
                    state,
                    last_seq=event_log.end.seq,
                    status=document.state.status,
                )
                event_log.append(checked, sync=False)
            finally:
                event_log.suspend(sync=False)
        except BaseException:
            os.close(lock_fd)
            raise
    except BaseException:
        directory.close()
        raise
    return _Locked(session_id, directory, lock_fd, document, event_log, state)


def _record(store: TinyDBSessionStorage, entry: _Locked, holder: Holder) -> None:
    running = entry.state.status == "running"
    changed = entry.document.revised(
        state=entry.state, last_seq=entry.log.end.seq, holder=holder if running else None
    )
    write_document(entry.directory, changed, sync=False)
    if running:
        store.held.add(Held(entry.session_id, entry.log, entry.state.status, holder))
    else:
        with suppress(SessionError):
            entry.log.close()
