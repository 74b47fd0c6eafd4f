"""A realistic stream of legal events, for tests, crash children and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Callable

from statecharts import (
    InMemorySessionManager,
    SessionEvent,
    SessionId,
    SessionState,
    TimestampedEvent,
    events,
    state,
)


def next_event(current: SessionState, completed: int, rng: random.Random) -> SessionEvent:
    """A legal next event for a session in ``current`` with ``completed`` iterations done."""
    match current:
        case state.Created():
            return events.Started()
        case state.Paused():
            return events.Resumed()
        case state.Running(phase="idle"):
            roll = rng.random()
            if roll < 0.02:
                return events.Paused(reason="lunch")
            if roll < 0.1:
                return events.AnalysisCompleted(results={"summary": "ok", "metrics": {"x": roll}})
            return events.IterationStarted(number=completed + 1)
        case state.Running():
            roll = rng.random()
            if roll < 0.02:
                return events.Paused(reason="coffee")
            if roll < 0.15:
                return events.IterationCompleted(
                    changes={"files_modified": [f"src/m{completed % 7}.py"], "lines_added": 3}
                )
            return events.CommandExecuted(
                command=f"make step-{int(roll * 100)}", success=roll < 0.9, exit_code=0
            )
    raise AssertionError(f"no event from {current!r}")


async def drive(
    manager: InMemorySessionManager,
    session_id: SessionId,
    count: int,
    rng: random.Random,
    on_ack: Callable[[TimestampedEvent], None] | None = None,
) -> None:
    """Record ``count`` events on a session with a huge iteration budget."""
    completed = (await manager.get_progress(session_id)).iterations_completed
    for _ in range(count):
        current = await manager.get_state(session_id)
        recorded = await manager.record_event(session_id, next_event(current, completed, rng))
        completed += recorded.event.kind == "iteration_completed"
        if on_ack is not None:
            on_ack(recorded)
