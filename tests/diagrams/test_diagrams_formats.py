"""Every state and every transition of a chart appears in every diagram format.

The expected states and transitions are read from the chart definition itself
(see ``expected.py``), so a state added to a chart cannot be forgotten by its
picture.  SessionChart is checked, and two other charts: a flat one and one with
nested compounds, deep history and a parallel state.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from statemachine import HistoryState, State

from statecharts import SESSION_TABLE
from statecharts.chart import SessionChart
from statecharts.diagrams import describe, render, to_dot, to_mermaid, transition_table
from statecharts.diagrams.table import ILLEGAL

from .expected import (
    ALL_CHARTS,
    all_states,
    chart_id,
    events,
    is_container,
    leaves,
    needs_dot,
    path,
    transitions,
)

charts = pytest.mark.parametrize("chart", ALL_CHARTS, ids=chart_id)

_DOT_EDGE = re.compile(r'^\s*"(?P<src>[^"]+)" -> "(?P<dst>[^"]+)"(?: \[(?P<attrs>.*)\])?;$')


def _unanchor(node_id: str) -> str:
    """The state an edge end stands for (a compound's edges attach to its initial dot)."""
    return node_id.removesuffix("/initial")


def _label(attrs: str | None) -> str | None:
    found = re.search(r'label="((?:[^"\\]|\\.)*)"', attrs or "")
    return None if found is None else found.group(1)


def _hist_label(state: State) -> str:
    return "H*" if state.type.is_deep else "H"


def _drawn_edges(chart: type[Any]) -> set[tuple[str, str, str]]:
    """(source, target, label) of every labelled edge a transition should draw as an arrow."""
    return {
        (t.source.id, (t.target or t.source).id, t.label)
        for t in transitions(chart)
        if not (t.target is None and is_container(t.source))
    }


# -- DOT ------------------------------------------------------------------------------


@charts
def test_dot_draws_every_state(chart: type[Any]) -> None:
    dot = to_dot(chart)
    for state in all_states(chart):
        if is_container(state):
            assert f'subgraph "cluster_{state.id}" {{' in dot
        else:
            line = next(x for x in dot.splitlines() if x.strip().startswith(f'"{state.id}" ['))
            if isinstance(state, HistoryState):
                assert f'label="{_hist_label(state)}"' in line
            else:
                assert f'label="{state.id}"' in line
            assert ("doublecircle" in line) == bool(state.final)


@charts
def test_dot_draws_every_transition_with_its_event_and_guards(chart: type[Any]) -> None:
    dot = to_dot(chart)
    drawn = set()
    for line in dot.splitlines():
        edge = _DOT_EDGE.match(line)
        if edge and (label := _label(edge["attrs"])):
            drawn.add((_unanchor(edge["src"]), _unanchor(edge["dst"]), label))
    assert drawn == _drawn_edges(chart)
    for t in transitions(chart):  # a compound's internal transitions are under its name
        if t.target is None and is_container(t.source):
            cluster = dot.split(f'subgraph "cluster_{t.source.id}" {{')[1].splitlines()[1]
            assert f"\\l{t.label}\\l" in cluster


@charts
def test_dot_draws_initial_and_history_pseudo_states(chart: type[Any]) -> None:
    dot = to_dot(chart)
    assert f'"/initial" -> "{chart.initial_state.id}' in dot
    for state in all_states(chart):
        if is_container(state) and not state.parallel:
            first = next(s for s in state.states if s.initial)
            assert f'"{state.id}/initial" -> "{first.id}' in dot
        for history in state.history:
            default = history.transitions[0].target
            assert f'"{history.id}" -> "{default.id}' in dot
            assert 'style="dotted"' in dot


def test_dot_of_session_chart_reads_as_documented() -> None:
    dot = to_dot(SessionChart)
    assert dot.startswith("// generated from statecharts.chart.SessionChart")
    expected = '"idle" -> "iterating" [label="iteration_started [iteration_is_next, '
    assert expected + 'within_max_iterations]"];' in dot
    assert "command_executed (internal)\\l" in dot
    assert '"paused" -> "h" [label="resumed"];' in dot
    assert '"completed" [shape="doublecircle"' in dot


# -- SVG (real Graphviz) ----------------------------------------------------------------


def _svg_groups(svg: bytes) -> tuple[dict[str, list[str]], list[str]]:
    """Each <g> of the SVG by its <title>, with its texts; and every text."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups: dict[str, list[str]] = {}
    for group in root.iter(f"{ns}g"):
        title = group.find(f"{ns}title")
        if title is not None and title.text:
            groups[title.text] = [t.text or "" for t in group.iter(f"{ns}text")]
    return groups, [t.text or "" for t in root.iter(f"{ns}text")]


@needs_dot
@charts
def test_svg_shows_every_state_and_transition(chart: type[Any]) -> None:
    svg = render(chart, "svg")
    groups, texts = _svg_groups(svg)
    for state in all_states(chart):
        if is_container(state):
            title = groups[f"cluster_{state.id}"][0]
            assert title in (state.id, f"{state.id} (parallel)")
        elif isinstance(state, HistoryState):
            assert groups[state.id] == [_hist_label(state)]
        else:
            assert groups[state.id] == [state.id]
    for t in transitions(chart):
        assert t.label in texts
    edges = {tuple(_unanchor(end) for end in title.split("->")) for title in groups}
    for source, target, _ in _drawn_edges(chart):
        assert (source, target) in edges


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
    lines = [line.strip() for line in to_mermaid(chart).splitlines()]
    assert lines[0] == "stateDiagram-v2"
    assert f"[*] --> {chart.initial_state.id}" in lines
    for state in all_states(chart):
        if is_container(state):
            assert f"state {state.id} {{" in lines
        elif isinstance(state, HistoryState):
            assert f'state "{_hist_label(state)}" as {state.id}' in lines
        else:
            assert state.id in lines
        if state.final:
            assert f"{state.id} --> [*]" in lines
    for source, target, label in _drawn_edges(chart):
        assert f"{source} --> {target} : {label}" in lines
    for t in transitions(chart):
        if t.target is None:
            assert f"{t.source.id} --> {t.source.id} : {t.label}" in lines


# -- the transition table -----------------------------------------------------------------


def _parse_table(markdown: str) -> dict[tuple[str, str], str]:
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in markdown.splitlines()]
    header, body = rows[0], rows[2:]
    return {
        (row[0].split("`")[1], event): cell
        for row in body
        for event, cell in zip(header[1:], row[1:], strict=True)
    }


@charts
def test_table_has_a_row_per_state_and_a_column_per_event(chart: type[Any]) -> None:
    table = transition_table(chart)
    header = table.splitlines()[0].strip("|").split(" | ")
    assert [c.strip() for c in header] == ["state", *events(chart)]
    cells = _parse_table(table)
    assert {state for state, _ in cells} == {path(leaf) for leaf in leaves(chart)}


@charts
def test_table_shows_every_transition_and_only_those(chart: type[Any]) -> None:
    cells = _parse_table(transition_table(chart))
    legal: set[tuple[str, str]] = set()
    for leaf in leaves(chart):
        chain = [leaf, *leaf.ancestors()]
        for t in transitions(chart):
            if t.source not in chain:
                continue
            for event in t.events:
                legal.add((path(leaf), event))
                cell = cells[path(leaf), event]
                if t.target is None:
                    assert "(no change)" in cell
                else:
                    assert t.target.id in cell
                if t.guards:
                    assert f"[{', '.join(t.guards)}]" in cell
    for key, cell in cells.items():
        assert (cell != ILLEGAL) == (key in legal), key


def test_table_agrees_with_the_compiled_session_table() -> None:
    cells = _parse_table(transition_table(SessionChart))
    for leaf in leaves(SessionChart):
        config = SESSION_TABLE.configuration(path(leaf).split("."))
        allowed = {event for (state, event), cell in cells.items() if state == path(leaf)}
        allowed = {e for e in allowed if cells[path(leaf), e] != ILLEGAL}
        assert allowed == set(SESSION_TABLE.allowed_events(config))


def test_table_of_session_chart_reads_as_documented() -> None:
    cells = _parse_table(transition_table(SessionChart))
    assert cells["created", "started"] == "`running.idle`"
    guarded = "`running.iterating [iteration_is_next, within_max_iterations]`"
    assert cells["running.idle", "iteration_started"] == guarded
    assert cells["running.iterating", "command_executed"] == "`(no change)`"
    assert cells["paused", "resumed"] == "`running.h (history)`"
    assert cells["running.iterating", "completed"] == ILLEGAL


# -- the model ----------------------------------------------------------------------------


def test_describe_refuses_what_is_not_a_chart_class() -> None:
    with pytest.raises(TypeError, match="chart class"):
        describe(SessionChart())  # type: ignore[arg-type]


def test_describe_lists_states_in_definition_order() -> None:
    graph = describe(SessionChart)
    expected = ["created", "running", "idle", "iterating", "h", "paused", "completed", "failed"]
    assert list(graph.nodes) == expected
    assert graph.nodes["running"].initial == "idle"
    assert graph.nodes["h"].is_pseudo
    assert graph.path("iterating") == "running.iterating"
