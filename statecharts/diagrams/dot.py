"""Graphviz: DOT text written by our own code, and SVG/PNG rendered by the ``dot`` binary.

:func:`to_dot` needs nothing but the chart class.  :func:`render` pipes that text
through Graphviz's ``dot`` (via the ``graphviz`` package, imported only then) and
raises :class:`GraphvizNotInstalled` — with the command that installs it — when
``dot`` cannot be run.

Drawing conventions: compound states are clusters holding their sub-states, a
black dot for their initial pseudo-state and a circled ``H`` (``H*`` for deep) for
each history pseudo-state; final states are double circles; every edge is
labelled with its event ids and guard names, e.g. ``iteration_started
[iteration_is_next, within_max_iterations]``; a targetless transition is marked
``(internal)``: a dashed self-loop on an atomic state, and on a compound state a
line under its name (UML's internal-transition compartment: Graphviz cannot loop
an edge on a cluster); a history state's default is a dotted edge.
"""

from __future__ import annotations

from typing import Any, Literal

from statemachine import StateChart

from .model import ChartGraph, Edge, describe

__all__ = ["FORMATS", "GraphvizNotInstalled", "header", "pipe", "render", "to_dot"]

FORMATS: tuple[str, ...] = ("svg", "png")
"""The formats :func:`render` produces."""

_INSTALL_HINT = (
    "Graphviz's `dot` program is needed to render SVG or PNG, and it was not found on PATH. "
    "Install Graphviz: `apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` "
    "(macOS), `choco install graphviz` (Windows), or see https://graphviz.org/download/. "
    "DOT and Mermaid text do not need it."
)


