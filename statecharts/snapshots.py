"""Records for queries and persistence: session info, checkpoints and what is stored."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from .config import SessionConfig
from .events import TimestampedEvent
from .ids import SessionId
from .progress import SessionProgress
from .record import Record
from .state import SessionState

__all__ = [
    "FORMAT_VERSION",
    "PersistedSession",
    "SessionCheckpoint",
    "SessionInfo",
    "StateSnapshot",
]

FORMAT_VERSION = 2
"""The version of the persisted format these records describe."""


class SessionInfo(Record):
    """A session at a glance: what ``list_active_sessions`` returns."""

    id: SessionId
    state: SessionState
    config: SessionConfig
    progress: SessionProgress


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
