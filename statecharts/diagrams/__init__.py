"""Diagrams drawn from a chart's definition, so that the picture cannot drift from the rules.

Any python-statemachine chart class — :class:`~statecharts.chart.SessionChart` or
another — becomes:

- Graphviz DOT text (:func:`to_dot`), written by this package: no Graphviz needed;
- SVG or PNG (:func:`render`), drawn by Graphviz's ``dot`` program, which raises
  :class:`GraphvizNotInstalled` (with how to install it) when ``dot`` is missing;
- Mermaid ``stateDiagram-v2`` text (:func:`to_mermaid`), for Markdown;
- a Markdown state × event transition table (:func:`transition_table`).

Every output is deterministic: the same chart gives the same text, so generated
files can be committed and checked.  ``python -m statecharts.diagrams`` rewrites
``diagrams/`` (:func:`write_all`); with ``--check`` it writes nothing and exits
non-zero naming the stale files (:func:`stale_files`).

>>> from statecharts.chart import SessionChart
>>> print(to_mermaid(SessionChart).splitlines()[0])
stateDiagram-v2

This package belongs to the domain: it imports python-statemachine (and, to
render, the ``graphviz`` package), never ``persistence`` or ``cook``.
"""

from .dot import FORMATS, GraphvizNotInstalled, render, to_dot
from .files import expected_files, main, stale_files, svg_is_fresh, write_all
from .mermaid import to_mermaid
from .model import ChartGraph, Edge, StateNode, describe
from .table import transition_table

__all__ = [
    "FORMATS",
    "ChartGraph",
    "Edge",
    "GraphvizNotInstalled",
    "StateNode",
    "describe",
    "expected_files",
    "main",
    "render",
    "stale_files",
    "svg_is_fresh",
    "to_dot",
    "to_mermaid",
    "transition_table",
    "write_all",
]
