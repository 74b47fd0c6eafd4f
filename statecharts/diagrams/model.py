"""A chart class read once into a plain graph: the one input of every diagram format.

:func:`describe` walks a python-statemachine chart class — its states in
definition order, their sub-states, history pseudo-states and transitions — and
returns a :class:`ChartGraph`.  Every renderer works from it, so the DOT, Mermaid
and table outputs can never disagree, and the output is deterministic: nothing is
sorted by hash or address, everything follows the order of the class body.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from statemachine import StateChart
from statemachine.state import State
from statemachine.transition import Transition

__all__ = ["ChartGraph", "Edge", "StateKind", "StateNode", "describe"]

StateKind = Literal["atomic", "compound", "parallel", "final", "history", "deep_history"]
"""What a node of the chart is; history kinds are pseudo-states."""


@dataclass(frozen=True, slots=True)
class StateNode:
    """One state or history pseudo-state of a chart."""

    id: str
    kind: StateKind
    parent: str | None
    children: tuple[str, ...] = ()
    """Sub-states, then history pseudo-states, in definition order."""
    initial: str | None = None
    """The child a compound state enters first (None for other kinds)."""

    @property
    def is_pseudo(self) -> bool:
        """Whether this is a history pseudo-state rather than a state."""
        return self.kind in ("history", "deep_history")

    @property
    def is_container(self) -> bool:
        """Whether this state has sub-states (compound or parallel)."""
        return self.kind in ("compound", "parallel")


@dataclass(frozen=True, slots=True)
class Edge:
    """One transition: a source, a target (None when targetless), its events and guards.

    A history pseudo-state's default transition is an edge with no events.
    """

    source: str
    target: str | None
    events: tuple[str, ...]
    guards: tuple[str, ...] = ()
    internal: bool = False

    @property
    def targetless(self) -> bool:
        """Whether taking it leaves the configuration as it is."""
        return self.target is None

    @property
    def trigger(self) -> str:
        """The events and guards, e.g. ``iteration_started [iteration_is_next, within_max]``."""
        text = ", ".join(self.events)
        if self.guards:
            text = f"{text} [{', '.join(self.guards)}]".lstrip()
        return text

    @property
    def label(self) -> str:
        """:attr:`trigger`, marked ``(internal)`` when the configuration does not change."""
        if self.targetless or self.internal:
            return f"{self.trigger} (internal)".lstrip()
        return self.trigger


@dataclass(frozen=True, slots=True)
class ChartGraph:
    """A chart class as nodes and edges, in the order its class body declares them."""

    name: str
    """The chart class's name."""
    source: str
    """The chart class's qualified name, ``module.Class``."""
    nodes: dict[str, StateNode]
    """Every state and history pseudo-state by id, in document (pre-)order."""
    roots: tuple[str, ...]
    """The top-level states."""
    initial: str
    """The top-level initial state."""
    edges: tuple[Edge, ...]
    """Every transition except the implicit initial ones of compound states."""
    events: tuple[str, ...]
    """Every event id the chart accepts, in the chart's own order."""

    def path(self, node_id: str) -> str:
        """The dotted ids from the outermost ancestor, e.g. ``running.idle``."""
        parts = [node_id]
        parent = self.nodes[node_id].parent
        while parent is not None:
            parts.append(parent)
            parent = self.nodes[parent].parent
        return ".".join(reversed(parts))

    def ancestors(self, node_id: str) -> Iterator[str]:
        """The ids of a node's ancestors, innermost first."""
        parent = self.nodes[node_id].parent
        while parent is not None:
            yield parent
            parent = self.nodes[parent].parent

    def leaves(self) -> list[str]:
        """The states that are never containers: each is a row of the transition table."""
        return [n.id for n in self.nodes.values() if not n.is_container and not n.is_pseudo]

    def entered(self, node_id: str) -> str:
        """The leaf actually entered when a transition targets ``node_id``."""
        node = self.nodes[node_id]
        while node.kind == "compound" and node.initial is not None:
            node = self.nodes[node.initial]
        return node.id


def describe(chart_class: type[StateChart[Any]]) -> ChartGraph:
    """Read a python-statemachine chart class into a :class:`ChartGraph`.

    >>> from statecharts.chart import SessionChart
    >>> graph = describe(SessionChart)
    >>> graph.roots
    ('created', 'running', 'paused', 'completed', 'failed')
    >>> [edge.label for edge in graph.edges if edge.source == "idle"]
    ['iteration_started [iteration_is_next, within_max_iterations]', 'completed']
    """
    if not (isinstance(chart_class, type) and issubclass(chart_class, StateChart)):
        raise TypeError(f"expected a python-statemachine chart class, got {chart_class!r}")
    nodes: dict[str, StateNode] = {}
    edges: list[Edge] = []
    _walk(chart_class.states, None, nodes, edges)
    initial = chart_class.initial_state
    if initial is None:  # pragma: no cover - python-statemachine rejects such classes
        raise TypeError(f"{chart_class.__name__} has no initial state")
    return ChartGraph(
        name=chart_class.__name__,
        source=f"{chart_class.__module__}.{chart_class.__qualname__}",
        nodes=nodes,
        roots=tuple(s.id for s in chart_class.states),
        initial=initial.id,
        edges=tuple(edges),
        # the metaclass's ``events`` property is typed as the instance's method: read the dict
        events=tuple(dict.fromkeys(str(e) for e in chart_class._events)),
    )


def _walk(
    states: Iterable[State], parent: str | None, nodes: dict[str, StateNode], edges: list[Edge]
) -> None:
    for state in states:
        nodes[state.id] = _node(state, parent)
        edges.extend(_edge(t) for t in state.transitions if not t.initial)
        _walk(state.states, state.id, nodes, edges)
        for history in state.history:
            kind: StateKind = "deep_history" if history.type.is_deep else "history"
            nodes[history.id] = StateNode(history.id, kind, state.id)
            edges.extend(_edge(t) for t in history.transitions)


def _node(state: State, parent: str | None) -> StateNode:
    children = tuple(s.id for s in state.states) + tuple(h.id for h in state.history)
    if not state.states:
        return StateNode(state.id, "final" if state.final else "atomic", parent)
    if state.parallel:
        return StateNode(state.id, "parallel", parent, children)
    initial = next(
        (t.target.id for t in state.transitions if t.initial and t.target is not None),
        next((s.id for s in state.states if s.initial), state.states[0].id),
    )
    return StateNode(state.id, "compound", parent, children, initial)


def _edge(transition: Transition) -> Edge:
    target: State | None = transition.target
    return Edge(
        source=transition.source.id,
        target=None if target is None else target.id,
        events=_event_ids(transition),
        guards=tuple(str(spec) for spec in transition.cond if not spec.is_convention),
        internal=bool(transition.internal) and target is not None,
    )


def _event_ids(transition: Transition) -> tuple[str, ...]:
    """The transition's event ids, without the dotted SCXML aliases of underscore ones."""
    ids = [str(event) for event in transition.events]
    known = set(ids)
    return tuple(dict.fromkeys(e for e in ids if not ("." in e and e.replace(".", "_") in known)))
