"""What a diagram must show, read straight from python-statemachine's definition of a chart.

Deliberately independent of ``statecharts.diagrams.model``: if the diagrams forget
a state or a transition, these sets still have it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from statemachine import HistoryState, State

from statecharts import SessionChart

from .charts import CHARTS

REPO = Path(__file__).resolve().parents[2]
ALL_CHARTS = (SessionChart, *CHARTS)

needs_dot = pytest.mark.needs_dot  # tests/conftest.py: skipped without dot, failed in CI


def chart_id(chart: type[Any]) -> str:
    """A readable test id."""
    return str(chart.__name__)


def all_states(chart: type[Any]) -> list[State]:
    """Every state and history pseudo-state, at every depth."""

    def walk(states: list[State]) -> Iterator[State]:
        for state in states:
            yield state
            yield from walk(list(state.states))
            yield from state.history

    return list(walk(list(chart.states)))


def is_container(state: State) -> bool:
    """Compound or parallel."""
    return bool(state.states)


def path(state: State) -> str:
    """Dotted ids from the outermost ancestor."""
    parts = [state.id]
    while state.parent is not None:
        state = state.parent
        parts.append(state.id)
    return ".".join(reversed(parts))


def leaves(chart: type[Any]) -> list[State]:
    """The states a table row is made for."""
    return [s for s in all_states(chart) if not is_container(s) and not isinstance(s, HistoryState)]


@dataclass(frozen=True)
class Expected:
    """One transition as a diagram must label it."""

    source: State
    target: State | None
    """None when the configuration stays: targetless, or an atomic state's internal loop."""
    events: tuple[str, ...]
    guards: tuple[str, ...]
    internal: bool

    @property
    def event(self) -> str:
        """The event ids, marked ``(internal)`` when the transition is internal."""
        text = ", ".join(self.events)
        return f"{text} (internal)" if self.internal else text

    @property
    def guard(self) -> str:
        """The guards, comma-separated."""
        return ", ".join(self.guards)

    @property
    def label(self) -> str:
        """``event [guard, ...]``, as Mermaid writes it."""
        return f"{self.event} [{self.guard}]" if self.guards else self.event


def _stays(t: Any) -> bool:
    return t.target is None or (bool(t.internal) and t.target is t.source and not t.source.states)


def transitions(chart: type[Any]) -> list[Expected]:
    """Every transition triggered by an event (not initial ones, not history defaults)."""
    return [
        Expected(
            t.source,
            None if _stays(t) else t.target,
            tuple(str(e) for e in t.events),
            tuple(str(c) for c in t.cond),
            bool(t.internal) or t.target is None,
        )
        for state in all_states(chart)
        for t in state.transitions
        if not t.initial and list(t.events)
    ]


def events(chart: type[Any]) -> list[str]:
    """Every event id of the chart."""
    return list(dict.fromkeys(str(e) for e in chart._events))
