"""Progress of a session, kept up to date from its events and nothing else.

:class:`ProgressTracker` is a small mutable fold over a session's events.  It is
also the chart's model (:class:`~statecharts.ChartContext`): the chart's
guards read ``iterations_completed`` and ``max_iterations`` from it and the
chart's action counts completed iterations on it, so the chart and the progress
can never disagree on how far a session got.  :class:`SessionProgress` is the
immutable view of it that callers receive.

Progress is bounded: it counts everything (iterations, commands, commits, lines)
but keeps only the most recent :data:`RECENT_ITERATIONS` iterations and
:data:`RECENT_COMMANDS` commands in full.  A checkpoint holds the progress, so its
size -- and the time to restore a session from it -- does not grow with the
session's log; the whole history stays in the log, one event per line.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from pydantic import AwareDatetime, Field

from . import _events as ev
from ._changes import AnalysisResult, ExecutedCommand, IterationChanges
from ._events import TimestampedEvent
from ._record import Record
from ._state import SessionState

__all__ = [
    "RECENT_COMMANDS",
    "RECENT_ITERATIONS",
    "IterationMetrics",
    "ProgressTracker",
    "SessionProgress",
]

RECENT_ITERATIONS = 100
"""How many of the latest iterations :class:`SessionProgress` keeps in full."""

RECENT_COMMANDS = 100
"""How many of the latest executed commands :class:`SessionProgress` keeps in full."""

_ITERATING = "\x00iterating"  # phase marker: "iteration i/N[: command]", built when read


class IterationMetrics(Record):
    """One iteration: when it ran, what it changed, what it ran.

    ``completed_at`` and ``changes`` are None while it runs.  ``paused`` is the
    time the session spent paused in the middle of it (``paused_since``: since
    when it is paused now), which its ``duration`` leaves out.
    """

    number: int = Field(ge=1)
    started_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    changes: IterationChanges | None = None
    commands: tuple[ExecutedCommand, ...] = ()
    analysis: AnalysisResult | None = None
    paused: timedelta = timedelta(0)
    paused_since: AwareDatetime | None = None

    @property
    def duration(self) -> timedelta | None:
        """Time spent working on the iteration (paused time left out), once it completed."""
        if self.completed_at is None:
            return None
        return self.completed_at - self.started_at - self.paused


class SessionProgress(Record):
    """How far a session got, as of ``as_of``.

    The counters (``iterations_completed``, ``commands_total``, ``commits_total``,
    ``lines_added``...) cover the whole session; ``commands_executed`` and
    ``iterations`` hold the latest :data:`RECENT_COMMANDS` commands and
    :data:`RECENT_ITERATIONS` iterations (the log has them all).

    ``duration`` counts the time spent running (paused time excluded); while
    the session runs, ``running_since`` says since when, so the live duration
    is ``duration + (now - as_of)``.
    """

    state: SessionState
    iterations_completed: int = Field(ge=0)
    total_iterations: int = Field(ge=1)
    files_changed: frozenset[Path] = frozenset()
    commands_executed: tuple[ExecutedCommand, ...] = ()
    commands_total: int = Field(default=0, ge=0)
    commands_succeeded: int = Field(default=0, ge=0)
    commits_total: int = Field(default=0, ge=0)
    lines_added: int = Field(default=0, ge=0)
    lines_removed: int = Field(default=0, ge=0)
    duration: timedelta = timedelta(0)
    current_phase: str | None = None
    iterations: tuple[IterationMetrics, ...] = ()
    started_at: AwareDatetime | None = None
    running_since: AwareDatetime | None = None
    last_analysis: AnalysisResult | None = None
    as_of: AwareDatetime

    @property
    def success_rate(self) -> float:
        """The share of all executed commands that succeeded (1.0 when none ran)."""
        return self.commands_succeeded / self.commands_total if self.commands_total else 1.0


class ProgressTracker:
    """The mutable fold of one session's events into its progress (and the chart's model)."""

    __slots__ = (
        "accumulated",
        "commands",
        "commands_succeeded",
        "commands_total",
        "commits_total",
        "current_iteration",
        "files_changed",
        "iteration_commands",
        "iterations",
        "iterations_completed",
        "last_analysis",
        "lines_added",
        "lines_removed",
        "max_iterations",
        "phase_command",
        "phase_text",
        "running_since",
        "started_at",
    )

    def __init__(self, max_iterations: int) -> None:
        self.max_iterations = max_iterations
        self.iterations_completed = 0  # counted by the chart's own action
        self.current_iteration = 0
        # allocated on first use: idle sessions stay small
        self.files_changed: set[Path] | None = None
        # the fold keeps plain tuples and objects; records are built when read
        self.commands: deque[_Command] | None = None
        self.iterations: deque[_Iteration] | None = None
        self.iteration_commands: list[_Command] | None = None  # the running iteration's
        self.commands_total = 0
        self.commands_succeeded = 0
        self.commits_total = 0
        self.lines_added = 0
        self.lines_removed = 0
        self.started_at: datetime | None = None
        self.running_since: datetime | None = None
        self.accumulated = timedelta(0)
        self.last_analysis: AnalysisResult | None = None
        # the phase, built when read: ``phase_text``, or _ITERATING and the last command
        self.phase_text: str | None = None
        self.phase_command: str | None = None

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
                if running is not None:
                    running.analysis = event.results
            case ev.Started() | ev.Resumed():
                if self.started_at is None:
                    self.started_at = at
                self.running_since = at
                running = self._running_iteration()
                if running is not None and running.paused_since is not None:
                    running.paused += at - running.paused_since
                    running.paused_since = None
                self.phase_text = _ITERATING if running else "between iterations"
                self.phase_command = None
            case ev.Paused():
                self._stop_clock(at)
                running = self._running_iteration()
                if running is not None:
                    running.paused_since = at
                self.phase_text = f"paused: {event.reason}" if event.reason else "paused"
            case ev.Completed() | ev.Failed():
                self._stop_clock(at)
                self.phase_text = event.kind

    @property
    def phase(self) -> str | None:
        """The human-readable phase (see ``docs/progress.md``)."""
        if self.phase_text is not _ITERATING:
            return self.phase_text
        text = f"iteration {self.current_iteration}/{self.max_iterations}"
        return f"{text}: {self.phase_command}" if self.phase_command is not None else text

    def _command_executed(self, event: ev.CommandExecuted, at: datetime) -> None:
        if self.commands is None:
            self.commands = deque(maxlen=RECENT_COMMANDS)
        running = self.iteration_commands
        command = (
            event.command,
            event.success,
            event.duration,
            event.output_size,
            event.exit_code,
            self.current_iteration if running is not None else None,
            at,
        )
        self.commands.append(command)
        self.commands_total += 1
        self.commands_succeeded += event.success
        if running is not None:
            running.append(command)
            self.phase_text, self.phase_command = _ITERATING, event.command

    def _iteration_started(self, number: int, at: datetime) -> None:
        self.current_iteration = number
        if self.iterations is None:
            self.iterations = deque(maxlen=RECENT_ITERATIONS)
        running = _Iteration(number, at)
        self.iterations.append(running)
        self.iteration_commands = running.commands
        self.phase_text, self.phase_command = _ITERATING, None

    def _iteration_completed(self, changes: IterationChanges, at: datetime) -> None:
        running = self._running_iteration()
        assert running is not None
        if changes.files_modified:
            if self.files_changed is None:
                self.files_changed = set()
            self.files_changed.update(changes.files_modified)
        self.commits_total += len(changes.git_commits)
        self.lines_added += changes.lines_added
        self.lines_removed += changes.lines_removed
        running.completed_at, running.changes = at, changes
        self.iteration_commands = None
        self.phase_text = "between iterations"

    def _stop_clock(self, at: datetime) -> None:
        if self.running_since is not None:
            self.accumulated += at - self.running_since
            self.running_since = None

    def _running_iteration(self) -> _Iteration | None:
        if self.iteration_commands is not None and self.iterations:
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
        return self.commands_succeeded / self.commands_total if self.commands_total else 1.0

    def snapshot(self, state: SessionState, now: datetime | None = None) -> SessionProgress:
        """The immutable progress as of ``now`` (default: the current time)."""
        now = now or datetime.now(UTC)
        return SessionProgress.trusted(
            state=state,
            iterations_completed=self.iterations_completed,
            total_iterations=self.max_iterations,
            files_changed=frozenset(self.files_changed or ()),
            commands_executed=tuple(_command_record(c) for c in self.commands or ()),
            commands_total=self.commands_total,
            commands_succeeded=self.commands_succeeded,
            commits_total=self.commits_total,
            lines_added=self.lines_added,
            lines_removed=self.lines_removed,
            duration=self.duration(now),
            current_phase=self.phase,
            iterations=tuple(i.record() for i in self.iterations or ()),
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
        if progress.commands_executed:
            tracker.commands = deque(
                map(_command_of, progress.commands_executed), maxlen=RECENT_COMMANDS
            )
        tracker.commands_total = progress.commands_total
        tracker.commands_succeeded = progress.commands_succeeded
        tracker.commits_total = progress.commits_total
        tracker.lines_added = progress.lines_added
        tracker.lines_removed = progress.lines_removed
        if progress.iterations:
            tracker.iterations = deque(map(_Iteration.of, progress.iterations), RECENT_ITERATIONS)
            last = tracker.iterations[-1]
            tracker.current_iteration = last.number
            if last.completed_at is None:  # an iteration was running
                tracker.iteration_commands = last.commands
        tracker.started_at = progress.started_at
        tracker.running_since = progress.running_since
        tracker.accumulated = progress.duration
        if progress.running_since is not None:
            tracker.accumulated -= max(progress.as_of - progress.running_since, timedelta(0))
        tracker.last_analysis = progress.last_analysis
        tracker.phase_text = progress.current_phase
        return tracker

    def same_as(self, other: ProgressTracker) -> bool:
        """Whether two trackers folded the same history (used to verify replays)."""
        return self.phase == other.phase and all(
            getattr(self, name) == getattr(other, name) for name in _FOLDED
        )


_Command = tuple[str, bool, timedelta, int, int | None, int | None, datetime]
"""An executed command as the fold keeps it: :class:`ExecutedCommand`'s fields, in order."""

