"""The session lifecycle, declared as a statechart: states, then events, then guards.

This class is the single source of truth for what a session may do.  The
manager folds events with a table compiled from it (:mod:`statecharts._compiled`),
the diagrams are drawn from it, and the transition table in the docs is
generated from it.

>>> chart = SessionChart(max_iterations=2)
>>> chart.send("started"); chart.send("iteration_started", number=1)
>>> sorted(chart.configuration_values)
['iterating', 'running']
>>> chart.send("iteration_started", number=2)
Traceback (most recent call last):
...
statemachine.exceptions.TransitionNotAllowed: Can't Iteration started when in Running, Iterating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from statemachine import Event, HistoryState, State, StateChart

__all__ = [
    "ChartContext",
    "IterationCounter",
    "SessionChart",
    "count_completed_iteration",
    "iteration_is_next",
    "within_max_iterations",
]


class ChartContext(Protocol):
    """What the guards read and the actions update: the chart's model."""

    iterations_completed: int
    max_iterations: int


@dataclass(slots=True)
class IterationCounter:
    """The smallest :class:`ChartContext`, used when a chart is driven on its own."""

    max_iterations: int = 1
    iterations_completed: int = 0
    state: Any = None  # where python-statemachine keeps the configuration


# Guards and actions are plain functions, so that the compiled fold calls the very
# same code as the chart engine.  python-statemachine injects ``model`` and the
# event's keyword arguments by name.


def iteration_is_next(model: ChartContext, number: int) -> bool:
    """The iteration about to start follows the last completed one: no skip, no repeat."""
    return number == model.iterations_completed + 1


def within_max_iterations(model: ChartContext, number: int) -> bool:
    """The iteration about to start is within the session's budget."""
    return number <= model.max_iterations


def count_completed_iteration(model: ChartContext) -> None:
    """An iteration finished: the next one may start."""
    model.iterations_completed += 1


class SessionChart(StateChart[ChartContext]):
    """The lifecycle of one session.

    Strict: an event with no transition from the current configuration raises
    ``TransitionNotAllowed``; it is never silently ignored.
    """

    allow_event_without_transition = False
    catch_errors_as_events = False

    # -- States ------------------------------------------------------------------
    created = State(initial=True)

    class running(State.Compound):  # noqa: N801 - state ids are snake case
        """Between ``started`` and the end; remembers its sub-state across a pause."""

        idle = State(initial=True)
        iterating = State()
        h = HistoryState()  # shallow history: the sub-state left by `paused`
        h.to(idle)  # its default, before it remembers anything (SCXML requires one)

        # -- Events inside running ---------------------------------------------
        iteration_started = idle.to(iterating, cond=[iteration_is_next, within_max_iterations])
        iteration_completed = iterating.to(idle, on=count_completed_iteration)

    paused = State()
    completed = State(final=True)
    failed = State(final=True)

    # -- Events ------------------------------------------------------------------
    # Targetless transitions keep the configuration (and so the sub-state) as it is.
    # (python-statemachine types a compound state's ``to`` as the metaclass's, hence
    # the three ignores.)
    started = created.to(running)
    command_executed = running.to(None)  # type: ignore[arg-type]
    analysis_completed = running.to(None)  # type: ignore[arg-type]
    pause = Event(running.to(paused), id="paused")  # type: ignore[arg-type]
    resumed = paused.to(running.h)
    complete = Event(running.idle.to(completed), id="completed")
    fail = Event(created.to(failed) | running.to(failed) | paused.to(failed), id="failed")

    def __init__(
        self,
        model: ChartContext | None = None,
        *,
        max_iterations: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model if model is not None else IterationCounter(max_iterations=max_iterations),
            **kwargs,
        )
