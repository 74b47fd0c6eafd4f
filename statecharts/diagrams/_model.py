"""The library's extracted model of a chart, made to speak the chart's own ids.

:func:`describe` runs python-statemachine's ``extract`` and changes three things,
the same for every renderer:

- states are named by their ids and transitions labelled by their event ids
  (``iteration_started``, not "Iteration started"): the vocabulary of the event
  log, the CLI and the docs;
- a transition that leaves the configuration as it is — targetless, or an internal
  self-transition — is kept, marked ``(internal)``; the library would drop an
  internal one that has no action, and draw a targetless one as a self-loop that
  reads like an exit and re-entry;
- every transition keeps its event ids (:class:`ChartTransition`), so that a step
  of a session's history can be found among them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeAlias

from statemachine import StateChart
from statemachine.contrib.diagram.extract import extract
from statemachine.contrib.diagram.model import (
    ActionType,
    DiagramGraph,
    DiagramState,
    DiagramTransition,
    StateType,
)
from statemachine.state import State
from statemachine.transition import Transition

__all__ = [
    "INTERNAL",
    "ChartRef",
    "ChartTransition",
    "all_states",
    "describe",
    "event_ids",
    "is_history",
    "stays",
]

ChartRef: TypeAlias = type[StateChart[Any]] | StateChart[Any]
"""A chart class, or a running chart (whose configuration is then highlighted)."""

INTERNAL = "(internal)"
"""The mark of a transition that leaves the configuration as it is."""


@dataclass
class ChartTransition(DiagramTransition):
    """The library's transition, with its event ids and whether it is internal.

    ``event`` is the label the renderers print: the event ids, comma-separated,
    then ``(internal)`` when :attr:`internal`.
    """

    event_ids: tuple[str, ...] = ()
    """The events that trigger it (none: an initial or a history default transition)."""
    internal: bool = False
    """Whether it is marked ``(internal)``: targetless, or declared internal."""


def describe(chart: ChartRef) -> DiagramGraph:
    """The library's model of a chart class (or instance), by ids; see the module's docstring.

    >>> from statecharts import SessionChart
    >>> graph = describe(SessionChart)
    >>> [state.id for state in graph.states]
    ['created', 'running', 'paused', 'completed', 'failed']
    >>> [t.event for t in graph.transitions if t.source == "running"][:2]
    ['command_executed (internal)', 'analysis_completed (internal)']
    """
    if not isinstance(chart, StateChart) and not (
        isinstance(chart, type) and issubclass(chart, StateChart)
    ):
        raise TypeError(f"expected a python-statemachine chart class, got {chart!r}")
    graph = extract(chart)
    for state in all_states(graph.states):
        state.name = state.id
        # internal transitions are drawn from the transitions themselves, once
        state.actions = [a for a in state.actions if a.type is not ActionType.INTERNAL]
    pairs = zip(graph.transitions, _transitions(chart.states), strict=True)
    graph.transitions = [_by_id(drawn, declared) for drawn, declared in pairs]
    return graph


def _transitions(states: Iterable[State]) -> Iterator[Transition]:
    """The chart's transitions in the order ``extract`` lists them."""
    for state in states:
        yield from state.transitions
        yield from _transitions(state.states)
        for history in state.history:
            yield from history.transitions


def _by_id(drawn: DiagramTransition, declared: Transition) -> ChartTransition:
    assert drawn.source == declared.source.id, (drawn, declared)
    copy = ChartTransition(**{f.name: getattr(drawn, f.name) for f in fields(drawn)})
    copy.event_ids = event_ids(declared)
    copy.internal = bool(declared.internal) or not drawn.targets
    if declared.internal and drawn.targets == [drawn.source] and not declared.source.states:
        copy.targets = []  # an atomic state's internal self-transition: it stays
    copy.is_internal = False  # every transition is drawn, internal ones included
    copy.event = ", ".join(copy.event_ids)
    if copy.internal:
        copy.event = f"{copy.event} {INTERNAL}".lstrip()
    return copy


def event_ids(transition: Transition) -> tuple[str, ...]:
    """The transition's event ids, without the dotted SCXML aliases of underscore ones."""
    ids = [str(event) for event in transition.events]
    known = set(ids)
    return tuple(dict.fromkeys(e for e in ids if not ("." in e and e.replace(".", "_") in known)))


def stays(transition: DiagramTransition) -> bool:
    """Whether the transition has no target: the configuration stays as it is."""
    return not transition.targets


def is_history(state: DiagramState) -> bool:
    """Whether the state is a history pseudo-state."""
    return state.type in (StateType.HISTORY_SHALLOW, StateType.HISTORY_DEEP)


def all_states(states: Iterable[DiagramState]) -> Iterator[DiagramState]:
    """Every state of a tree, in document order (parents before their children)."""
    for state in states:
        yield state
        yield from all_states(state.children)
