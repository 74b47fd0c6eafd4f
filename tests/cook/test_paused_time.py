"""#13.8 in the fold itself: an iteration's duration leaves out the time it was paused.

(``test_outcomes.py`` shows it end to end through ``cook``; here the clock is given.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statecharts import IterationMetrics, SessionEvent, TimestampedEvent, events
from statecharts._progress import ProgressTracker
from statecharts.state import Paused, Running

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fold(tracker: ProgressTracker, *timed: tuple[float, SessionEvent]) -> None:
    for seq, (seconds, event) in enumerate(timed, start=1):
        tracker.apply(TimestampedEvent(seq=seq, timestamp=at(seconds), event=event))


def test_the_paused_time_of_an_iteration_is_kept_apart() -> None:
    tracker = ProgressTracker(3)
    fold(
        tracker,
        (0, events.Started()),
        (0, events.IterationStarted(number=1)),
        (1, events.CommandExecuted(command="make", success=True)),
        (2, events.Paused(reason="lunch")),
    )
    paused = tracker.snapshot(Paused(reason="lunch", iteration=1), at(30))
    assert paused.iterations[0].paused_since == at(2)
    assert paused.iterations[0].paused == timedelta(0)

    restored = ProgressTracker.from_progress(paused)  # as from a checkpoint
    fold(
        restored,
        (12, events.Resumed()),
        (13, events.IterationCompleted()),
        (13, events.IterationStarted(number=2)),
        (14, events.IterationCompleted()),
    )
    first, second = restored.snapshot(Running(iteration=2), at(14)).iterations
    assert first.paused == timedelta(seconds=10) and first.paused_since is None
    assert first.duration == timedelta(seconds=3)  # 13 s of wall time, 10 of them paused
    assert second.paused == timedelta(0) and second.duration == timedelta(seconds=1)


def test_a_pause_between_iterations_belongs_to_none() -> None:
    tracker = ProgressTracker(2)
    fold(
        tracker,
        (0, events.Started()),
        (0, events.IterationStarted(number=1)),
        (1, events.IterationCompleted()),
        (2, events.Paused()),
        (9, events.Resumed()),
        (9, events.IterationStarted(number=2)),
        (10, events.IterationCompleted()),
    )
    first, second = tracker.snapshot(Running(iteration=2), at(10)).iterations
    assert first.duration == second.duration == timedelta(seconds=1)
    assert first.paused == second.paused == timedelta(0)


def test_a_record_stored_before_paused_time_existed_still_loads() -> None:
    stored = {"number": 1, "started_at": at(0).isoformat(), "completed_at": at(4).isoformat()}
    metrics = IterationMetrics.model_validate(stored)
    assert metrics.paused == timedelta(0) and metrics.paused_since is None
    assert metrics.duration == timedelta(seconds=4)
