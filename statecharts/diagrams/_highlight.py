"""What a highlighted picture marks: the configuration, the history, the path taken.

:func:`mark` checks the names it is given against the chart — an unknown one is a
``ValueError``, not a picture that silently shows nothing — sets the library's
``is_active`` flag on the active states (and their ancestors: a configuration is
closed upwards), and returns the rest as :class:`Marks` for the DOT renderer.

A step of the path taken is ``(source, event, target)``.  It marks every
transition of the chart triggered by ``event`` whose source is ``source`` or one
of its ancestors, and whose target holds ``target`` (``None`` for a targetless
one): the states a session was in before and after an event name a step, for
instance ``("iterating", "paused", "paused")`` marks ``running -> paused``, and
``("paused", "resumed", "iterating")`` marks ``paused -> running.h``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from statemachine import StateChart
from statemachine.contrib.diagram.model import DiagramGraph, DiagramState, DiagramTransition

from ._model import ChartRef, ChartTransition, all_states, is_history

__all__ = ["Marks", "Step", "mark"]

Step: TypeAlias = tuple[str, str, str | None]
"""A transition taken: ``(source state, event id, target state or None)``."""


@dataclass(frozen=True)
class Marks:
    """What the DOT renderer marks, besides the active states."""

    visited_states: frozenset[str] = frozenset()
    """States the session has been in."""
    visited_transitions: tuple[DiagramTransition, ...] = ()
    """Transitions of the model taken so far (compared by identity)."""
    remembered: tuple[tuple[str, str], ...] = ()
    """``(history pseudo-state, the state it remembers)`` pairs."""

    def visited(self, transition: DiagramTransition) -> bool:
        """Whether ``transition`` (an object of the rendered model) was taken."""
        return any(transition is taken for taken in self.visited_transitions)


class _Tree:
    """The states of a model by id, with their parents."""

    def __init__(self, graph: DiagramGraph) -> None:
        self.name = graph.name
        self.states: dict[str, DiagramState] = {s.id: s for s in all_states(graph.states)}
        self.parent: dict[str, str | None] = dict.fromkeys(s.id for s in graph.states)
        for state in self.states.values():
            self.parent.update(dict.fromkeys((c.id for c in state.children), state.id))

    def check(self, name: str, what: str = "state") -> str:
        if name not in self.states:
            raise ValueError(f"{name!r} is not a {what} of {self.name}")
        if is_history(self.states[name]) != (what == "history state"):
            raise ValueError(f"{name!r} is not a {what} of {self.name}")
        return name

    def ancestors(self, name: str) -> Iterator[str]:
        parent = self.parent[name]
        while parent is not None:
            yield parent
            parent = self.parent[parent]

    def within(self, name: str, container: str) -> bool:
        """Whether ``name`` is ``container`` or one of its descendants."""
        return name == container or container in self.ancestors(name)

    def lands(self, target: str | None, transition: DiagramTransition) -> bool:
        """Whether taking ``transition`` may leave the session in ``target``."""
        if not transition.targets:
            return target is None or self.within(target, transition.source)
        if target is None:
            return False
        return any(self.within(target, self.scope(t)) for t in transition.targets)

    def scope(self, name: str) -> str:
        """Where entering ``name`` leads: a history pseudo-state, into its compound state."""
        return (self.parent[name] or name) if is_history(self.states[name]) else name


def mark(
    graph: DiagramGraph,
    chart: ChartRef,
    *,
    active: Iterable[str] | None = None,
    history: Mapping[str, str | Collection[str]] | None = None,
    visited_states: Iterable[str] = (),
    visited_transitions: Iterable[Step] = (),
) -> Marks:
    """Check the names against ``graph``, flag the active states, and return the other marks.

    ``active=None`` keeps the configuration the library read from a running chart
    (none for a class); ``history=None`` takes a running chart's history values.
    """
    tree = _Tree(graph)
    if active is not None:
        names = [tree.check(name) for name in active]
        closed = {up for name in names for up in (name, *tree.ancestors(name))}
        for state in tree.states.values():
            state.is_active = state.id in closed
    if history is None and isinstance(chart, StateChart):
        history = {h: [s.id for s in states] for h, states in chart.history_values.items()}
    remembered = [
        (tree.check(h, "history state"), tree.check(s))
        for h, values in (history or {}).items()
        for s in ([values] if isinstance(values, str) else values)
    ]
    for h, s in remembered:
        if not tree.within(s, tree.scope(h)):
            raise ValueError(f"history state {h!r} cannot remember {s!r}: not in its compound")
    return Marks(
        visited_states=frozenset(tree.check(name) for name in visited_states),
        visited_transitions=tuple(
            t for step in visited_transitions for t in _taken(tree, graph, step)
        ),
        remembered=tuple(remembered),
    )


def _taken(tree: _Tree, graph: DiagramGraph, step: Step) -> list[DiagramTransition]:
    source, event, target = step
    tree.check(source)
    if target is not None:
        tree.check(target)
    found: list[DiagramTransition] = [
        t
        for t in graph.transitions
        if isinstance(t, ChartTransition)
        and event in t.event_ids
        and tree.within(source, t.source)
        and tree.lands(target, t)
    ]
    if not found:
        raise ValueError(f"{graph.name} has no transition {source} --{event}--> {target}")
    return found
