"""Mermaid ``stateDiagram-v2`` text, for Markdown pages that render Mermaid.

Compound states are ``state x { ... }`` blocks with their own ``[*] --> initial``
and their history pseudo-states as ``state "H" as h``; parallel regions are
separated by ``--``; a final state ``f`` gets ``f --> [*]``; every edge is
labelled with its event ids and guard names, and a targetless transition is a
self-loop marked ``(internal)``.  An edge is written inside the innermost block
that holds both its ends, which is where Mermaid expects it.
"""

from __future__ import annotations

from typing import Any

from statemachine import StateChart

from .dot import header
from .model import ChartGraph, Edge, describe

__all__ = ["to_mermaid"]

_PAD = "    "


def to_mermaid(chart_class: type[StateChart[Any]]) -> str:
    """The chart as Mermaid ``stateDiagram-v2`` text (deterministic).

    >>> from statecharts.chart import SessionChart
    >>> text = to_mermaid(SessionChart)
    >>> print(text.splitlines()[0])
    stateDiagram-v2
    >>> "idle --> iterating : iteration_started [iteration_is_next, within_max_iterations]" in text
    True
    """
    graph = describe(chart_class)
    out = ["stateDiagram-v2", f"{_PAD}%% {header(graph)}", f"{_PAD}direction LR"]
    _block(graph, None, graph.roots, _PAD, out)
    return "\n".join(out) + "\n"


def _scope(graph: ChartGraph, edge: Edge) -> str | None:
    """The innermost container holding both ends of an edge (None: the top level)."""
    target = edge.source if edge.target is None else edge.target
    holding_target = {target, *graph.ancestors(target)}
    return next((a for a in graph.ancestors(edge.source) if a in holding_target), None)


def _block(
    graph: ChartGraph, container: str | None, children: tuple[str, ...], pad: str, out: list[str]
) -> None:
    """The states, initial arrow, edges and final markers of one level."""
    node = None if container is None else graph.nodes[container]
    initial = graph.initial if node is None else node.initial
    if initial is not None:
        out.append(f"{pad}[*] --> {initial}")
    for index, child in enumerate(children):
        if node is not None and node.kind == "parallel" and index:
            out.append(f"{pad}--")
        _state(graph, child, pad, out)
    out.extend(pad + _edge(edge) for edge in graph.edges if _scope(graph, edge) == container)
    out.extend(f"{pad}{c} --> [*]" for c in children if graph.nodes[c].kind == "final")


def _state(graph: ChartGraph, node_id: str, pad: str, out: list[str]) -> None:
    node = graph.nodes[node_id]
    if node.is_pseudo:
        label = "H*" if node.kind == "deep_history" else "H"
        out.append(f'{pad}state "{label}" as {node_id}')
    elif node.is_container:
        out.append(f"{pad}state {node_id} {{")
        _block(graph, node_id, node.children, pad + _PAD, out)
        out.append(f"{pad}}}")
    else:
        out.append(f"{pad}{node_id}")


def _edge(edge: Edge) -> str:
    target = edge.source if edge.target is None else edge.target
    label = edge.label.replace("\n", " ").replace(":", "#58;").replace(";", "#59;")
    return f"{edge.source} --> {target}" + (f" : {label}" if label else "")
