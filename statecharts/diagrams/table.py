"""The state × event transition table, as Markdown.

A row per leaf state — with its ancestors, the configuration a sequential chart
is in — and a column per event.  A cell names where the event leads and the
guards it needs: ``running.iterating [iteration_is_next, within_max_iterations]``;
``(no change)`` for a targetless transition; a target ending in a history
pseudo-state is marked ``(history)``: the sub-state its compound was left from.
When several transitions may answer (their guards decide), they are listed in
the order the engine tries them, innermost state first.  ``—`` marks an event
that is illegal there.  Eventless transitions have no column.
"""

from __future__ import annotations

from typing import Any

from statemachine import StateChart

from .model import ChartGraph, Edge, describe

__all__ = ["ILLEGAL", "LEGEND", "transition_table"]

ILLEGAL = "—"
"""The text of a cell whose event is not allowed from its row's state."""

LEGEND = (
    "A row per state, named with its ancestors (`parent.child`), a column per event. A cell names "
    "the state the event leads to and, in brackets, the guards that must hold; "
    "`(no change)` is a targetless transition: recorded, the configuration stays as it is; "
    "`(history)` goes back to the sub-state its compound state was left from. "
    f"{ILLEGAL} (a dash): the event is illegal there. Several lines in a cell are tried in order."
)
"""How to read :func:`transition_table`, in one Markdown paragraph."""


def transition_table(chart_class: type[StateChart[Any]]) -> str:
    """The chart's transitions as a Markdown table: states × events.

    >>> from statecharts.chart import SessionChart
    >>> table = transition_table(SessionChart)
    >>> print(table.splitlines()[0])
    | state | iteration_started | iteration_completed | started | command_executed | analysis_completed | paused | resumed | completed | failed |
    >>> print(table.splitlines()[2])
    | `created` | — | — | `running.idle` | — | — | — | — | — | `failed` |
    """  # noqa: E501
    graph = describe(chart_class)
    rows = [["state", *graph.events], ["---"] * (len(graph.events) + 1)]
    rows.extend(
        [_state_cell(graph, leaf), *(_cell(graph, leaf, e) for e in graph.events)]
        for leaf in graph.leaves()
    )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _state_cell(graph: ChartGraph, leaf: str) -> str:
    cell = _code(graph.path(leaf))
    return f"{cell} (final)" if graph.nodes[leaf].kind == "final" else cell


def _cell(graph: ChartGraph, leaf: str, event: str) -> str:
    candidates = [
        edge
        for state in (leaf, *graph.ancestors(leaf))
        for edge in graph.edges
        if edge.source == state and event in edge.events
    ]
    if not candidates:
        return ILLEGAL
    return "<br>".join(_code(_outcome(graph, edge)) for edge in candidates)


def _outcome(graph: ChartGraph, edge: Edge) -> str:
    if edge.target is None:
        text = "(no change)"
    else:
        entered = graph.entered(edge.target)
        text = graph.path(entered)
        if graph.nodes[entered].is_pseudo:
            text += " (history)"
    return f"{text} [{', '.join(edge.guards)}]" if edge.guards else text