_COMMAND_FIELDS = (
    "command",
    "success",
    "duration",
    "output_size",
    "exit_code",
    "iteration",
    "timestamp",
)


def _command_record(command: _Command) -> ExecutedCommand:
    return ExecutedCommand.trusted(**dict(zip(_COMMAND_FIELDS, command, strict=True)))


def _command_of(record: ExecutedCommand) -> _Command:
    return cast(_Command, tuple(getattr(record, name) for name in _COMMAND_FIELDS))


@dataclass(slots=True)
class _Iteration:
    """One iteration as the fold keeps it (mutable); :meth:`record` is its record."""

    number: int
    started_at: datetime
    completed_at: datetime | None = None
    changes: IterationChanges | None = None
    commands: list[_Command] = field(default_factory=list)
    analysis: AnalysisResult | None = None
    paused: timedelta = timedelta(0)
    paused_since: datetime | None = None

    def record(self) -> IterationMetrics:
        return IterationMetrics.trusted(
            number=self.number,
            started_at=self.started_at,
            completed_at=self.completed_at,
            changes=self.changes,
            commands=tuple(map(_command_record, self.commands)),
            analysis=self.analysis,
            paused=self.paused,
            paused_since=self.paused_since,
        )

    @classmethod
    def of(cls, metrics: IterationMetrics) -> _Iteration:
        return cls(
            metrics.number,
            metrics.started_at,
            metrics.completed_at,
            metrics.changes,
            list(map(_command_of, metrics.commands)),
            metrics.analysis,
            metrics.paused,
            metrics.paused_since,
        )


_FOLDED = tuple(n for n in ProgressTracker.__slots__ if not n.startswith("phase_"))
