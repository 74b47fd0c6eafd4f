"""The library's DOT renderer, fixed for compound states, with the marks of a live view.

:class:`ChartDotRenderer` is python-statemachine's ``DotRenderer`` with the
smallest changes that make it draw compound states right, and deterministically
(``tests/diagrams/test_diagrams_defects.py`` finds the defects in the library's
own output):

- a transition that stays (targetless, or an atomic state's internal
  self-transition) is a line of its state's compartment, the library's own way of
  drawing internal actions.  The library drew a compound state's targetless
  transitions as edges to ``running_anchor``, a node no statement declares, so
  Graphviz drew it as a visible ellipse;
- an edge to a compound state with both incoming and outgoing edges attaches to
  its ``_anchor_in`` node (the library named the missing ``_anchor`` there too,
  for an initial arrow into such a state);
- edges are declared at the top level.  In DOT, an edge statement inside a
  cluster pulls into that cluster the nodes it names first: the library drew
  ``completed`` inside ``running``, the ``idle -> completed`` edge being declared
  while ``running`` is drawn;
- the top-level states are not held in one invisible cluster: a cluster is laid
  out as a block, which kept ``running`` from sitting between ``created`` and the
  final states and broke the left-to-right flow;
- the library names its helper nodes after memory addresses; they are renamed
  after their compound state, so the same chart always gives the same text;
- a history state's default transition is dotted, and the title is on top.

It adds the highlights a live view needs on top of the library's active-state
fill (:class:`~statecharts.diagrams.highlight.Marks`): an active compound state
is tinted, visited states and taken transitions are drawn in blue (a taken
internal transition is ticked, ✓), and a history state's memory is a dashed
edge.  Marked SVG elements carry a ``class`` (``active``, ``visited``,
``remembered``), for a stylesheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pydot
from statemachine.contrib.diagram.model import (
    ActionType,
    DiagramAction,
    DiagramGraph,
    DiagramState,
    DiagramTransition,
)
from statemachine.contrib.diagram.renderers.dot import DotRenderer, DotRendererConfig

from ._highlight import Marks
from ._model import all_states, is_history, stays

__all__ = ["ChartDotConfig", "ChartDotRenderer"]

_Element = TypeVar("_Element", pydot.Node, pydot.Subgraph)

_ADDRESSED = re.compile(r"(__initial_|___atomic_)(\d+)")
"""The library's helper names that end with a memory address."""


@dataclass
class ChartDotConfig(DotRendererConfig):
    """The library's DOT options (as its ``DotGraphMachine`` sets them), and our marks' colours."""

    state_font_size: str = "10"
    transition_font_size: str = "9"
    graph_attrs: dict[str, str] = field(default_factory=lambda: {"labelloc": "t", "fontsize": "14"})
    compound_active_fillcolor: str = "#e3f8f6"
    """The tint of an active compound state (its active sub-state is turquoise)."""
    visited_color: str = "#1f5fbf"
    """Visited states and taken transitions."""
    remembered_color: str = "#0b7f80"
    """The edge from a history state to the state it remembers."""


