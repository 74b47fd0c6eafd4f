"""Mermaid ``stateDiagram-v2`` text, by the library's Mermaid renderer.

The renderer draws :func:`~statecharts.diagrams.model.describe`'s model (ids as
names, internal transitions marked ``(internal)``); we add the first comment
line, which says where the text comes from.
"""

from __future__ import annotations

from statemachine.contrib.diagram.renderers.mermaid import MermaidRenderer

from ._dot import header
from ._model import ChartRef, describe

__all__ = ["to_mermaid"]


def to_mermaid(chart: ChartRef) -> str:
    """The chart as Mermaid ``stateDiagram-v2`` text (deterministic).

    A running chart's active states get the library's ``active`` class.

    >>> from statecharts import SessionChart
    >>> text = to_mermaid(SessionChart)
    >>> print(text.splitlines()[0])
    stateDiagram-v2
    >>> "idle --> iterating : iteration_started [iteration_is_next, within_max_iterations]" in text
    True
    """
    first, rest = MermaidRenderer().render(describe(chart)).split("\n", 1)
    return f"{first}\n    %% {header(chart)}\n{rest}"
