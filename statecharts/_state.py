"""Where a session is: its state, tagged by ``status``, and the summary of a finished one.

The state classes are public as :mod:`statecharts.state` (``state.Paused``...), the union
and the summary as :data:`statecharts.SessionState` and :class:`statecharts.SessionSummary`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final, Literal

from pydantic import Field

from ._record import Record

__all__ = [
    "STATE_TYPES",
    "Completed",
    "Created",
    "Failed",
    "Paused",
    "Running",
    "SessionState",
    "SessionSummary",
]


class SessionSummary(Record):
    """What a completed session did, computed from its events."""

    total_iterations: int = Field(ge=0)
    files_changed: int = Field(ge=0)
    total_commits: int = Field(ge=0)
    duration: timedelta
    success_rate: float = Field(ge=0.0, le=1.0)


class Created(Record):
    """Created and not started yet."""

    status: Literal["created"] = "created"


class Running(Record):
    """Running: ``iteration`` is the current (or last finished) iteration, 0 before the first.

    ``phase`` tells whether an iteration is in progress (``iterating``) or not (``idle``).
    """

    status: Literal["running"] = "running"
    iteration: int = Field(ge=0)
    phase: Literal["idle", "iterating"] = "idle"


class Paused(Record):
    """Paused for ``reason``; ``resumed`` takes it back where it was."""

    status: Literal["paused"] = "paused"
    reason: str = ""
    iteration: int = Field(default=0, ge=0)


class Completed(Record):
    """Finished successfully.  Final."""

    status: Literal["completed"] = "completed"
    summary: SessionSummary


class Failed(Record):
    """Finished with an error.  Final."""

    status: Literal["failed"] = "failed"
    error: str


SessionState = Annotated[
    Created | Running | Paused | Completed | Failed, Field(discriminator="status")
]
"""Any session state, discriminated by its ``status``."""

STATE_TYPES: Final = (Created, Running, Paused, Completed, Failed)
"""The classes of :data:`SessionState`, for ``isinstance``."""
