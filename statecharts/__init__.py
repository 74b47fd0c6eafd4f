"""sessionchart's domain: the session statechart, its records, signals and manager.

The domain imports neither storage nor the CLI: ``persistence`` implements the
:class:`SessionStorage` port defined here, and ``cook`` drives sessions by name
through :class:`SessionManager`.

Every public name of the domain has one home.  Most are here (``from
statecharts import InMemorySessionManager, SessionConfig``); the rest are in the
public modules :mod:`statecharts.events` and :mod:`statecharts.state` (the
event and state records, some of which share a name: ``events.Paused`` and
``state.Paused``), :mod:`statecharts.signals`, :mod:`statecharts.statuses` and
:mod:`statecharts.diagrams`.  Modules whose name starts with an underscore are
private: they may change without notice (see ``docs/api.md``).

Importing this package imports nothing else: each name is imported from its
private module when it is first used (PEP 562), so that ``import
statecharts.statuses`` costs no more than that small module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import events, signals, state
    from ._changes import AnalysisResult, CommitInfo, ExecutedCommand, IterationChanges
    from ._chart import ChartContext, IterationCounter, SessionChart
    from ._config import (
        Direct,
        ExecutionMode,
        SessionConfig,
        SessionOptions,
        WorkflowConfig,
        Worktree,
    )
    from ._errors import (
        IllegalTransition,
        InvalidEvent,
        ReplayError,
        SessionError,
        SessionNotFound,
    )
    from ._events import EVENT_TYPES, SessionEvent, TimestampedEvent
    from ._ids import SESSION_ID_PATTERN, SessionId, is_session_id, new_session_id
    from ._manager import INTERRUPTED, InMemorySessionManager, SessionManager, parse_event
    from ._observers import ObservableSessionManager, SessionObserver
    from ._progress import RECENT_COMMANDS, RECENT_ITERATIONS, IterationMetrics, SessionProgress
    from ._record import Record
    from ._snapshots import (
        FORMAT_VERSION,
        PersistedSession,
        SessionCheckpoint,
        SessionHolder,
        SessionInfo,
        StateSnapshot,
    )
    from ._state import SessionState, SessionSummary
    from ._storage import (
        Batch,
        DurableSessionStorage,
        SessionHead,
        SessionListing,
        SessionLocked,
        SessionStorage,
        append_one_by_one,
        as_durable,
        listing_by_loading,
    )

_HOMES: dict[str, tuple[str, ...]] = {
    # the module that defines them: the public names
    "_changes": ("AnalysisResult", "CommitInfo", "ExecutedCommand", "IterationChanges"),
    "_chart": ("ChartContext", "IterationCounter", "SessionChart"),
    "_config": (
        "Direct",
        "ExecutionMode",
        "SessionConfig",
        "SessionOptions",
        "WorkflowConfig",
        "Worktree",
    ),
    "_errors": (
        "IllegalTransition",
        "InvalidEvent",
        "ReplayError",
        "SessionError",
        "SessionNotFound",
    ),
    "_events": ("EVENT_TYPES", "SessionEvent", "TimestampedEvent"),
    "_ids": ("SESSION_ID_PATTERN", "SessionId", "is_session_id", "new_session_id"),
    "_manager": ("INTERRUPTED", "InMemorySessionManager", "SessionManager", "parse_event"),
    "_observers": ("ObservableSessionManager", "SessionObserver"),
    "_progress": ("RECENT_COMMANDS", "RECENT_ITERATIONS", "IterationMetrics", "SessionProgress"),
    "_record": ("Record",),
    "_snapshots": (
        "FORMAT_VERSION",
        "PersistedSession",
        "SessionCheckpoint",
        "SessionHolder",
        "SessionInfo",
        "StateSnapshot",
    ),
    "_state": ("SessionState", "SessionSummary"),
    "_storage": (
        "Batch",
        "DurableSessionStorage",
        "SessionHead",
        "SessionListing",
        "SessionLocked",
        "SessionStorage",
        "append_one_by_one",
        "as_durable",
        "listing_by_loading",
    ),
}
_MODULES = ("events", "signals", "state")
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "EVENT_TYPES",
    "FORMAT_VERSION",
    "INTERRUPTED",
    "RECENT_COMMANDS",
    "RECENT_ITERATIONS",
    "SESSION_ID_PATTERN",
    "AnalysisResult",
    "Batch",
    "ChartContext",
    "CommitInfo",
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
    "ObservableSessionManager",
    "PersistedSession",
    "Record",
    "ReplayError",
    "SessionChart",
    "SessionCheckpoint",
    "SessionConfig",
    "SessionError",
    "SessionEvent",
    "SessionHead",
    "SessionHolder",
    "SessionId",
    "SessionInfo",
    "SessionListing",
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
    "append_one_by_one",
    "as_durable",
    "events",
    "is_session_id",
    "listing_by_loading",
    "new_session_id",
    "parse_event",
    "signals",
    "state",
]

if not TYPE_CHECKING:  # for type checkers, the imports above are the names

    def __getattr__(name: str) -> Any:
        """Import ``name`` from its module on first use (and keep it here)."""
        if name in _MODULES:
            value = import_module(f"{__name__}.{name}")
        elif name in _WHERE:
            value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
