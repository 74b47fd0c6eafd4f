"""The events a session records, one per accepted transition, tagged by ``kind``.

The ``kind`` of each event is its id in the chart, and the one vocabulary used
everywhere: the chart, the log, the signals and the CLI.  Events whose payload
has a natural empty value default to it (``IterationCompleted()`` means an
iteration that changed nothing).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from ._changes import AnalysisResult, IterationChanges
from ._config import SessionConfig
from ._record import Record

__all__ = [
    "EVENT_TYPES",
    "AnalysisCompleted",
    "CommandExecuted",
    "Completed",
    "Failed",
    "IterationCompleted",
    "IterationStarted",
    "Paused",
    "Resumed",
    "SessionEvent",
    "Started",
    "TimestampedEvent",
]


class Started(Record):
    """The session started running; ``config`` is filled in with the session's own."""

    kind: Literal["started"] = "started"
    config: SessionConfig | None = None


class IterationStarted(Record):
    """Iteration ``number`` (1-based, consecutive, at most ``max_iterations``) began."""

    kind: Literal["iteration_started"] = "iteration_started"
    number: int = Field(ge=1)


class IterationCompleted(Record):
    """The running iteration finished, having made ``changes``."""

    kind: Literal["iteration_completed"] = "iteration_completed"
    changes: IterationChanges = IterationChanges()


class AnalysisCompleted(Record):
    """An analysis of the project finished with ``results``."""

    kind: Literal["analysis_completed"] = "analysis_completed"
    results: AnalysisResult = AnalysisResult()


class CommandExecuted(Record):
    """A command ran; ``success`` says whether it did what it should."""

    kind: Literal["command_executed"] = "command_executed"
    command: str = Field(min_length=1)
    success: bool
    exit_code: int | None = None
    duration: timedelta = timedelta(0)
    output_size: int = Field(default=0, ge=0)
    output_tail: str = ""


class Paused(Record):
    """The session was paused, for ``reason`` (``interrupted`` after a crash)."""

    kind: Literal["paused"] = "paused"
    reason: str = ""


class Resumed(Record):
    """A paused session went back to running, in the sub-state it had left."""

    kind: Literal["resumed"] = "resumed"


class Completed(Record):
    """The session finished successfully.  Final."""

    kind: Literal["completed"] = "completed"


class Failed(Record):
    """The session failed with ``error``.  Final."""

    kind: Literal["failed"] = "failed"
    error: str = Field(min_length=1)


SessionEvent = Annotated[
    Started
    | IterationStarted
    | IterationCompleted
    | AnalysisCompleted
    | CommandExecuted
    | Paused
    | Resumed
    | Completed
    | Failed,
    Field(discriminator="kind"),
]
"""Any session event, discriminated by its ``kind``."""

EVENT_TYPES: Final[dict[str, type[Record]]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        Started,
        IterationStarted,
        IterationCompleted,
        AnalysisCompleted,
        CommandExecuted,
        Paused,
        Resumed,
        Completed,
        Failed,
    )
}
"""Event id → event class, in the order of the spec."""


class TimestampedEvent(Record):
    """An event as recorded: its per-session ``seq`` (gap-free, from 1) and when it happened."""

    seq: int = Field(ge=1)
    timestamp: AwareDatetime
    event: SessionEvent


session_event_adapter: Final[TypeAdapter[SessionEvent]] = TypeAdapter(SessionEvent)
"""Validates any event from a mapping or JSON (used for payloads read from outside)."""
