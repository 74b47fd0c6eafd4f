"""What the JSON API answers: the domain's own records, and a few rows built from them.

A session at length is the domain's :class:`~statecharts.SessionInfo`; an
event, its :class:`~statecharts.TimestampedEvent`.  A row of the sessions
table is a compact :class:`SessionRow` (a page of 50 full records would carry
50 configurations and progress histories the table does not show).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from statecharts import SessionHolder, SessionInfo, SessionState, TimestampedEvent

__all__ = [
    "ActionDone",
    "ChartMarks",
    "EventEntry",
    "EventsPage",
    "Problem",
    "SessionDetail",
    "SessionPage",
    "SessionRow",
    "StoreInfo",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class SessionRow(_Model):
    """One session in the sessions table."""

    id: str
    workflow: str
    status: str = Field(description="the state's status, or 'interrupted' (its process is gone)")
    state: SessionState
    iterations_completed: int
    total_iterations: int
    mode: Literal["direct", "worktree"]
    worktree: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    duration_seconds: float = Field(description="time spent running (paused time left out)")
    outcome: str = Field(description="the reason of a pause, the error of a failure, ...")
    holder: SessionHolder | None = None
    interrupted: bool = False
    actions: tuple[str, ...] = Field(default=(), description="the actions offered on it")


class SessionPage(_Model):
    """A page of the sessions table, newest first."""

    sessions: list[SessionRow]
    total: int = Field(description="sessions matching the filters, on every page")
    page: int
    per_page: int
    pages: int
    damaged: list[str] = Field(default=[], description="sessions the store could not read")


class ChartMarks(_Model):
    """Where a session is in the chart and where it went (what the picture marks)."""

    active: tuple[str, ...]
    history: dict[str, str] = Field(description="what the history state remembers, when paused")
    visited_states: tuple[str, ...]
    visited_transitions: tuple[tuple[str, str, str | None], ...]


class SessionDetail(_Model):
    """One session at length."""

    info: SessionInfo
    row: SessionRow
    last_seq: int
    chart: ChartMarks


class EventEntry(_Model):
    """One event of the log, with a line that tells it; a command's output tail left out."""

    seq: int
    timestamp: datetime
    kind: str
    text: str
    has_output: bool = Field(description="a command whose output tail /events/{seq} gives")
    event: TimestampedEvent


class EventsPage(_Model):
    """A stretch of a session's log, oldest first."""

    events: list[EventEntry]
    more: bool = Field(description="more events follow: ask again after the last seq")


class ActionDone(_Model):
    """What an action did."""

    session_id: str
    action: str
    status: str
    message: str


class Problem(_Model):
    """An error: what went wrong, in one line."""

    error: str
    status: int


class StoreInfo(_Model):
    """The store the dashboard shows (its location without a password)."""

    store: str
    kind: Literal["tinydb", "postgresql"]
    read_only: bool
    statuses: tuple[str, ...]
    actions: tuple[str, ...]
