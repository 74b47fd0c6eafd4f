"""Appending to many sessions at once, made durable together: how many stuck sessions recover.

After a crash, a store may hold thousands of sessions left running by a dead
process.  Recording ``paused`` in each, one durable append and one durable
document at a time, would cost several fsyncs per session.  Here the batch
goes in two passes, each made durable by one ``syncfs``:

1. each session is *claimed* — under its lock, its document is read, its
   holder checked (gone, or us), and the document rewritten naming us, so that
   no other process recovers it at the same moment — and its events appended;
2. once the logs are durable, each document records the new state (and lets
   the session go unless it runs on).

A session that fails (damaged, held by a live process, not where the events
expect it) is reported and left as it was; the others go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statecharts import SessionError, SessionId, SessionState
from statecharts.storage import Batch

from ..files import checked_id
from ._documents import document_lock, read_document, write_document
from ._holding import Held
from ._log_writer import EventLog
from ._owners import Holder

if TYPE_CHECKING:
    from ._store import TinyDBSessionStorage

__all__ = ["append_many"]


def append_many(store: TinyDBSessionStorage, batch: Batch) -> dict[SessionId, SessionError]:
    """Append each session's events, claim first, document after; see the module."""
    failed: dict[SessionId, SessionError] = {}
    holder = store.held.owner().holder()
    claimed: list[tuple[SessionId, EventLog, SessionState]] = []
    for session_id, events, state in batch:
        if not events:
            continue
        try:
            checked = checked_id(session_id)
            held = store.held.get(checked)
            if held is not None:  # ours already: appended as usual
                store.append_held(held, events, state)
                continue
            event_log = _claim(store, checked, holder)
            try:
                event_log.append(events, sync=False)
            finally:
                event_log.suspend(sync=False)
            claimed.append((checked, event_log, state))
        except SessionError as error:
            failed[session_id] = error
    if store.sync and claimed:
        store.layout.root.sync_filesystem()
    for session_id, event_log, state in claimed:
        try:
            _record(store, session_id, event_log, state, holder)
        except SessionError as error:  # the log has the events: the document lags, as allowed
            failed[session_id] = error
    if store.sync and claimed:
        store.layout.root.sync_filesystem()
    return failed


def _claim(store: TinyDBSessionStorage, session_id: SessionId, holder: Holder) -> EventLog:
    with store.layout.session_dir(session_id) as directory, document_lock(directory):
        document = store.held.takeable(directory, session_id)
        event_log = store.held.open_log(document)
        try:
            write_document(directory, document.revised(holder=holder), sync=False)
        except BaseException:
            event_log.close()
            raise
    return event_log


def _record(
    store: TinyDBSessionStorage,
    session_id: SessionId,
    event_log: EventLog,
    state: SessionState,
    holder: Holder,
) -> None:
    running = state.status == "running"
    with store.layout.session_dir(session_id) as directory, document_lock(directory):
        document = read_document(directory, session_id)
        if document is None or document.holder != holder:
            return  # taken since: its new holder has the say
        changed = document.revised(
            state=state, last_seq=event_log.end.seq, holder=holder if running else None
        )
        write_document(directory, changed, sync=False)
    if running:
        store.held.add(Held(session_id, event_log, state.status, holder))
