"""Progress of a session, kept up to date from its events and nothing else.

:class:`ProgressTracker` is a small mutable fold over a session's events.  It is
also the chart's model (:class:`~statecharts.chart.ChartContext`): the chart's
guards read ``iterations_completed`` and ``max_iterations`` from it and the
chart's action counts completed iterations on it, so the chart and the progress
can never disagree on how far a session got.  :class:`SessionProgress` is the
immutable view of it that callers receive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import AwareDatetime, Field

from . import events as ev
from .changes import AnalysisResult, ExecutedCommand, IterationChanges
from .events import TimestampedEvent
from .record import Record
from .state import SessionState

__all__ = ["IterationMetrics", "ProgressTracker", "SessionProgress"]


class IterationMetrics(Record):
    """One iteration: when it ran, what it changed, what it ran.

    ``completed_at`` and ``changes`` are None while it runs.
    """

    number: int = Field(ge=1)
    started_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    changes: IterationChanges | None = None
    commands: tuple[ExecutedCommand, ...] = ()
    analysis: AnalysisResult | None = None

    @property
    def duration(self) -> timedelta | None:
        """Wall time of the iteration, once it completed."""
        return None if self.completed_at is None else self.completed_at - self.started_at


class SessionProgress(Record):
    """How far a session got, as of ``as_of``.

    ``duration`` counts the time spent running (paused time excluded); while
    the session runs, ``running_since`` says since when, so the live duration
    is ``duration + (now - as_of)``.
    """

    state: SessionState
    iterations_completed: int = Field(ge=0)
    total_iterations: int = Field(ge=1)
    files_changed: frozenset[Path] = frozenset()
    commands_executed: tuple[ExecutedCommand, ...] = ()
    duration: timedelta = timedelta(0)
    current_phase: str | None = None
    iterations: tuple[IterationMetrics, ...] = ()
    started_at: AwareDatetime | None = None
    running_since: AwareDatetime | None = None
    last_analysis: AnalysisResult | None = None
    as_of: AwareDatetime


class ProgressTracker:
    """The mutable fold of one session's events into its progress (and the chart's model)."""

    __slots__ = (
        "_iteration_start",
        "accumulated",
        "commands",
        "current_iteration",
        "files_changed",
        "iterations",
        "iterations_completed",
        "last_analysis",
        "max_iterations",
        "phase",
        "running_since",
        "started_at",
    )

    def __init__(self, max_iterations: int) -> None:
        self.max_iterations = max_iterations
        self.iterations_completed = 0  # counted by the chart's own action
        self.current_iteration = 0
        self.files_changed: set[Path] | None = (
            None  # allocated on first use: idle sessions stay small
        )
        self.commands: list[ExecutedCommand] | None = None
        self.iterations: list[IterationMetrics] | None = None
        self.started_at: datetime | None = None
        self.running_since: datetime | None = None
        self.accumulated = timedelta(0)
        self.last_analysis: AnalysisResult | None = None
        self.phase: str | None = None
        self._iteration_start = 0  # index in commands where the running iteration's begin

    # -- the fold --------------------------------------------------------------------
    def apply(self, recorded: TimestampedEvent) -> None:
        """Fold one accepted event (after the chart's actions ran on this tracker)."""
        event, at = recorded.event, recorded.timestamp
        match event:
            case ev.CommandExecuted():
                self._command_executed(event, at)
            case ev.IterationStarted():
                self._iteration_started(event.number, at)
            case ev.IterationCompleted():
                self._iteration_completed(event.changes, at)
            case ev.AnalysisCompleted():
                self.last_analysis = event.results
                running = self._running_iteration()
                if running is not None and self.iterations is not None:
                    self.iterations[-1] = running.model_copy(update={"analysis": event.results})
            case ev.Started() | ev.Resumed():
                if self.started_at is None:
                    self.started_at = at
                self.running_since = at
                self.phase = (
                    self._iteration_phase() if self._running_iteration() else "between iterations"
                )
            case ev.Paused():
                self._stop_clock(at)
                self.phase = f"paused: {event.reason}" if event.reason else "paused"
            case ev.Completed() | ev.Failed():
                self._stop_clock(at)
                self.phase = event.kind

    def _iteration_phase(self) -> str:
        return f"iteration {self.current_iteration}/{self.max_iterations}"

    def _command_executed(self, event: ev.CommandExecuted, at: datetime) -> None:
        if self.commands is None:
            self.commands = []
        iterating = self._running_iteration() is not None
        self.commands.append(
            ExecutedCommand.trusted(
                command=event.command,
                success=event.success,
                duration=event.duration,
                output_size=event.output_size,
                exit_code=event.exit_code,
                iteration=self.current_iteration if iterating else None,
                timestamp=at,
            )
        )
        if iterating:
            self.phase = f"{self._iteration_phase()}: {event.command}"

    def _iteration_started(self, number: int, at: datetime) -> None:
        self.current_iteration = number
        self._iteration_start = len(self.commands or ())
        if self.iterations is None:
            self.iterations = []
        self.iterations.append(
            IterationMetrics.trusted(
                number=number,
                started_at=at,
                completed_at=None,
                changes=None,
                commands=(),
                analysis=None,
            )
        )
        self.phase = self._iteration_phase()

    def _iteration_completed(self, changes: IterationChanges, at: datetime) -> None:
        running = self._running_iteration()
        assert running is not None and self.iterations is not None
        if changes.files_modified:
            if self.files_changed is None:
                self.files_changed = set()
            self.files_changed.update(changes.files_modified)
        self.iterations[-1] = running.model_copy(
            update={
                "completed_at": at,
                "changes": changes,
                "commands": tuple((self.commands or ())[self._iteration_start :]),
            }
        )
        self.phase = "between iterations"

    def _stop_clock(self, at: datetime) -> None:
        if self.running_since is not None:
            self.accumulated += at - self.running_since
            self.running_since = None

    def _running_iteration(self) -> IterationMetrics | None:
        if self.iterations and self.iterations[-1].completed_at is None:
            return self.iterations[-1]
        return None

    # -- reading ------------------------------------------------------------------------
    def duration(self, now: datetime | None = None) -> timedelta:
        """Time spent running up to ``now`` (paused time excluded)."""
        if self.running_since is None:
            return self.accumulated
        now = now or datetime.now(UTC)
        return self.accumulated + max(now - self.running_since, timedelta(0))

    def success_rate(self) -> float:
        """The share of executed commands that succeeded (1.0 when none ran)."""
        if not self.commands:
            return 1.0
        return sum(1 for c in self.commands if c.success) / len(self.commands)

    def total_commits(self) -> int:
        """How many commits the completed iterations made."""
        return sum(len(m.changes.git_commits) for m in self.iterations or () if m.changes)

    def snapshot(self, state: SessionState, now: datetime | None = None) -> SessionProgress:
        """The immutable progress as of ``now`` (default: the current time)."""
        now = now or datetime.now(UTC)
        return SessionProgress.trusted(
            state=state,
            iterations_completed=self.iterations_completed,
            total_iterations=self.max_iterations,
            files_changed=frozenset(self.files_changed or ()),
            commands_executed=tuple(self.commands or ()),
            duration=self.duration(now),
            current_phase=self.phase,
            iterations=tuple(self.iterations or ()),
            started_at=self.started_at,
            running_since=self.running_since,
            last_analysis=self.last_analysis,
            as_of=now,
        )

    @classmethod
    def from_progress(cls, progress: SessionProgress) -> ProgressTracker:
        """Rebuild the tracker that produced ``progress`` (used to restore checkpoints)."""
        tracker = cls(progress.total_iterations)
        tracker.iterations_completed = progress.iterations_completed
        tracker.files_changed = set(progress.files_changed) or None
        tracker.commands = list(progress.commands_executed) or None
        tracker.iterations = list(progress.iterations) or None
        tracker.started_at = progress.started_at
        tracker.running_since = progress.running_since
        tracker.accumulated = progress.duration
        if progress.running_since is not None:
            tracker.accumulated -= max(progress.as_of - progress.running_since, timedelta(0))
        tracker.last_analysis = progress.last_analysis
        tracker.phase = progress.current_phase
        if progress.iterations:
            tracker.current_iteration = progress.iterations[-1].number
        running = tracker._running_iteration()
        if running is not None:
            commands = tracker.commands or []
            tracker._iteration_start = next(
                (i for i, c in enumerate(commands) if c.iteration == running.number),
                len(commands),
            )
        return tracker

    def same_as(self, other: ProgressTracker) -> bool:
        """Whether two trackers folded the same history (used to verify replays)."""
        names = [n for n in self.__slots__ if n != "_iteration_start"]
        if self._running_iteration() is not None:  # only meaningful during an iteration
            names.append("_iteration_start")
        return all(getattr(self, name) == getattr(other, name) for name in names)