class ChartDotRenderer(DotRenderer):
    """The library's DOT renderer, fixed and with marks; see the module's docstring.

    :meth:`to_string` renders a model (which it changes: use each model once).
    """

    config: ChartDotConfig

    def __init__(self, config: ChartDotConfig | None = None, marks: Marks | None = None) -> None:
        super().__init__(config or ChartDotConfig())
        self.marks = marks or Marks()
        self._root: pydot.Dot | None = None
        self._names: dict[int, str] = {}
        self._history_ids: set[str] = set()
        self._highlighting = False

    def to_string(self, graph: DiagramGraph) -> str:
        """The DOT text of ``graph``."""
        text: str = self.render(graph).to_string()
        return _ADDRESSED.sub(lambda found: found[1] + self._names[int(found[2])], text)

    def render(self, graph: DiagramGraph) -> pydot.Dot:
        """The library's rendering, with staying transitions in compartments and the marks."""
        states = {state.id: state for state in all_states(graph.states)}
        self._history_ids = {i for i, state in states.items() if is_history(state)}
        for transition in filter(stays, graph.transitions):
            states[transition.source].actions.append(self._compartment_line(transition))
        graph.transitions = [t for t in graph.transitions if not stays(t)]
        self._highlighting = any(s.is_active for s in states.values()) or bool(
            self.marks.visited_states
        )
        dot: pydot.Dot = super().render(graph)
        _unwrap_top_level(dot)
        if self._highlighting:  # the clusters that hold sub-states inherit no marks
            for subgraph in _subgraphs(dot):
                if _name(subgraph).startswith("cluster___atomic_"):
                    subgraph.set("class", "")
        for history, state in self.marks.remembered:
            dot.add_edge(self._remembered_edge(history, state))
        return dot

    def _compartment_line(self, transition: DiagramTransition) -> DiagramAction:
        guards = f" [{', '.join(transition.guards)}]" if transition.guards else ""
        tick = "✓ " if self.marks.visited(transition) else ""
        return DiagramAction(type=ActionType.INTERNAL, body=f"{tick}{transition.event}{guards}")

    def _remembered_edge(self, history: str, state: str) -> pydot.Edge:
        edge = pydot.Edge(history, self._state_node_id(state), label="remembered")
        if state in self._compound_ids:
            edge.set("lhead", f"cluster_{state}")
        color = self.config.remembered_color
        for name, value in (("style", "dashed"), ("color", color), ("fontcolor", color)):
            edge.set(name, value)
        edge.set("penwidth", "2")
        edge.set("class", "remembered")
        return edge

    # -- the fixes -----------------------------------------------------------------------

    def _create_graph(self, name: str) -> pydot.Dot:
        self._root = super()._create_graph(name)
        self._names[id(self._root)] = ""
        return self._root

    def _add_transitions_for_state(
        self,
        state: DiagramState,
        all_transitions: list[DiagramTransition],
        graph: pydot.Dot | pydot.Subgraph,
    ) -> None:
        super()._add_transitions_for_state(state, all_transitions, self._root or graph)

    def _state_node_id(self, state_id: str) -> str:
        if state_id in self._compound_bidir_ids:
            return f"{state_id}_anchor_in"
        name: str = super()._state_node_id(state_id)
        return name

    # -- the marks -----------------------------------------------------------------------

    def _create_single_edge(
        self, transition: DiagramTransition, target_id: str | None, index: int, cond_html: str
    ) -> pydot.Edge:
        edge: pydot.Edge = super()._create_single_edge(transition, target_id, index, cond_html)
        if transition.source in self._history_ids:
            edge.set("style", "dotted")
        if self.marks.visited(transition):
            for name in ("color", "fontcolor"):
                edge.set(name, self.config.visited_color)
            edge.set("penwidth", "2.5")
            edge.set("class", "visited")
        return edge

    def _create_atomic_node(self, state: DiagramState) -> pydot.Node:
        node: pydot.Node = super()._create_atomic_node(state)
        return self._mark(node, state)

    def _create_history_node(self, state: DiagramState) -> pydot.Node:
        node: pydot.Node = super()._create_history_node(state)
        if any(history == state.id for history, _ in self.marks.remembered):
            node.set("color", self.config.remembered_color)
        return node

    def _create_compound_subgraph(self, state: DiagramState) -> pydot.Subgraph:
        subgraph: pydot.Subgraph = super()._create_compound_subgraph(state)
        self._names[id(subgraph)] = state.id
        if self._highlighting:  # not those of the cluster holding it: Graphviz passes them on
            subgraph.set("class", "")
            subgraph.set("color", "black")
        if state.is_active:
            subgraph.set("style", f"{subgraph.get('style')}, filled")
            subgraph.set("fillcolor", self.config.compound_active_fillcolor)
        return self._mark(subgraph, state)

    def _mark(self, element: _Element, state: DiagramState) -> _Element:
        visited = state.id in self.marks.visited_states
        if visited:
            element.set("color", self.config.visited_color)
        classes = [name for name, on in (("active", state.is_active), ("visited", visited)) if on]
        if classes:
            element.set("class", " ".join(classes))
        return element


def _unwrap_top_level(dot: pydot.Dot) -> None:
    """Make the library's invisible cluster of the top-level atomic states a plain subgraph."""
    for subgraph in dot.get_subgraph_list():
        if _name(subgraph).startswith("cluster___atomic_"):
            subgraph.set_name(_name(subgraph).removeprefix("cluster"))
            subgraph.get_attributes().pop("cluster", None)


def _subgraphs(graph: pydot.Dot | pydot.Subgraph) -> Iterator[pydot.Subgraph]:
    """Every subgraph of ``graph``, at every depth."""
    for subgraph in graph.get_subgraph_list():
        yield subgraph
        yield from _subgraphs(subgraph)


def _name(subgraph: pydot.Subgraph) -> str:
    return subgraph.get_name() or ""
