"""The spec's file store: one JSON document per session, replaced atomically on every write.

``<base>/<id>.json`` is the whole :class:`~statecharts.PersistedSession` (config,
state, every event, the latest checkpoint), so the file can be read with any
JSON tool; ``<base>/<id>.lock`` is the session's owner lock (``flock``-ed by the
instance that holds the session).  Files are read and written through
:class:`~persistence._files.Directory`: no link followed, nothing but regular
files opened, sizes bounded.  Every append
rewrites the document — O(n) in the session's length — so this store suits
small sessions; long ones belong in :class:`~persistence.TinyDBSessionStorage`,
whose appends are O(1).  With ``sync`` (the default) every write is fsynced
before it returns: nothing acknowledged is lost in a crash.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from statecharts import (
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
    append_one_by_one,
    is_session_id,
    listing_by_loading,
)

from ._errors import CorruptionError, StorageError
from ._files import Directory, checked_id, try_lock
from ._limits import MAX_CHECKPOINT
from ._migrations import upgrade
from ._rules import checked_append

_MAX_FILE: Final = MAX_CHECKPOINT
"""The largest session file read (a whole session: meant for small ones)."""


class _Lock:
    """The ``flock`` on a session's lock file, held while this store holds the session."""

    def __init__(self, directory: Directory, session_id: str) -> None:
        self.name = f"{session_id}.lock"
        self._directory = directory
        self._fd = directory.open_file(self.name, os.O_RDWR, create=True)
        if not try_lock(self._fd):
            os.close(self._fd)
            raise SessionLocked(session_id, "another store")

    def release(self, *, unlink: bool = False) -> None:
        """Drop the lock (and remove the lock file, when the session is deleted)."""
        if self._fd < 0:
            return
        if unlink:
            self._directory.unlink(self.name)
        os.close(self._fd)
        self._fd = -1


__all__ = ["FileSessionStorage"]


