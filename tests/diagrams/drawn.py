"""What a DOT text asks Graphviz to draw, and what Graphviz draws: to find drawing defects.

Two defects of python-statemachine 3.2's own DOT renderer on SessionChart are
what these helpers find (``defects``):

- an edge to a node that no statement declares (``running_anchor``): Graphviz
  creates it, and draws it as a visible ellipse named like no state;
- a state drawn inside the cluster of a compound state it does not belong to
  (``completed`` inside ``running``): in DOT, an edge statement inside a
  cluster pulls into it the nodes it names first.

``drawn_defects`` asks Graphviz itself (``dot -Tjson``) where it put each node.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pydot

from .expected import all_states

_DEFAULTS = {"node", "edge", "graph"}


def _subgraphs(graph: Any) -> Iterator[Any]:
    for subgraph in graph.get_subgraph_list():
        yield subgraph
        yield from _subgraphs(subgraph)


def _mentioned(graph: Any) -> set[str]:
    """The nodes a (sub)graph holds: by a node statement or an edge statement in it."""
    names = {n.get_name() for n in graph.get_node_list()} - _DEFAULTS
    for edge in graph.get_edge_list():
        names |= {edge.get_source(), edge.get_destination()}
    for subgraph in graph.get_subgraph_list():
        names |= _mentioned(subgraph)
    return names


def _is_helper(attrs: dict[str, Any]) -> bool:
    """An initial dot or an invisible anchor: drawn as no state."""
    shape, style, label = (str(attrs.get(k, "")).strip('"') for k in ("shape", "style", "label"))
    return style == "invis" or shape == "point" or (shape == "circle" and label == "")


def _owner(name: str, states: dict[str, Any]) -> tuple[Any, bool] | None:
    """The state a node stands for, and whether it is drawn inside that state's own cluster.

    A state's node is inside the clusters of its ancestors; a compound state's
    anchor (``running_anchor_in``) inside those and its own.
    """
    if name in states:
        return states[name], False
    anchor = re.fullmatch(r"(.+)_anchor(?:_in|_out)?", name)
    if anchor and anchor[1] in states:
        return states[anchor[1]], True
    return None


def _problems(
    nodes: dict[str, dict[str, Any]], clusters: dict[str, set[str]], chart: Any
) -> list[str]:
    states = {s.id: s for s in all_states(chart)}
    problems = [
        f"node {name!r} is drawn and is no state"
        for name, attrs in nodes.items()
        if name not in states and not _is_helper(attrs)
    ]
    for compound in (s for s in states.values() if s.states):
        inside = clusters.get(f"cluster_{compound.id}", set())
        for name in sorted(nodes):
            owner = _owner(name, states)
            if owner is None:
                continue
            state, own = owner
            belongs = compound in state.ancestors() or (own and state is compound)
            if belongs != (name in inside):
                where = "inside" if name in inside else "outside"
                problems.append(f"{name!r} is drawn {where} {compound.id!r}")
    return problems


def parse_dot(dot: str) -> pydot.Dot:
    """``dot`` read as Graphviz reads it, by pydot (no Graphviz needed): one graph."""
    graphs = pydot.graph_from_dot_data(dot)
    assert graphs is not None and len(graphs) == 1, "not one DOT graph"
    return graphs[0]


def defects(dot: str, chart: type[Any]) -> list[str]:
    """What is wrong in ``dot``, read as Graphviz reads it (no Graphviz needed)."""
    graph = parse_dot(dot)
    declared: dict[str, dict[str, Any]] = {}
    for holder in (graph, *_subgraphs(graph)):
        for node in holder.get_node_list():
            if node.get_name() not in _DEFAULTS:
                declared[node.get_name()] = node.get_attributes()
    nodes = {name: declared.get(name, {}) for name in _mentioned(graph)}
    clusters = {s.get_name(): _mentioned(s) for s in _subgraphs(graph)}
    return _problems(nodes, clusters, chart)


def drawn_defects(dot: str, chart: type[Any]) -> list[str]:
    """What is wrong in the picture Graphviz lays out from ``dot`` (needs ``dot``)."""
    layout = json.loads(
        subprocess.run(
            ["dot", "-Tjson"], input=dot, capture_output=True, text=True, check=True
        ).stdout
    )
    objects = layout.get("objects", [])
    count = layout.get("_subgraph_cnt", 0)
    nodes = {o["name"]: o for o in objects[count:]}
    clusters = {
        o["name"]: {objects[i]["name"] for i in o.get("nodes", [])} for o in objects[:count]
    }
    return _problems(nodes, clusters, chart)
