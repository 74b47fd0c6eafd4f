"""What the dashboard shows, read through the manager and the store's public API.

:class:`Dashboard` owns one store opened for reading (never written: in
``--read-only`` mode a TinyDB store is opened read-only) and a manager over it
opened without recovery, so that reading changes nothing.  An action opens a
manager of its own on a store of its own, as a ``cook`` command does, and
closes it when done (see :mod:`cook.ui.actions`).

Where a session is in the chart, and where it went, is folded from its log
by :class:`Trace`: the session rebuilt by ``statecharts._loading.load_session``
(the routine every reader uses) and its events replayed one by one, each
configuration read from the compiled chart — no rule is written twice here.
A trace is kept per session and carried on from its last seq.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from statecharts import (
    DurableSessionStorage,
    InMemorySessionManager,
    SessionError,
    SessionId,
    SessionInfo,
    SessionListing,
    SessionManager,
    SessionNotFound,
    SessionStorage,
    TimestampedEvent,
    Worktree,
    as_durable,
    events,
    is_session_id,
    state,
)
from statecharts._loading import load_session
from statecharts._session import LiveSession
from statecharts.diagrams import render_svg

from ..display import describe
from ..errors import printable
from ..outcome import step_timeouts
from ..store import is_database_url, open_for_reading, shown_location
from .feed import Feed, TinyDBPoller
from .models import ChartMarks, EventEntry, SessionDetail, SessionPage, SessionRow, StoreInfo

__all__ = [
    "MAX_PAGE_SIZE",
    "STATUSES",
    "BadRequest",
    "Dashboard",
    "Filters",
    "NotFound",
    "Trace",
    "check_id",
]

STATUSES: Final = tuple(cls.model_fields["status"].default for cls in state.STATE_TYPES)
"""Every status a session can have, read from the domain's states."""
TERMINAL: Final = state.TERMINAL_STATUSES
MAX_PAGE_SIZE: Final = 200
MAX_EVENTS: Final = 500
"""The most events one request of the log answers."""
TRACES: Final = 64
"""Sessions whose trace is kept."""


class BadRequest(ValueError):
    """The request is wrong: its message says how (400)."""


class NotFound(LookupError):
    """No such thing: the message says what (404)."""


def check_id(text: str) -> SessionId:
    """``text`` as a session id, or :class:`BadRequest` saying what an id is."""
    if not is_session_id(text):
        shown = printable(text if len(text) <= 40 else text[:37] + "...")
        raise BadRequest(
            f"invalid session id {shown!r}: an id is 26 letters and digits, "
            "as the sessions page lists them"
        )
    return SessionId(text)


@dataclass(frozen=True)
class Filters:
    """The sessions page's filters (those of ``cook sessions``) and its paging."""

    statuses: frozenset[str] = frozenset()
    workflow: str | None = None
    since: datetime | None = None
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        unknown = sorted(self.statuses - set(STATUSES))
        if unknown:
            raise BadRequest(
                f"unknown status {printable(unknown[0])!r}: choose among {', '.join(STATUSES)}"
            )
        if not 1 <= self.per_page <= MAX_PAGE_SIZE:
            raise BadRequest(f"per_page is from 1 to {MAX_PAGE_SIZE}, not {self.per_page}")
        if self.page < 1:
            raise BadRequest(f"page numbers start at 1, not {self.page}")


@dataclass
class Trace:
    """Where a session went: its replica, the states it was in, the transitions it took."""

    replica: LiveSession
    visited_states: set[str] = field(default_factory=set)
    steps: set[tuple[str, str, str | None]] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    async def start(cls, storage: DurableSessionStorage, session_id: SessionId) -> Trace:
        """The trace of a session before its first event."""
        replica = await load_session(storage, session_id, up_to=0)
        return cls(replica, set(replica.configuration.states))

    def fold(self, recorded: TimestampedEvent) -> None:
        """One more event: the step it took and the states it led to."""
        before = self.replica.configuration
        self.replica.replay([recorded])
        after = self.replica.configuration
        target = None if after is before else after.leaf  # interned: same object, targetless
        self.steps.add((before.leaf, recorded.event.kind, target))
        self.visited_states.update(after.states)

    def marks(self) -> ChartMarks:
        """What the picture marks now (the history's memory only while paused)."""
        configuration = self.replica.configuration
        paused = self.replica.state.status == "paused"
        return ChartMarks(
            active=configuration.states,
            history=configuration.history_dict() if paused else {},
            visited_states=tuple(sorted(self.visited_states)),
            visited_transitions=tuple(sorted(self.steps, key=lambda s: (s[0], s[1], s[2] or ""))),
        )


def chart_svg(marks: ChartMarks) -> str:
    """The chart drawn by Graphviz with ``marks`` (a few dozen pictures cover every session)."""
    return _svg(
        marks.active,
        tuple(sorted(marks.history.items())),
        marks.visited_states,
        marks.visited_transitions,
    )


