"""Connections to the server: the store's location, a small pool, and errors made typed.

A store's location is a libpq URL (``postgresql://user:pw@host:5432/db`` or
``postgres://…``), optionally with ``?schema=NAME`` (this package's own
parameter, taken out before libpq sees the URL).  Connections are opened on
first use, in autocommit mode, with ``search_path`` set to the store's schema
and times in UTC; a connection the server dropped is thrown away when it comes
back to the pool, so the next use connects again (that is how a store recovers
once the server is back).  Every psycopg error becomes a
:class:`~persistence.StorageError` naming the server, never the password.

libpq quotes a location it cannot parse in its error, password and all, and it
splits an unescaped ``/``, ``@`` or ``?`` in a password differently from what
was meant (printing part of it as a host, port or database).  So a location
libpq cannot parse is refused without its message (and without chaining it),
and so is a URL whose password libpq would not read as written; a password
that still shows in a psycopg error is replaced by ``***``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import psycopg
from psycopg import AsyncConnection, errors, pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .._errors import StorageError
from ._errors import ConcurrentModification, StorageUnavailable
from ._schema import check_schema_name

__all__ = ["DEFAULT_SCHEMA", "ConnectionPool", "Location", "database_errors", "parse_location"]

DEFAULT_SCHEMA = "sessionchart"
"""The schema a store uses unless its URL or constructor names another."""

URL_SCHEMES = ("postgresql://", "postgres://")

INVALID_LOCATION = (
    "invalid PostgreSQL location (not shown: it may hold a password): write it as "
    "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with / @ : % ? # in the user or "
    "password percent-encoded (%2F %40 %3A %25 %3F %23)"
)


class Location:
    """Where a store is: the conninfo libpq gets, the schema, and a password-free description."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.schema = check_schema_name(schema)
        self.conninfo = make_conninfo(
            conninfo, options=f"-c search_path={self.schema} -c TimeZone=UTC"
        )
        params = conninfo_to_dict(conninfo)
        self._password = str(params.get("password") or "")
        host = params.get("host") or "localhost"
        port = params.get("port") or "5432"
        self.description = f"postgresql://{host}:{port}/{params.get('dbname') or ''} ({schema})"

    def __repr__(self) -> str:
        return self.description

    def scrub(self, error: BaseException) -> None:
        """Replace the password by ``***`` in ``error``'s message, should it be there."""
        if self._password and any(self._password in str(arg) for arg in error.args):
            error.args = tuple(str(arg).replace(self._password, "***") for arg in error.args)


def _meant_password(dsn: str) -> str | None:
    """The password a person meant in a URL, decoded; None when it has none.

    That is all of the user part (up to the *last* ``@``) after its first ``:``.
    """
    if not dsn.startswith(URL_SCHEMES):
        return None
    rest = dsn.split("://", 1)[1]
    if "@" not in rest:
        return None
    _, colon, password = rest.rsplit("@", 1)[0].partition(":")
    return unquote(password) if colon else None


def parse_location(dsn: str, schema: str | None = None) -> Location:
    """The :class:`Location` of ``dsn`` (``?schema=`` taken out), ``schema`` overriding it."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise StorageError(f"invalid PostgreSQL location {dsn!r}")
    meant = _meant_password(dsn)
    found = None
    if dsn.startswith(URL_SCHEMES) and "?" in dsn:
        base, _, query = dsn.partition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        found = next((value for key, value in pairs if key == "schema"), None)
        rest = urlencode([(key, value) for key, value in pairs if key != "schema"])
        dsn = f"{base}?{rest}" if rest else base
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        params = None  # its message quotes the location: raised below, outside this handler
    if params is None or (meant is not None and (params.get("password") or "") != meant):
        raise StorageError(INVALID_LOCATION)
    return Location(dsn, schema or found or DEFAULT_SCHEMA)


@contextmanager
def database_errors(action: str, where: Location, session_id: str | None = None) -> Iterator[None]:
    """Turn a psycopg error raised inside into a typed store error.

    A duplicate seq (the events' primary key) is a :class:`ConcurrentModification`;
    anything else is a ``StorageError``: :class:`StorageUnavailable` when the server is down or
    the connection dropped.
    """
    try:
        yield
    except errors.UniqueViolation as error:
        where.scrub(error)
        if session_id is None:
            raise StorageError(f"could not {action} in {where}", cause=error) from error
        raise ConcurrentModification(session_id, "its seq is taken") from error
    except psycopg.OperationalError as error:
        where.scrub(error)
        raise StorageUnavailable(f"could not {action} in {where}", cause=error) from error
    except psycopg.Error as error:
        where.scrub(error)
        raise StorageError(f"could not {action} in {where}", cause=error) from error


class ConnectionPool:
    """At most ``size`` connections to ``location``, opened when needed, shared by tasks.

    ``prepare`` runs on each new connection's first use (the schema migration).
    """

    def __init__(
        self,
        location: Location,
        size: int,
        prepare: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.location = location
        self.size = size
        self.closed = False
        self._prepare = prepare
        self._idle: list[AsyncConnection[Any]] = []
        self._count = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection for the duration of the block (returned to the pool after)."""
        connection = await self._get()
        try:
            yield connection
        finally:
            await self._put(connection)

    async def connect(self) -> AsyncConnection[Any]:
        """A new connection of the pool's own (not counted in it): the caller closes it."""
        with database_errors("connect", self.location):
            return await AsyncConnection.connect(self.location.conninfo, autocommit=True)

    async def _get(self) -> AsyncConnection[Any]:
        while True:
            if self.closed:
                raise StorageError(f"the store is closed ({self.location})")
            if self._idle:
                return self._idle.pop()
            if self._count < self.size:
                self._count += 1
                try:
                    connection = await self.connect()
                    try:
                        if self._prepare is not None:
                            await self._prepare(connection)
                    except BaseException:
                        await connection.close()
                        raise
                except BaseException:
                    self._count -= 1
                    self._wake()
                    raise
                return connection
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the turn on
                raise

    async def _put(self, connection: AsyncConnection[Any]) -> None:
        usable = (
            not self.closed
            and not connection.closed
            and connection.info.transaction_status == pq.TransactionStatus.IDLE
        )
        if usable:
            self._idle.append(connection)
        else:
            self._count -= 1
            if connection.broken:  # the server went away: the idle ones are dead too
                idle, self._idle = self._idle, []
                self._count -= len(idle)
                for other in idle:
                    await other.close()
            await connection.close()
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every idle connection; those in use are closed when they come back."""
        self.closed = True
        idle, self._idle = self._idle, []
        self._count -= len(idle)
        for connection in idle:
            await connection.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