class GraphvizNotInstalled(RuntimeError):
    """Rendering SVG or PNG was asked for, but Graphviz cannot be run.

    The message says how to install it.  :func:`to_dot` and the Mermaid and table
    generators never raise it.
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{_INSTALL_HINT}{f' ({detail})' if detail else ''}")


def header(graph: ChartGraph) -> str:
    """The one-line notice every generated file starts with (in its comment syntax)."""
    return f"generated from {graph.source} by `python -m statecharts.diagrams`; do not edit"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _q(text: str) -> str:
    """A DOT quoted string."""
    return f'"{_escape(text)}"'


def _attrs(**attrs: str | float) -> str:
    return "[" + ", ".join(f"{k}={_q(str(v))}" for k, v in attrs.items()) + "]"


def _initial_id(container: str | None) -> str:
    return f"{container}/initial" if container else "/initial"


def to_dot(chart_class: type[StateChart[Any]]) -> str:
    """The chart as Graphviz DOT text (deterministic: same chart, same text).

    >>> from statecharts.chart import SessionChart
    >>> dot = to_dot(SessionChart)
    >>> 'subgraph "cluster_running"' in dot
    True
    >>> '"idle" -> "iterating" [label="iteration_started [iteration_is_next,' in dot
    True
    """
    graph = describe(chart_class)
    out = [
        f"// {header(graph)}",
        f"digraph {_q(graph.name)} {{",
        "  graph "
        + _attrs(
            label=graph.name,
            labelloc="t",
            rankdir="LR",
            compound="true",
            fontname="Helvetica",
            nodesep=0.4,
            ranksep=0.5,
        )
        + ";",
        "  node " + _attrs(shape="box", style="rounded", fontname="Helvetica", fontsize=11) + ";",
        "  edge " + _attrs(fontname="Helvetica", fontsize=9) + ";",
    ]
    _initial(graph, None, graph.initial, "  ", out)
    for root in graph.roots:
        _state(graph, root, "  ", out)
    for edge in graph.edges:
        line = _edge(graph, edge)
        if line is not None:
            out.append(f"  {line};")
    out.append("}")
    return "\n".join(out) + "\n"


def _initial(
    graph: ChartGraph, container: str | None, target: str, pad: str, out: list[str]
) -> None:
    """The black dot of an initial pseudo-state and its arrow."""
    dot_id = _initial_id(container)
    out.append(f"{pad}{_q(dot_id)} {_attrs(shape='point', width=0.15, label='')};")
    arrow: dict[str, str | float] = {}
    if graph.nodes[target].is_container:
        arrow["lhead"] = f"cluster_{target}"
    edge = f"{_q(dot_id)} -> {_q(_anchor(graph, target))}"
    out.append(f"{pad}{edge}" + (f" {_attrs(**arrow)}" if arrow else "") + ";")


def _state(graph: ChartGraph, node_id: str, pad: str, out: list[str]) -> None:
    node = graph.nodes[node_id]
    if node.is_pseudo:
        label = "H*" if node.kind == "deep_history" else "H"
        attrs = _attrs(shape="circle", label=label, width=0.3, fixedsize="true", fontsize=10)
        out.append(f"{pad}{_q(node_id)} {attrs};")
    elif node.kind == "final":
        final = _attrs(shape="doublecircle", label=node_id, fontsize=10, margin=0.02)
        out.append(f"{pad}{_q(node_id)} {final};")
    elif node.kind == "atomic":
        out.append(f"{pad}{_q(node_id)} {_attrs(label=node_id)};")
    else:
        _cluster(graph, node_id, pad, out)


def _cluster(graph: ChartGraph, node_id: str, pad: str, out: list[str]) -> None:
    """A compound or parallel state: a cluster; its targetless transitions join its label."""
    node = graph.nodes[node_id]
    inner = pad + "  "
    out.append(f"{pad}subgraph {_q('cluster_' + node_id)} {{")
    title = f"{node_id} (parallel)" if node.kind == "parallel" else node_id
    internal = [e.label for e in graph.edges if e.source == node_id and e.targetless]
    if internal:  # a left-justified line (DOT's \\l) for the name and for each of them
        label = '"' + "".join(f"{_escape(line)}\\l" for line in [title, *internal]) + '"'
    else:
        label = _q(title)
    style = "rounded,dashed" if node.kind == "parallel" else "rounded"
    out.append(f'{inner}graph [label={label}, style={_q(style)}, fontsize="12"];')
    if node.initial is not None:
        _initial(graph, node_id, node.initial, inner, out)
    else:  # no initial dot to attach edges to: an invisible anchor
        anchor = _attrs(shape="point", style="invis", width=0.01, height=0.01, label="")
        out.append(f"{inner}{_q(node_id)} {anchor};")
    for child in node.children:
        _state(graph, child, inner, out)
    out.append(f"{pad}}}")


def _anchor(graph: ChartGraph, node_id: str) -> str:
    """The DOT node an edge to or from this state attaches to."""
    node = graph.nodes[node_id]
    return _initial_id(node_id) if node.kind == "compound" else node_id


def _inside(graph: ChartGraph, node_id: str, container: str) -> bool:
    return node_id == container or container in graph.ancestors(node_id)


def _edge(graph: ChartGraph, edge: Edge) -> str | None:
    """An edge statement, or None for a container's targetless transition (in its label)."""
    source = edge.source
    if edge.target is None and graph.nodes[source].is_container:
        return None
    target = source if edge.target is None else edge.target
    attrs: dict[str, str | float] = {}
    if edge.events or edge.guards:
        attrs["label"] = edge.label
    if graph.nodes[source].is_container and not _inside(graph, target, source):
        attrs["ltail"] = f"cluster_{source}"
    if graph.nodes[target].is_container and not _inside(graph, source, target):
        attrs["lhead"] = f"cluster_{target}"
    if edge.targetless:
        attrs["style"] = "dashed"
    elif not edge.events:  # a history state's default transition
        attrs["style"] = "dotted"
    line = f"{_q(_anchor(graph, source))} -> {_q(_anchor(graph, target))}"
    return line + (f" {_attrs(**attrs)}" if attrs else "")


def render(chart_class: type[StateChart[Any]], format: Literal["svg", "png"] = "svg") -> bytes:  # noqa: A002
    """The chart drawn by Graphviz, as SVG or PNG bytes.

    Raises :class:`GraphvizNotInstalled` when the ``dot`` program (or the
    ``graphviz`` Python package) is not available, and ``ValueError`` for a
    format other than ``"svg"`` or ``"png"``.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    return pipe(to_dot(chart_class), format)


def pipe(dot_source: str, format: str) -> bytes:  # noqa: A002
    """Run DOT text through Graphviz's ``dot`` and return its output."""
    try:
        import graphviz  # noqa: PLC0415 - only rendering needs it
    except ImportError as error:
        raise GraphvizNotInstalled(
            "the `graphviz` Python package is missing too: `pip install graphviz`"
        ) from error
    try:
        output: bytes = graphviz.Source(dot_source).pipe(format=format, quiet=True)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotInstalled(str(error)) from error
    return output
