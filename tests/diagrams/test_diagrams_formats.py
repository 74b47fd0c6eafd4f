"""Every state and every transition of a chart appears in every diagram format.

The expected states and transitions are read from the chart definition itself
(see ``expected.py``), so a state added to a chart cannot be forgotten by its
picture.  SessionChart is checked, and two other charts: a flat one and one with
nested compounds, deep history and a parallel state.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from statemachine import HistoryState, State

from statecharts import SessionChart
from statecharts._session import SESSION_TABLE
from statecharts.diagrams import describe, render, to_dot, to_mermaid, transition_table

from .drawn import parse_dot
from .expected import (
    ALL_CHARTS,
    Expected,
    all_states,
    chart_id,
    is_container,
    leaves,
    needs_dot,
    path,
    transitions,
)

charts = pytest.mark.parametrize("chart", ALL_CHARTS, ids=chart_id)


def _hist_label(state: HistoryState) -> str:
    return "H*" if state.type.is_deep else "H"


def _text(label: str) -> str:
    """The visible text of a DOT label (HTML-like or plain), lines joined by spaces."""
    if label.startswith("<") and label.endswith(">"):  # HTML-like
        return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", label[1:-1]).split()))
    return label.strip('"')


def _parse(dot: str) -> Any:
    return parse_dot(dot)


def _everything(graph: Any) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """Nodes by name, edges, and clusters by name, at every depth."""
    nodes: dict[str, Any] = {}
    edges: list[Any] = []
    clusters: dict[str, Any] = {}
    stack = [graph]
    while stack:
        holder = stack.pop()
        nodes.update({n.get_name(): n for n in holder.get_node_list()})
        edges.extend(holder.get_edge_list())
        for subgraph in holder.get_subgraph_list():
            clusters[subgraph.get_name()] = subgraph
            stack.append(subgraph)
    return nodes, edges, clusters


def _node_of(state: State, end: str) -> bool:
    """Whether DOT node ``end`` stands for ``state`` (a compound state's edges use anchors)."""
    return end == state.id or re.fullmatch(rf"{state.id}_anchor(_in|_out)?", end) is not None


def _edge_label(t: Expected) -> str:
    return f"{t.event} [{t.guard}]" if t.guards else t.event


# -- DOT ------------------------------------------------------------------------------


@charts
def test_dot_draws_every_state(chart: type[Any]) -> None:
    nodes, _, clusters = _everything(_parse(to_dot(chart)))
    for state in all_states(chart):
        if is_container(state):
            label = _text(clusters[f"cluster_{state.id}"].get("label"))
            assert label.startswith(state.id)
            continue
        node = nodes[state.id]
        if isinstance(state, HistoryState):
            assert _text(node.get("label")) == _hist_label(state)
        else:
            assert _text(node.get("label")).split(" ")[0] == state.id
            assert (node.get("peripheries") == "2") == bool(state.final)


@charts
def test_dot_draws_every_transition_with_its_event_and_guards(chart: type[Any]) -> None:
    nodes, edges, clusters = _everything(_parse(to_dot(chart)))
    for t in transitions(chart):
        if t.target is None:  # it stays: a line of its state's compartment
            holder = clusters.get(f"cluster_{t.source.id}") or nodes[t.source.id]
            assert _edge_label(t) in _text(holder.get("label")), t
        else:
            assert any(
                _node_of(t.source, e.get_source())
                and _node_of(t.target, e.get_destination())
                and _text(e.get("label")) == _edge_label(t)
                for e in edges
            ), t


@charts
def test_dot_draws_initial_and_history_pseudo_states(chart: type[Any]) -> None:
    nodes, edges, _ = _everything(_parse(to_dot(chart)))
    arrows = {(e.get_source(), e.get_destination()) for e in edges}
    initial = chart.initial_state
    assert any(s.startswith("__initial_") and _node_of(initial, d) for s, d in arrows)
    for state in all_states(chart):
        if is_container(state) and not state.parallel:
            first = next(s for s in state.states if s.initial)
            assert (f"__initial_{state.id}", first.id) in arrows or any(
                s == f"__initial_{state.id}" and _node_of(first, d) for s, d in arrows
            )
            assert nodes[f"__initial_{state.id}"].get("fillcolor") == "black"
        for history in state.history:
            default = history.transitions[0].target
            assert default is not None
            (edge,) = (e for e in edges if e.get_source() == history.id)
            assert _node_of(default, edge.get_destination())
            assert edge.get("style") == "dotted"


def test_dot_of_session_chart_reads_as_documented() -> None:
    dot = to_dot(SessionChart)
    assert dot.startswith("// generated from statecharts.SessionChart")
    nodes, edges, clusters = _everything(_parse(dot))
    running = _text(clusters["cluster_running"].get("label"))
    assert running == "running command_executed (internal) analysis_completed (internal)"
    (started,) = (e for e in edges if _text(e.get("label")) == "started")
    assert (started.get_source(), started.get("lhead")) == ("created", '"cluster_running"')
    assert nodes["completed"].get("peripheries") == "2"


def test_dot_text_names_no_memory_address() -> None:
    """The library names its helper nodes after ``id()``: renamed, the text is stable."""
    assert not re.search(r"\d{6,}", to_dot(SessionChart))
    assert "__initial_running" in to_dot(SessionChart)


# -- SVG (real Graphviz) ----------------------------------------------------------------


def _svg_texts(svg: bytes) -> tuple[dict[str, str], str]:
    """The visible text of each titled <g> of the SVG; and all of it."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups: dict[str, str] = {}
    for group in root.iter(f"{ns}g"):
        title = group.find(f"{ns}title")
        if title is not None and title.text:
            groups[title.text] = " ".join(t.text or "" for t in group.iter(f"{ns}text"))
    return groups, " ".join(t.text or "" for t in root.iter(f"{ns}text"))


@needs_dot
@charts
def test_svg_shows_every_state_and_transition(chart: type[Any]) -> None:
    groups, texts = _svg_texts(render(chart, "svg"))
    for state in all_states(chart):
        if is_container(state):
            assert groups[f"cluster_{state.id}"].startswith(state.id)
        elif isinstance(state, HistoryState):
            assert groups[state.id] == _hist_label(state)
        else:
            assert groups[state.id].startswith(state.id)
    for t in transitions(chart):
        assert t.event in texts
        if t.guards:
            assert f"[{t.guard}]" in texts


@needs_dot
@charts
def test_png_is_rendered(chart: type[Any]) -> None:
    assert render(chart, "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render(SessionChart, "pdf")  # type: ignore[arg-type]


# -- Mermaid ------------------------------------------------------------------------------


@charts
def test_mermaid_shows_every_state_and_transition(chart: type[Any]) -> None:
    text = to_mermaid(chart)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "stateDiagram-v2"
    assert f"[*] --> {chart.initial_state.id}" in lines
    for state in all_states(chart):
        if is_container(state):
            assert (
                f"state {state.id} {{" in lines or f'state "{state.id}" as {state.id} {{' in lines
            )
        elif isinstance(state, HistoryState):
            assert f'state "{_hist_label(state)}" as {state.id}' in lines
        else:
            assert re.search(rf"\b{state.id}\b", text)
        if state.final:
            assert f"{state.id} --> [*]" in lines
    for t in transitions(chart):
        target = t.source if t.target is None else t.target
        assert f"{t.source.id} --> {target.id} : {t.label}" in lines


# -- the transition table -----------------------------------------------------------------


def _rows(chart: type[Any]) -> list[tuple[str, ...]]:
    lines = transition_table(chart).splitlines()
    return [tuple(c.strip() for c in line.strip("|").split(" | ")) for line in lines[2:]]


@charts
def test_table_has_a_row_per_transition(chart: type[Any]) -> None:
    header = transition_table(chart).splitlines()[0].strip("|").split("|")
    assert [c.strip() for c in header] == ["State", "Event", "Guard", "Target"]
    rows = _rows(chart)
    for t in transitions(chart):
        target = t.source if t.target is None else t.target
        assert (t.source.id, t.event, t.guard, target.id) in rows, t
    assert len([r for r in rows if r[1]]) == len(transitions(chart))


def test_table_agrees_with_the_compiled_session_table() -> None:
    rows = _rows(SessionChart)
    for leaf in leaves(SessionChart):
        config = SESSION_TABLE.configuration(path(leaf).split("."))
        chain = {leaf.id, *(s.id for s in leaf.ancestors())}
        allowed = {event for state, event, _, _ in rows if state in chain and event}
        allowed = {e.removesuffix(" (internal)") for e in allowed}
        assert allowed == set(SESSION_TABLE.allowed_events(config))


# -- the model ----------------------------------------------------------------------------


def test_describe_refuses_what_is_not_a_chart() -> None:
    with pytest.raises(TypeError, match="chart class"):
        describe(object)  # type: ignore[arg-type]


def test_describe_names_states_and_events_by_id() -> None:
    graph = describe(SessionChart)
    assert [s.id for s in graph.states] == ["created", "running", "paused", "completed", "failed"]
    assert all(s.name == s.id for s in graph.states)
    (pause,) = (t for t in graph.transitions if t.targets == ["paused"])
    assert pause.event == "paused"  # the event's id, not its attribute (`pause`) nor its name
