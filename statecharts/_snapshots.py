"""Records for queries and persistence: session info, checkpoints and what is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, Field

from ._config import SessionConfig
from ._events import TimestampedEvent
from ._ids import SessionId
from ._progress import SessionProgress
from ._record import Record
from ._state import SessionState

__all__ = [
    "FORMAT_VERSION",
    "PersistedSession",
    "SessionCheckpoint",
    "SessionHolder",
    "SessionInfo",
    "StateSnapshot",
]

FORMAT_VERSION = 2
"""The version of the persisted format these records describe."""


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


class SessionHolder(Record):
    """Who drives a session: a store instance in process ``pid`` on ``host``.

    ``since`` is when it took the session, ``heartbeat`` when it last showed it
    is alive (None when the store cannot tell).
    """

    host: str
    pid: int = Field(ge=0)
    since: AwareDatetime | None = None
    heartbeat: AwareDatetime | None = None

    def describe(self, now: datetime | None = None) -> str:
        """``pid 4242 on build-7, since 2026-11-29 13:00:01 UTC, last heartbeat 3 s ago``."""
        now = now or datetime.now(UTC)
        text = f"pid {self.pid} on {self.host}"
        if self.since is not None:
            text += f", since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if self.heartbeat is not None:
            text += f", last heartbeat {_ago((now - self.heartbeat).total_seconds())}"
        return text


class SessionInfo(Record):
    """A session at a glance: what ``list_active_sessions`` returns.

    With a store: ``holder`` is the live process driving the session, if any;
    ``interrupted`` says that the process that drove it is gone without
    pausing it (it crashed) — its state still says ``running`` until a
    process that writes the store records it ``paused`` (reason
    ``interrupted``), as opening a store for writing does.
    """

    id: SessionId
    state: SessionState
    config: SessionConfig
    progress: SessionProgress
    created_at: AwareDatetime
    holder: SessionHolder | None = None
    interrupted: bool = False


class StateSnapshot(Record):
    """Everything needed to carry on from a point of a session's log without replaying it."""

    configuration: tuple[str, ...] = Field(min_length=1)
    history: dict[str, str] = Field(default_factory=dict)
    iteration: int = Field(ge=0)
    last_seq: int = Field(ge=0)
    state: SessionState
    progress: SessionProgress


class SessionCheckpoint(Record):
    """A snapshot of a session at ``seq``, taken at ``timestamp``.

    ``log_hash`` is the hash of the log up to and including ``seq`` as the store
    wrote it (None for stores that keep no log bytes); a checkpoint whose hash no
    longer matches its log is not used.  ``resumable`` is false for a finished session.
    """

    iteration: int = Field(ge=0)
    timestamp: AwareDatetime
    seq: int = Field(ge=0)
    state_snapshot: StateSnapshot
    resumable: bool
    log_hash: str | None = None


class PersistedSession(Record):
    """A whole session as a store keeps it: its config, state, events and checkpoints."""

    id: SessionId
    config: SessionConfig
    state: SessionState
    created_at: AwareDatetime
    events: tuple[TimestampedEvent, ...] = ()
    checkpoints: tuple[SessionCheckpoint, ...] = ()
    format_version: int = FORMAT_VERSION
