"""Recovering a store after a crash: every session left running by a dead process is paused.

One pass over the store's listing finds the sessions whose status is
``running`` and whose holder is gone (its process died, or closed without
pausing them) — and the sessions a dead process held whatever their row says
(it may have died between writing an event and its new status).  Each is
loaded (its latest checkpoint and the events after it) and ``paused`` with
reason :data:`~statecharts.INTERRUPTED` is prepared through the chart,
like any event.  The events are stored in batches
(:meth:`~statecharts.DurableSessionStorage.append_many`: one sync for
many, not one per session), then committed and signalled.  A session that
cannot be loaded is reported as damaged; one that another process recovered
or took meanwhile is left to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from . import _events as ev
from ._errors import SessionError
from ._ids import SessionId
from ._loading import load_session, paused_gc
from ._session import LiveSession, Step
from ._storage import Batch, SessionLocked

if TYPE_CHECKING:
    from ._manager import InMemorySessionManager

__all__ = ["recover_interrupted"]

_CHUNK: Final = 500  # sessions loaded and paused at once (their documents stay cached)


async def recover_interrupted(manager: InMemorySessionManager) -> int:
    """Pause every session of ``manager``'s store whose process is gone; returns how many."""
    from ._manager import INTERRUPTED  # noqa: PLC0415 - the manager imports this module

    store = manager._store()
    rows = await store.listing()
    manager.damaged.update(store.damaged())
    stuck = [
        row.id for row in rows if row.holder is None and (row.orphaned or row.status == "running")
    ]
    recovered = 0
    for first in range(0, len(stuck), _CHUNK):
        recovered += await _recover(manager, stuck[first : first + _CHUNK], INTERRUPTED)
    return recovered


async def _recover(manager: InMemorySessionManager, ids: list[SessionId], reason: str) -> int:
    """Pause the sessions ``ids`` (one batch); returns how many were paused here."""
    store = manager._store()
    prepared: list[tuple[LiveSession, Step]] = []
    now = datetime.now(UTC)
    with paused_gc:
        for session_id in ids:
            try:
                session = await load_session(store, session_id)
            except SessionError as error:
                manager.damaged[session_id] = error
                continue
            if session.state.status == "running":
                prepared.append((session, session.prepare(ev.Paused(reason=reason), now)))
    batch: Batch = [(s.id, (step.recorded,), step.state) for s, step in prepared]
    failed = await store.append_many(batch) if batch else {}
    for session_id, failure in failed.items():
        if not isinstance(failure, SessionLocked):  # locked: another process has it now
            manager.damaged[session_id] = failure
    recovered = 0
    for session, step in prepared:
        if session.id in failed:
            continue
        old_state = session.state
        session.commit(step)
        manager.signals.publish(session.id, step.recorded, old_state, step.state)
        recovered += 1
    return recovered
