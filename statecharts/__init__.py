"""sessionchart's domain: the session statechart, its records, signals and manager.

The domain imports neither storage nor the CLI: ``persistence`` implements the
:class:`SessionStorage` port defined here, and ``cook`` drives sessions by name
through :class:`SessionManager`.

Events and states share some names (``Paused``, ``Completed``, ``Failed``), as
in the spec's two enums; use them through their modules: ``events.Paused`` and
``state.Paused``.
"""

from . import events, signals, state
from .changes import AnalysisResult, CommitInfo, ExecutedCommand, IterationChanges
from .chart import ChartContext, IterationCounter, SessionChart
from .compiled import CompiledChart, Configuration
from .config import Direct, ExecutionMode, SessionConfig, SessionOptions, WorkflowConfig, Worktree
from .errors import IllegalTransition, InvalidEvent, ReplayError, SessionError, SessionNotFound
from .events import EVENT_TYPES, SessionEvent, TimestampedEvent
from .ids import SessionId, is_session_id, new_session_id
from .manager import INTERRUPTED, InMemorySessionManager, SessionManager, parse_event
from .observers import ObservableSessionManager, SessionObserver
from .progress import IterationMetrics, SessionProgress
from .session import SESSION_TABLE, LiveSession
from .snapshots import (
    FORMAT_VERSION,
    PersistedSession,
    SessionCheckpoint,
    SessionInfo,
    StateSnapshot,
)
from .state import SessionState, SessionSummary
from .storage import DurableSessionStorage, SessionHead, SessionLocked, SessionStorage

__all__ = [
    "EVENT_TYPES",
    "FORMAT_VERSION",
    "INTERRUPTED",
    "SESSION_TABLE",
    "AnalysisResult",
    "ChartContext",
    "CommitInfo",
    "CompiledChart",
    "Configuration",
    "Direct",
    "DurableSessionStorage",
    "ExecutedCommand",
    "ExecutionMode",
    "IllegalTransition",
    "InMemorySessionManager",
    "InvalidEvent",
    "IterationChanges",
    "IterationCounter",
    "IterationMetrics",
    "LiveSession",
    "ObservableSessionManager",
    "PersistedSession",
    "ReplayError",
    "SessionChart",
    "SessionCheckpoint",
    "SessionConfig",
    "SessionError",
    "SessionEvent",
    "SessionHead",
    "SessionId",
    "SessionInfo",
    "SessionLocked",
    "SessionManager",
    "SessionNotFound",
    "SessionObserver",
    "SessionOptions",
    "SessionProgress",
    "SessionState",
    "SessionStorage",
    "SessionSummary",
    "StateSnapshot",
    "TimestampedEvent",
    "WorkflowConfig",
    "Worktree",
    "events",
    "is_session_id",
    "new_session_id",
    "parse_event",
    "signals",
    "state",
]
