"""The highlighted picture a live view shows: the configuration, the history, the path taken."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from statecharts import SessionChart
from statecharts.diagrams import render_svg, to_dot

from .charts import Factory
from .drawn import parse_dot
from .expected import needs_dot

TURQUOISE = "turquoise"  # the library's active fill
BLUE = '"#1f5fbf"'  # visited


def _parts(dot: str) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """Nodes and clusters by name, and edges, at every depth."""
    nodes: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    edges: list[Any] = []
    stack: list[Any] = [parse_dot(dot)]
    while stack:
        holder = stack.pop()
        nodes.update({n.get_name(): n for n in holder.get_node_list()})
        edges.extend(holder.get_edge_list())
        clusters.update({s.get_name(): s for s in holder.get_subgraph_list()})
        stack.extend(holder.get_subgraph_list())
    return nodes, clusters, edges


def _classes(element: Any) -> set[str]:
    return set(str(element.get("class") or "").strip('"').split())


def test_the_active_states_get_the_library_highlight() -> None:
    nodes, clusters, _ = _parts(to_dot(SessionChart, active=("running", "iterating")))
    assert nodes["iterating"].get("fillcolor") == TURQUOISE
    assert _classes(nodes["iterating"]) == {"active"}
    assert nodes["idle"].get("fillcolor") == "white"
    assert not _classes(nodes["idle"])
    running = clusters["cluster_running"]
    assert "filled" in running.get("style")
    assert _classes(running) == {"active"}
    assert not _classes(clusters["cluster___atomic_running"])  # Graphviz would pass it on


def test_a_leaf_implies_its_ancestors() -> None:
    assert to_dot(SessionChart, active=("iterating",)) == to_dot(
        SessionChart, active=("running", "iterating")
    )


def test_a_plain_diagram_has_no_highlight() -> None:
    dot = to_dot(SessionChart)
    assert TURQUOISE not in dot
    assert "class=" not in dot


def test_a_nested_inactive_cluster_is_not_tinted() -> None:
    _, clusters, _ = _parts(to_dot(Factory, active=("inspecting",), visited_states=("working",)))
    assert _classes(clusters["cluster_working"]) == {"active", "visited"}
    machining = clusters["cluster_machining"]
    assert not _classes(machining)
    assert machining.get("color") == "black"
    assert "filled" not in machining.get("style")


def test_visited_states_and_transitions_are_marked() -> None:
    dot = to_dot(
        SessionChart,
        visited_states=("created", "idle"),
        visited_transitions=[
            ("created", "started", "idle"),  # declared created -> running: idle is in running
            ("idle", "command_executed", "idle"),  # running's internal transition
            ("iterating", "paused", "paused"),  # declared on running
        ],
    )
    nodes, clusters, edges = _parts(dot)
    assert _classes(nodes["created"]) == {"visited"}
    assert nodes["created"].get("color") == BLUE
    assert not _classes(nodes["paused"])
    visited = {(e.get_source(), e.get_destination()) for e in edges if "visited" in _classes(e)}
    assert visited == {("created", "running_anchor_in"), ("running_anchor_out", "paused")}
    assert all(e.get("color") == BLUE for e in edges if "visited" in _classes(e))
    label = clusters["cluster_running"].get("label")
    assert "✓ command_executed (internal)" in label
    assert "✓ analysis_completed" not in label


def test_the_history_memory_is_an_edge() -> None:
    _, _, edges = _parts(to_dot(SessionChart, history={"h": "iterating"}))
    (memory,) = (e for e in edges if "remembered" in _classes(e))
    assert (memory.get_source(), memory.get_destination()) == ("h", "iterating")
    assert memory.get("style") == "dashed"


def test_a_remembered_compound_state_is_pointed_at_through_its_cluster() -> None:
    _, _, edges = _parts(to_dot(Factory, history={"hist": "machining"}))
    (memory,) = (e for e in edges if "remembered" in _classes(e))
    assert (memory.get_source(), memory.get_destination()) == ("hist", "machining_anchor_in")
    assert memory.get("lhead") == '"cluster_machining"'


def test_a_running_chart_shows_its_own_configuration_and_history() -> None:
    chart = SessionChart(max_iterations=2)
    chart.send("started")
    chart.send("iteration_started", number=1)
    chart.send("paused")
    nodes, _, edges = _parts(to_dot(chart))
    assert nodes["paused"].get("fillcolor") == TURQUOISE
    assert nodes["iterating"].get("fillcolor") == "white"
    (memory,) = (e for e in edges if "remembered" in _classes(e))
    assert memory.get_destination() == "iterating"
    # the keywords win over what the chart says
    nodes, _, edges = _parts(to_dot(chart, active=("idle",), history={}))
    assert nodes["idle"].get("fillcolor") == TURQUOISE
    assert nodes["paused"].get("fillcolor") == "white"
    assert not [e for e in edges if "remembered" in _classes(e)]


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ({"active": ("nowhere",)}, "'nowhere' is not a state of SessionChart"),
        ({"active": ("h",)}, "'h' is not a state of SessionChart"),
        ({"visited_states": ("idel",)}, "'idel' is not a state"),
        ({"history": {"idle": "idle"}}, "'idle' is not a history state"),
        ({"history": {"h": "nowhere"}}, "'nowhere' is not a state"),
        ({"history": {"h": "paused"}}, "cannot remember 'paused'"),
        ({"visited_transitions": [("idel", "started", "idle")]}, "'idel' is not a state"),
        ({"visited_transitions": [("idle", "started", "idle")]}, "no transition idle --started"),
        ({"visited_transitions": [("idle", "nope", None)]}, "no transition idle --nope--> None"),
        ({"visited_transitions": [("created", "started", "paused")]}, "no transition created"),
        ({"visited_transitions": [("created", "started", None)]}, "no transition created"),
    ],
)
def test_unknown_names_raise_value_error(marks: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_dot(SessionChart, **marks)


@needs_dot
def test_render_svg_marks_elements_with_classes() -> None:
    svg = render_svg(
        active=("running", "iterating"),
        history={"h": "iterating"},
        visited_states=("created", "idle", "iterating"),
        visited_transitions=[
            ("created", "started", "idle"),
            ("idle", "iteration_started", "iterating"),
        ],
    )
    assert svg.lstrip().startswith("<?xml")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    classes = {}
    for group in root.iter(f"{ns}g"):
        title = group.find(f"{ns}title")
        if title is not None and title.text:
            classes[title.text] = set(group.get("class", "").split())
    assert classes["iterating"] == {"node", "active", "visited"}
    assert classes["cluster_running"] == {"cluster", "active"}
    assert classes["created"] == {"node", "visited"}
    assert classes["idle->iterating"] == {"edge", "visited"}
    assert "remembered" in classes["h->iterating"]
