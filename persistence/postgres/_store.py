"""The PostgreSQL store: one row per session, its events keyed by (session id, seq).

Many processes on many machines share one store.  A session is written by one
owner at a time — the store instance named in its row (host, pid, token) with
a fresh heartbeat — and every write is *optimistic*: it updates the session's
row only ``WHERE version = expected AND last_seq = expected``, in the same
statement that inserts the events.  A writer that lost a race changes nothing
and gets :class:`~persistence.ConcurrentModification`; the
manager reloads the session before its next event, so the log never forks.
The events' primary key makes a duplicate seq impossible besides.

Every append notifies ``LISTEN``-ers on the store's channel (``session seq
token``), in the same transaction: see :mod:`persistence.postgres._bridge`.
The schema is in :mod:`persistence.postgres._schema`; ``docs/postgres.md``
tells the whole story.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, LiteralString, TypeVar

import psycopg
from psycopg import sql
from pydantic import TypeAdapter

from statecharts import (
    Batch,
    PersistedSession,
    SessionCheckpoint,
    SessionConfig,
    SessionError,
    SessionHead,
    SessionHolder,
    SessionId,
    SessionListing,
    SessionLocked,
    SessionNotFound,
    SessionState,
    TimestampedEvent,
    append_one_by_one,
)
from statecharts.state import TERMINAL_STATUSES

from .._errors import StorageError
from .._files import checked_id
from .._ownership import DEFAULT_LEASE, Owner, is_gone, this_process
from .._rules import checked_append, checked_events
from ._appends import Append, GroupAppender
from ._connections import ConnectionPool, database_errors, parse_location
from ._errors import ConcurrentModification
from ._heartbeat import Heartbeat
from ._queries import INSERT_EVENTS, LISTING, LISTING_OF, OWNER, RELEASE, TAKE, UPSERT
from ._records import STATE, event_json, events_json, parse
from ._schema import migrate

__all__ = ["PostgresSessionStorage"]

log = logging.getLogger("persistence.postgres")

BATCH: Final = 1000
"""Events read per query by ``load_events``."""

_STATE: Final[TypeAdapter[SessionState]] = TypeAdapter(SessionState)
_T = TypeVar("_T")


@dataclass(slots=True)
class _Held:
    """A session this store writes: the row's version, last seq and status as it last wrote them."""

    version: int
    last_seq: int
    status: str = "running"