@lru_cache(maxsize=256)
def _svg(
    active: tuple[str, ...],
    history: tuple[tuple[str, str], ...],
    visited_states: tuple[str, ...],
    visited_transitions: tuple[tuple[str, str, str | None], ...],
) -> str:
    svg = render_svg(
        active=active,
        history=dict(history),
        visited_states=visited_states,
        visited_transitions=visited_transitions,
    )
    return svg[svg.find("<svg") :]  # no XML prolog: the page puts it inline


_PASSWORDISH = re.compile(r"(://[^/\s:@]*:)[^@\s]*@")


class Dashboard:
    """The dashboard's reading side over the store at ``location`` (see the module)."""

    def __init__(
        self,
        location: str,
        storage: SessionStorage,
        manager: SessionManager,
        *,
        read_only: bool,
        actions: Iterable[str] = (),
    ) -> None:
        self.location = location
        self.storage = as_durable(storage)
        self.manager = manager
        self.read_only = read_only
        self.actions = () if read_only else tuple(actions)
        self.is_postgres = is_database_url(location)
        self.feed = Feed()
        self._poller: TinyDBPoller | None = None
        self._bridge: object | None = None
        self._traces: OrderedDict[SessionId, Trace] = OrderedDict()
        self.poll_seconds = 5.0 if self.is_postgres else 0.1

    @classmethod
    async def open(
        cls, location: str, *, read_only: bool, actions: Iterable[str] = ()
    ) -> Dashboard:
        """Open the store for reading (:class:`~cook.store.StoreNotFound` when there is none)."""
        storage = open_for_reading(location)  # reading never writes: the actions open their own
        manager = await InMemorySessionManager.open(storage, recover=False)
        return cls(location, storage, manager, read_only=read_only, actions=actions)

    # -- the change feed ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the change feed (in the server's event loop)."""
        self.feed.attach()
        if self.is_postgres:
            import persistence  # noqa: PLC0415 - psycopg only for a PostgreSQL store

            bridge = persistence.PostgresSignalBridge(self.storage)  # type: ignore[arg-type]
            await bridge.start()
            self._bridge = bridge
        else:
            location = self.location
            self._poller = TinyDBPoller(lambda: as_durable(open_for_reading(location)), self.feed)
            await self._poller.start()

    async def aclose(self) -> None:
        """Stop the feed and close the store."""
        if self._poller is not None:
            await self._poller.aclose()
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            await bridge.aclose()  # type: ignore[attr-defined]
        self.feed.detach()
        await self.manager.aclose()

    # -- reading ------------------------------------------------------------------------
    def store_info(self) -> StoreInfo:
        """The store shown, without a password."""
        return StoreInfo(
            store=shown_location(self.location),
            kind="postgresql" if self.is_postgres else "tinydb",
            read_only=self.read_only,
            statuses=STATUSES,
            actions=self.actions,
        )

    def scrub(self, text: str) -> str:
        """``text`` without the store's password (an error may quote the URL)."""
        if self.is_postgres and self.location in text:
            text = text.replace(self.location, shown_location(self.location))
        return _PASSWORDISH.sub(r"\1***@", text)

    async def page(self, filters: Filters) -> SessionPage:
        """A page of the sessions, newest first, as ``cook sessions`` lists them.

        The manager filters and pages: without a status or workflow filter, the
        page is chosen by id and only its sessions are read.
        """
        statuses, workflow, since = filters.statuses or None, filters.workflow, filters.since
        total = await self.manager.count_sessions(statuses, workflow=workflow, since=since)
        pages = max(1, math.ceil(total / filters.per_page))
        if filters.page > pages:
            raise NotFound(
                f"page {filters.page} is past the last page ({pages}) of {total} sessions"
            )
        infos = await self.manager.list_sessions(
            statuses,
            workflow=workflow,
            since=since,
            newest_first=True,
            offset=(filters.page - 1) * filters.per_page,
            limit=filters.per_page,
        )
        shown = [self.row(info) for info in infos]
        damaged = sorted(set(self.storage.damaged()) | set(self.manager.damaged))
        return SessionPage(
            sessions=shown,
            total=total,
            page=filters.page,
            per_page=filters.per_page,
            pages=pages,
            damaged=damaged,
        )

    async def _info(self, session_id: SessionId) -> SessionInfo | None:
        """The session's info, None when it is gone or damaged (``damaged`` names it)."""
        try:
            return await self.manager.get_info(session_id)
        except SessionError:
            return None

    def row(self, info: SessionInfo) -> SessionRow:
        """The table's row of a session."""
        progress = info.progress
        mode = info.config.execution_mode
        duration = progress.duration
        if progress.running_since is not None:  # live: as of now
            duration += datetime.now(UTC) - progress.as_of
        status = "interrupted" if info.interrupted else info.state.status
        return SessionRow(
            id=info.id,
            workflow=info.config.workflow.name,
            status=status,
            state=info.state,
            iterations_completed=progress.iterations_completed,
            total_iterations=progress.total_iterations,
            mode="worktree" if isinstance(mode, Worktree) else "direct",
            worktree=mode.name if isinstance(mode, Worktree) else None,
            created_at=info.created_at,
            started_at=progress.started_at,
            duration_seconds=round(duration.total_seconds(), 3),
            outcome=_outcome(info),
            holder=info.holder,
            interrupted=info.interrupted,
            actions=self.offered(info),
        )

    def offered(self, info: SessionInfo) -> tuple[str, ...]:
        """The actions the page offers on ``info`` (the manager still decides)."""
        from .actions import ACTIONS  # noqa: PLC0415 - actions import this module

        return tuple(
            name for name in self.actions if ACTIONS[name].offered(info.state.status, info)
        )

    async def _listed(self, session_id: SessionId) -> SessionListing:
        rows = await self.storage.listing([session_id])
        if not rows:
            if session_id in self.storage.damaged():
                raise SessionError(
                    f"session {session_id} is damaged: "
                    f"{self.scrub(str(self.storage.damaged()[session_id]))}"
                )
            raise SessionNotFound(session_id)
        return rows[0]

    async def trace(self, session_id: SessionId) -> Trace:
        """The session's trace, carried on to the end of its log."""
        trace = self._traces.get(session_id)
        if trace is None:
            trace = await Trace.start(self.storage, session_id)
            trace = self._traces.setdefault(session_id, trace)
            while len(self._traces) > TRACES:
                self._traces.popitem(last=False)
        self._traces.move_to_end(session_id)
        async with trace.lock:
            async for recorded in self.storage.load_events(session_id, trace.replica.last_seq):
                trace.fold(recorded)
        return trace

    async def detail(self, session_id: SessionId) -> SessionDetail:
        """One session at length."""
        await self._listed(session_id)  # one gone or damaged: its clear error first
        trace = await self.trace(session_id)
        info = await self.manager.get_info(session_id)
        return SessionDetail(
            info=info,
            row=self.row(info),
            last_seq=trace.replica.last_seq,
            chart=trace.marks(),
        )

    async def chart_svg(self, session_id: SessionId) -> str:
        """The chart with where the session is, and the path it took, marked."""
        marks = (await self.trace(session_id)).marks()
        return await asyncio.to_thread(chart_svg, marks)

    async def events(
        self, session_id: SessionId, after: int, limit: int
    ) -> tuple[list[EventEntry], bool]:
        """The events with ``seq > after``, oldest first, at most ``limit``; and whether more."""
        if not 1 <= limit <= MAX_EVENTS:
            raise BadRequest(f"limit is from 1 to {MAX_EVENTS}, not {limit}")
        if after < 0:
            raise BadRequest(f"after is a seq, 0 or more, not {after}")
        info = await self.manager.get_info(session_id)
        timeouts = step_timeouts(info.config)
        entries: list[EventEntry] = []
        more = False
        async for recorded in self.manager.stream_events(session_id, after, limit + 1):
            if len(entries) == limit:
                more = True
                break
            entries.append(entry(recorded, timeouts))
        return entries, more

    async def event(self, session_id: SessionId, seq: int) -> TimestampedEvent:
        """One event, whole (a command's output tail with it)."""
        if seq < 1:
            raise BadRequest(f"a seq is 1 or more, not {seq}")
        await self._listed(session_id)
        async for recorded in self.manager.stream_events(session_id, seq - 1, 1):
            return recorded
        raise NotFound(f"session {session_id} has no event {seq}")

    async def wait_for_status(
        self,
        session_id: SessionId,
        done: Callable[[SessionListing], bool],
        timeout: float,
        still: Callable[[], Awaitable[bool]] | None = None,
    ) -> SessionListing:
        """Wait until the session's row satisfies ``done`` (or ``still()`` says stop waiting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await self._listed(session_id)
            if done(row) or loop.time() >= deadline or (still is not None and not await still()):
                return row
            await asyncio.sleep(0.05)


def entry(recorded: TimestampedEvent, timeouts: dict[str, float] | None = None) -> EventEntry:
    """An event for the log: its line, and the event without its output tail."""
    event = recorded.event
    has_output = isinstance(event, events.CommandExecuted) and bool(event.output_tail)
    if has_output:
        recorded = recorded.model_copy(
            update={"event": event.model_copy(update={"output_tail": ""})}
        )
    return EventEntry(
        seq=recorded.seq,
        timestamp=recorded.timestamp,
        kind=event.kind,
        text=describe(recorded, timeouts),
        has_output=has_output,
        event=recorded,
    )


def _outcome(info: SessionInfo) -> str:  # noqa: PLR0911 - one return per status
    """The one line that says how a session ended, or why it stopped."""
    if info.interrupted:
        return "interrupted: the process that ran it is gone"
    match info.state:
        case state.Paused(reason=reason):
            return printable(reason) or "paused"
        case state.Failed(error=error):
            return printable(error)
        case state.Completed(summary=summary):
            return (
                f"{summary.total_iterations} iterations, "
                f"{summary.success_rate:.0%} of commands ok, {summary.total_commits} commits"
            )
        case state.Running():
            return printable(info.progress.current_phase or "")
        case state.Created():
            return ""
    reason = getattr(info.state, "reason", None)  # a final state the chart gained later
    return printable(reason) if isinstance(reason, str) else info.state.status
