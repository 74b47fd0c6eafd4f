"""The transition table, as Markdown, by the library's table renderer.

A row per transition, in the order the chart declares them: its source state,
its events, its guards and its target.  The renderer reads
:func:`~statecharts.diagrams.model.describe`'s model, so states and events are
named by their ids and a transition that stays is marked ``(internal)`` (its
target is its source).  We add the legend (:data:`LEGEND`).
"""

from __future__ import annotations

from statemachine.contrib.diagram.renderers.table import TransitionTableRenderer

from ._model import ChartRef, describe

__all__ = ["LEGEND", "transition_table"]

LEGEND = (
    "A row per transition, in the order the chart declares them. *Event* lists the events "
    "that trigger it; *Guard*, the conditions that must all hold; *Target*, the state it "
    "enters: a compound state enters its initial sub-state, a history state (`h`) the "
    "sub-state its compound state was left from (or, the first time, the history's own "
    "target, on a row with no event). `(internal)` marks a transition that leaves the "
    "configuration as it is: it is recorded, and no state is left or entered. A transition "
    "of a compound state is allowed in each of its sub-states. An event with no row from "
    "the current states is illegal there."
)
"""How to read :func:`transition_table`, in one Markdown paragraph."""


def transition_table(chart: ChartRef) -> str:
    """The chart's transitions as a Markdown table: state, event, guard, target.

    >>> from statecharts import SessionChart
    >>> rows = [line.split("|")[1:-1] for line in transition_table(SessionChart).splitlines()]
    >>> [cell.strip() for cell in rows[0]]
    ['State', 'Event', 'Guard', 'Target']
    >>> [cell.strip() for cell in rows[8]]
    ['idle', 'iteration_started', 'iteration_is_next, within_max_iterations', 'iterating']
    """
    return TransitionTableRenderer().render(describe(chart), fmt="md")