class PostgresSessionStorage:
    """Sessions in a PostgreSQL database, shared by any number of processes and hosts.

    ``dsn`` is a libpq URL or conninfo string (``postgresql://user:pw@host/db``,
    optionally ``?schema=NAME``); ``schema`` (default ``sessionchart``) is
    where the tables live.  The schema is created or migrated when the first
    connection opens, unless ``migrate`` is false (then ``cook db migrate``
    does it).  ``lease`` is how long an owner is trusted after its last
    heartbeat; ``pool_size`` bounds the connections used at once, ``writers``
    the batches of appends written at once (see :mod:`persistence.postgres._appends`);
    with ``notify`` false, appends send no ``NOTIFY``.  Nothing connects before the
    first call.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        lease: float = DEFAULT_LEASE,
        pool_size: int = 10,
        migrate: bool = True,
        notify: bool = True,
        writers: int = 4,
    ) -> None:
        self.location = parse_location(dsn, schema)
        self.schema = self.location.schema
        self.channel = f"sessionchart.{self.schema}"
        self.lease = lease
        self.notify = notify
        self.token = secrets.token_hex(8)
        self.closed = False
        self._owner = this_process(self.token)
        self._held: dict[SessionId, _Held] = {}
        self._migrated = not migrate
        self._pool = ConnectionPool(self.location, pool_size, self._prepare)
        self._appender = GroupAppender(
            self._run_append,
            self.token,
            self.channel if notify else None,
            writers=max(1, min(writers, pool_size)),
        )
        self._heartbeat: Heartbeat | None = None
        self._damaged: dict[SessionId, SessionError] = {}

    def __repr__(self) -> str:
        return f"PostgresSessionStorage({self.location.description!r})"

    async def _prepare(self, connection: psycopg.AsyncConnection[Any]) -> None:
        if not self._migrated:
            await migrate(connection, self.schema)
            self._migrated = True

    async def migrate(self) -> list[int]:
        """Create or migrate the schema now; returns the versions applied (see ``schema``)."""
        async with self._pool.connection() as connection:
            with database_errors("migrate", self.location):
                applied = await migrate(connection, self.schema)
        self._migrated = True
        return applied

    # -- running queries ------------------------------------------------------------------
    async def _rows(
        self,
        action: str,
        query: LiteralString,
        params: dict[str, Any] | tuple[Any, ...],
        session_id: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) and return its rows."""
        with database_errors(action, self.location, session_id):
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query, params)
                return await cursor.fetchall() if cursor.description else []

    def _owner_params(self, session_id: str) -> dict[str, Any]:
        owner = self._owner
        return {
            "id": session_id,
            "host": owner.host,
            "pid": owner.pid,
            "started": owner.started,
            "token": self.token,
            "lease": self.lease,
            "gone": None,
        }

    async def _run_append(
        self, query: LiteralString, params: tuple[Any, ...], session_id: str | None
    ) -> list[tuple[Any, ...]]:
        return await self._rows("append to", query, params, session_id)

    # -- the spec's four ---------------------------------------------------------------
    async def save(self, session: PersistedSession) -> None:
        """Store ``session`` whole (row, events, latest checkpoint), replacing what was stored."""
        if not isinstance(session, PersistedSession):
            raise StorageError(f"expected a PersistedSession, got {type(session).__name__}")
        session_id = checked_id(session.id)
        batch = checked_append(  # a whole session: its events from seq 1
            session_id, session.events, session.state, last_seq=0, status="created"
        )
        finished = session.state.status in TERMINAL_STATUSES
        params = self._owner_params(session_id)
        last_seq = batch[-1].seq if batch else 0
        params.update(
            created_at=session.created_at,
            config=session.config.model_dump_json(),
            state=session.state.model_dump_json(),
            status=session.state.status,
            last=last_seq,
            checkpoint=session.checkpoints[-1].model_dump_json() if session.checkpoints else None,
        )
        if finished:
            params.update(host=None, pid=None, started=None, token=None)
        with database_errors("save", self.location, session_id):
            async with self._pool.connection() as connection, connection.transaction():
                cursor = await connection.execute(OWNER + " FOR UPDATE", (session_id,))
                row = await cursor.fetchone()
                if row is not None:
                    self._check_may_take(session_id, row)
                cursor = await connection.execute(UPSERT, params)
                stored = await cursor.fetchone()
                assert stored is not None
                if row is not None:
                    await connection.execute(
                        "DELETE FROM events WHERE session_id = %s", (session_id,)
                    )
                if batch:
                    await connection.execute(INSERT_EVENTS, (events_json(session_id, batch),))
        self._held.pop(session_id, None)
        if not finished:
            self._held[session_id] = _Held(stored[0], last_seq, session.state.status)
            self._start_heartbeat()

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        """The stored session with every event and its latest checkpoint, or None."""
        found = await self._head(session_id)
        if found is None:
            return None
        head, state = found
        events = [event async for event in self._events(head.id, 0)]
        return PersistedSession(
            id=head.id,
            config=head.config,
            state=state,
            created_at=head.created_at,
            events=tuple(events),
            checkpoints=(head.checkpoint,) if head.checkpoint else (),
        )

    async def list(self) -> list[SessionId]:
        """Every stored session, oldest first (ids are time-ordered)."""
        rows = await self._rows(
            "list the sessions", 'SELECT id FROM sessions ORDER BY id COLLATE "C"', ()
        )
        return [SessionId(row[0]) for row in rows]

    async def listing(
        self, ids: Sequence[SessionId] | None = None
    ) -> builtins.list[SessionListing]:
        """Every session (or those of ``ids``) at a glance (one query), oldest first.

        Unreadable rows are left out (:meth:`damaged` says why).
        """
        if ids is None:
            rows = await self._rows("list the sessions", LISTING, ())
            self._damaged = {}
        else:
            wanted = [checked_id(session_id) for session_id in ids]
            rows = await self._rows("list the sessions", LISTING_OF, (wanted,))
        listed = []
        for session_id, state, workflow, created_at, *owner_fields in rows:
            try:
                parsed = parse(STATE, state, session_id, "bad_document")
            except StorageError as error:
                self._damaged[SessionId(session_id)] = error
                continue
            holder, orphaned = self._holder(owner_fields)
            listed.append(
                SessionListing(
                    id=session_id,
                    state=parsed,
                    workflow=workflow or "",
                    created_at=created_at,
                    holder=holder,
                    orphaned=orphaned,
                )
            )
        return listed

    def _holder(self, fields: builtins.list[Any]) -> tuple[SessionHolder | None, bool]:
        """The live holder an owner's columns name (and whether a dead one holds it)."""
        host, pid, started, token, heartbeat, now = fields
        if token is None:
            return None, False
        owner = Owner(host=host, pid=pid, started=started or 0, token=token, heartbeat=heartbeat)
        if token != self.token and is_gone(owner, self.lease, now):
            return None, True
        return owner.holder(), False

    def damaged(self) -> dict[SessionId, SessionError]:
        """The sessions whose rows could not be read by the last listing."""
        return dict(self._damaged)

    async def append_many(self, batch: Batch) -> dict[SessionId, SessionError]:
        """One conditional append per session (each its own transaction)."""
        return await append_one_by_one(self, batch)

    async def delete(self, session_id: SessionId) -> None:
        """Forget a session and its events (``SessionLocked`` while another owner drives it)."""
        session_id = checked_id(session_id)
        with database_errors("delete", self.location, session_id):
            async with self._pool.connection() as connection, connection.transaction():
                cursor = await connection.execute(OWNER + " FOR UPDATE", (session_id,))
                row = await cursor.fetchone()
                if row is None:
                    return
                self._check_may_take(session_id, row)
                await connection.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
        self._held.pop(session_id, None)

    # -- events -------------------------------------------------------------------------
    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        """Insert ``events`` after the stored ones and move the row to ``state``, atomically.

        One statement, one round trip: it updates the row only if this store
        still owns it at the version it last wrote, inserts the events and
        notifies listeners.  Raises :class:`ConcurrentModification` when
        another writer got there first, ``StorageError`` when the seqs do not
        follow (or the server is unreachable: then nothing is known to be
        stored, and the next ``acquire`` reads the row again).
        """
        session_id = checked_id(session_id)
        if not checked_events(session_id, events, state):
            return
        held = self._held.get(session_id) or await self._take(session_id)
        batch = checked_append(
            session_id, events, state, last_seq=held.last_seq, status=held.status
        )
        last = batch[-1].seq
        finished = state.status in TERMINAL_STATUSES
        row = (
            f'{{"id":"{session_id}","version":{held.version},"after":{held.last_seq},'
            f'"last":{last},"state":{state.model_dump_json()},"status":"{state.status}",'
            f'"finished":{"true" if finished else "false"}}}'
        )
        item = Append(session_id, row, [event_json(session_id, e) for e in batch])
        try:
            version = await self._appender.append(item)
        except BaseException:
            self._held.pop(session_id, None)  # whatever happened, read the row again next time
            raise
        if version is None:
            await self._refused(session_id, held)
            return  # pragma: no cover - _refused always raises
        held.version, held.last_seq, held.status = version, last, state.status
        if finished:
            self._held.pop(session_id, None)

    async def _refused(self, session_id: SessionId, held: _Held) -> None:
        """Why an append changed nothing: raise the matching error."""
        self._held.pop(session_id, None)
        rows = await self._rows("read", OWNER, (session_id,), session_id)
        if not rows:
            raise SessionNotFound(session_id)
        host, pid, _, token, _, _, version, last_seq = rows[0]
        if (version, last_seq) != (held.version, held.last_seq):
            by = f", now driven by pid {pid} on {host}" if token else ""
            raise ConcurrentModification(
                session_id,
                f"expected version {held.version} at seq {held.last_seq}, "
                f"found version {version} at seq {last_seq}{by}",
            )
        raise SessionLocked(session_id, f"pid {pid} on {host}" if token else None)

    def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        """The events with ``seq > after_seq``, in order (read ``BATCH`` at a time)."""
        return self._events(session_id, after_seq)

    async def _events(
        self, session_id: SessionId, after_seq: int, up_to: int | None = None
    ) -> AsyncIterator[TimestampedEvent]:
        session_id = checked_id(session_id)
        after = max(int(after_seq), 0)
        first = True
        while True:
            rows = await self._rows(
                "read the events of",
                "SELECT seq, body::text FROM events WHERE session_id = %s AND seq > %s"
                " AND seq <= %s ORDER BY seq LIMIT %s",
                (session_id, after, up_to if up_to is not None else 2**62, BATCH),
            )
            if first and not rows and not await self._exists(session_id):
                raise SessionNotFound(session_id)
            first = False
            for seq, body in rows:
                yield parse(TimestampedEvent, body, session_id, "bad_event", seq)
            if len(rows) < BATCH:
                return
            after = rows[-1][0]

    async def positions(self) -> dict[SessionId, int]:
        """The last stored seq of every session (what a follower catches up to)."""
        rows = await self._rows("read the sessions", "SELECT id, last_seq FROM sessions", ())
        return {SessionId(session_id): last_seq for session_id, last_seq in rows}

    async def listener(self) -> psycopg.AsyncConnection[Any]:
        """A connection of its own, listening on the store's channel (the caller closes it).

        Each batch of appends notifies ``token sid:seq sid:seq...`` there.
        """
        connection = await self._pool.connect()
        try:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except psycopg.Error as error:
            await connection.close()
            raise StorageError(f"could not listen in {self.location}", cause=error) from error
        return connection

    async def _exists(self, session_id: SessionId) -> bool:
        return bool(await self._rows("read", "SELECT 1 FROM sessions WHERE id = %s", (session_id,)))

    # -- checkpoints --------------------------------------------------------------------
    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        """Keep ``checkpoint`` as the session's latest (its seq must be stored already)."""
        session_id = checked_id(session_id)
        if not isinstance(checkpoint, SessionCheckpoint):
            raise StorageError(f"expected a SessionCheckpoint, got {type(checkpoint).__name__}")
        held = self._held.get(session_id) or await self._take(session_id)
        if checkpoint.seq > held.last_seq:
            raise StorageError(
                f"a checkpoint at seq {checkpoint.seq}: session {session_id} ends at seq "
                f"{held.last_seq}"
            )
        rows = await self._rows(
            "save a checkpoint of",
            "UPDATE sessions SET checkpoint = %s::jsonb"
            " WHERE id = %s AND owner_token = %s AND version = %s RETURNING 1",
            (checkpoint.model_dump_json(), session_id, self.token, held.version),
            session_id,
        )
        if not rows:
            await self._refused(session_id, held)
        return checkpoint

    async def _head(self, session_id: SessionId) -> tuple[SessionHead, SessionState] | None:
        session_id = checked_id(session_id)
        rows = await self._rows(
            "read",
            "SELECT config::text, created_at, checkpoint::text, state::text"
            " FROM sessions WHERE id = %s",
            (session_id,),
        )
        if not rows:
            return None
        config, created_at, checkpoint, state = rows[0]
        head = SessionHead(
            id=session_id,
            config=parse(SessionConfig, config, session_id, "bad_document"),
            created_at=created_at,
            checkpoint=None
            if checkpoint is None
            else parse(SessionCheckpoint, checkpoint, session_id, "bad_checkpoint"),
        )
        return head, parse(STATE, state, session_id, "bad_document")

    async def load_head(self, session_id: SessionId) -> SessionHead | None:
        """The session's config and latest checkpoint, without its events."""
        found = await self._head(session_id)
        return None if found is None else found[0]

    # -- ownership ------------------------------------------------------------------------
    async def acquire(self, session_id: SessionId) -> int | None:
        """Become the session's writer (idempotent); returns its last stored seq.

        Raises ``SessionLocked`` while another owner's lease runs.  Once held,
        this answers from memory: a stale answer is caught by the next write.
        """
        session_id = checked_id(session_id)
        held = self._held.get(session_id) or await self._take(session_id)
        return held.last_seq

    async def _take(self, session_id: SessionId) -> _Held:
        """Own the session's row: free, ours, or its owner's lease expired (or it is gone)."""
        if self.closed:
            raise StorageError(f"the store is closed ({self.location})")
        params = self._owner_params(session_id)
        rows = await self._rows("take", TAKE, params, session_id)
        if not rows:
            found = await self._rows("read", OWNER, (session_id,), session_id)
            if not found:
                raise SessionNotFound(session_id)
            owner = self._check_may_take(session_id, found[0])
            params["gone"] = None if owner is None else owner.token
            rows = await self._rows("take", TAKE, params, session_id)
            if not rows:
                raise SessionLocked(session_id, None if owner is None else owner.holder())
        held = _Held(version=rows[0][1], last_seq=rows[0][0], status=rows[0][2])
        self._held[session_id] = held
        self._start_heartbeat()
        return held

    def _check_may_take(self, session_id: str, row: tuple[Any, ...]) -> Owner | None:
        """The owner a row names, if it is gone (None: no owner, or us); else ``SessionLocked``."""
        host, pid, started, token, heartbeat, now = row[:6]
        if token is None or token == self.token:
            return None
        owner = Owner(host=host, pid=pid, started=started or 0, token=token, heartbeat=heartbeat)
        if not is_gone(owner, self.lease, now):
            raise SessionLocked(session_id, owner.holder())
        return owner

    async def release(self, session_id: SessionId) -> None:
        """Stop being the session's writer (no-op when not held, or once closed)."""
        session_id = checked_id(session_id)
        self._held.pop(session_id, None)
        if not self.closed:
            await self._rows("release", RELEASE, {"token": self.token, "id": session_id})

    def held(self) -> tuple[SessionId, ...]:
        """The sessions this store instance writes now."""
        return tuple(self._held)

    # -- heartbeat ------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._heartbeat is None and not self.closed:
            self._heartbeat = Heartbeat(self.location, self.token, self.lease)

    def beat(self) -> None:
        """Refresh the heartbeat of every session this store owns now."""
        if self._heartbeat is not None:
            self._heartbeat.beat()

    # -- durability and the end -----------------------------------------------------------
    async def flush(self) -> None:
        """Nothing to do: every append is committed before it returns."""

    async def close(self) -> None:
        """Release every session this store owns, stop the heartbeat, close the connections."""
        if self.closed:
            return
        self.closed = True
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()
        self._held.clear()
        try:
            if heartbeat is not None:  # else it never owned a session: nothing to release
                await self._rows("release", RELEASE, {"token": self.token, "id": None})
        except StorageError as error:  # the leases run out on their own
            log.warning("could not release the sessions of %s: %s", self, error)
        finally:
            await self._pool.close()