class FileSessionStorage:
    """One JSON document per session in ``base_path``; see the module's documentation."""

    def __init__(self, base_path: str | Path, *, sync: bool = True) -> None:
        self.base_path = Path(base_path)
        self.directory = Directory.open_root(self.base_path, create=True)
        self.sync = sync
        self._held: dict[SessionId, tuple[_Lock, PersistedSession]] = {}
        self._guard = threading.RLock()
        self._damaged: dict[SessionId, SessionError] = {}

    def __repr__(self) -> str:
        return f"FileSessionStorage({str(self.base_path)!r})"

    def document_path(self, session_id: SessionId) -> Path:
        """Where the session's document is."""
        return self.base_path / f"{session_id}.json"

    def read(self, session_id: SessionId) -> PersistedSession | None:
        """The stored document, checked; :class:`CorruptionError` when it is not one."""
        path = self.document_path(session_id)
        try:
            data = self.directory.read(f"{session_id}.json", _MAX_FILE)
        except StorageError as error:
            self._damaged[session_id] = error
            raise
        if data is None:
            return None
        try:
            session = PersistedSession.model_validate(upgrade("file", _object(data), path))
        except (ValueError, TypeError, ValidationError) as error:
            self._damaged[session_id] = CorruptionError(
                f"the document is unreadable: {error}",
                path,
                kind="unreadable_document",
                session_id=session_id,
            )
            raise CorruptionError(
                f"the document is unreadable: {error}",
                path,
                kind="unreadable_document",
                offset=getattr(error, "pos", None),
                session_id=session_id,
            ) from None
        if session.id != session_id:
            raise CorruptionError(
                f"the document is the one of session {session.id}",
                path,
                kind="unreadable_document",
                session_id=session_id,
            )
        return session

    def _write(self, session: PersistedSession) -> None:
        data = session.model_dump_json().encode()
        self.directory.write_atomic(f"{session.id}.json", data, sync=self.sync)

    def _current(self, session_id: SessionId) -> PersistedSession:
        """The session as stored, held by this store (``SessionLocked`` if another holds it)."""
        with self._guard:
            held = self._held.get(session_id)
            if held is not None:
                return held[1]
            lock = _Lock(self.directory, session_id)
            try:
                session = self.read(session_id)
            except BaseException:
                lock.release()
                raise
            if session is None:
                lock.release()
                raise SessionNotFound(session_id)
            self._held[session_id] = (lock, session)
            return session

    def _replace(self, session: PersistedSession) -> None:
        self._write(session)
        lock = self._held[session.id][0]
        self._held[session.id] = (lock, session)

    # -- the port -----------------------------------------------------------------------
    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole (keeping only its latest checkpoint)."""
        session_id = checked_id(session.id)
        with self._guard:
            if session_id not in self._held:
                if self.directory.stat(f"{session_id}.json") is not None:
                    self._current(session_id)
                else:
                    lock = _Lock(self.directory, session_id)
                    self._held[session_id] = (lock, session)
            self._replace(session.model_copy(update={"checkpoints": session.checkpoints[-1:]}))

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        """The stored session, or None."""
        return self.read(checked_id(session_id))

    async def list(self) -> list[SessionId]:
        """Every stored session, oldest first."""
        entries = self.directory.entries()
        names = (
            n[: -len(".json")] for n, kind in entries if kind == "file" and n.endswith(".json")
        )
        return sorted(SessionId(name) for name in names if is_session_id(name))

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        """Every session (or those of ``ids``) at a glance (each file read whole)."""
        return await listing_by_loading(self, ids)

    def damaged(self) -> dict[SessionId, SessionError]:
        """The sessions whose file could not be read, with why."""
        return dict(self._damaged)

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        """One append per session (every write is durable on its own here)."""
        return await append_one_by_one(self, batch)

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session (raises ``SessionLocked`` if another store drives it)."""
        session_id = checked_id(session_id)
        with self._guard:
            if self.directory.stat(f"{session_id}.json") is None:
                return
            held = self._held.pop(session_id, None)
            lock = held[0] if held is not None else _Lock(self.directory, session_id)
            try:
                self.directory.unlink(f"{session_id}.json")
                self._damaged.pop(session_id, None)
            finally:
                lock.release(unlink=True)

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Rewrite the document with ``events`` added and ``state`` as the session's state."""
        session_id = checked_id(session_id)
        with self._guard:
            session = self._current(session_id)
            last = session.events[-1].seq if session.events else 0
            batch = checked_append(
                session_id, events, state, last_seq=last, status=session.state.status
            )
            if batch:
                self._replace(
                    session.model_copy(update={"events": (*session.events, *batch), "state": state})
                )

    async def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order."""
        session = self.read(checked_id(session_id))
        if session is None:
            raise SessionNotFound(session_id)
        for event in session.events:
            if event.seq > after_seq:
                yield event

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Keep ``checkpoint`` as the session's latest (no log bytes here: no ``log_hash``)."""
        session_id = checked_id(session_id)
        with self._guard:
            session = self._current(session_id)
            self._replace(session.model_copy(update={"checkpoints": (checkpoint,)}))
        return checkpoint

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest checkpoint (reads the whole document)."""
        session = self.read(checked_id(session_id))
        return None if session is None else SessionHead.of(session)

    async def acquire(self, session_id: SessionId) -> int | None:
        """Become the session's writer; returns its last stored seq."""
        session = self._current(checked_id(session_id))
        return session.events[-1].seq if session.events else 0

    async def release(self, session_id: SessionId) -> None:
        """Stop writing the session (drop its lock)."""
        with self._guard:
            held = self._held.pop(checked_id(session_id), None)
        if held is not None:
            held[0].release()

    async def flush(self) -> None:
        """Nothing to do: every write is complete when it returns."""

    async def close(self) -> None:
        """Release every session."""
        with self._guard:
            for session_id in list(self._held):
                await self.release(session_id)
            self.directory.close()


def _object(data: bytes) -> dict[str, Any]:
    """The JSON object ``data`` holds (``ValueError``/``TypeError`` when it holds none)."""
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise TypeError("not a JSON object")
    return raw
