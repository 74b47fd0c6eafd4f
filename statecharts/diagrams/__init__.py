"""Diagrams drawn from a chart's definition, so that the picture cannot drift from the rules.

python-statemachine draws charts itself (``statemachine.contrib.diagram``): it
extracts a model from any chart class or running chart, and renders it as DOT
(through pydot), Mermaid or a transition table, with compound and history
states, guards and the active states highlighted.  This package uses that
pipeline for every format, and adds only what it lacks:

- **our vocabulary** (:func:`describe`): the library's model with
  states and events named by their ids, as the event log, the CLI and these
  docs name them, and internal transitions kept and marked ``(internal)``;
- **a DOT renderer that draws compound states right**
  (``ChartDotRenderer``, in the private ``_renderer``): a subclass of the
  library's whose every override is explained there.  Without
  it the DOT of ``SessionChart`` has an edge to a phantom ``running_anchor`` node
  and ``completed`` inside ``running``, and its text changes on every run;
- **the marks of a live view** (:func:`render_svg`, ``to_dot``'s keywords): a
  session's configuration (the library's highlight, plus an active compound
  state's tint), what its history state remembers, and the states and
  transitions it went through;
- **Graphviz missing** is :class:`GraphvizNotInstalled`, which says how to install it;
- **the generated files** in ``diagrams/``: ``python -m
  statecharts.diagrams`` rewrites them, ``--check`` fails when one is stale; the
  SVG carries a freshness stamp, so it is checked without Graphviz;
- the site's picture is drawn at build time by the mkdocs hook (``docs/hooks.py``),
  and ``cook diagram`` prints any format.

Every output is deterministic: the same chart gives the same text, so generated
files can be committed and checked.

>>> from statecharts import SessionChart
>>> print(to_mermaid(SessionChart).splitlines()[0])
stateDiagram-v2

This package belongs to the domain: it imports python-statemachine (and pydot,
through its diagram extra), never ``persistence`` or ``cook``.  Its public names
are the ones below; its modules (``_dot``, ``_files``...) are private.
"""

from ._dot import FORMATS, GraphvizNotInstalled, render, render_svg, to_dot
from ._files import expected_files, main, stale_files, svg_is_fresh, write_all
from ._highlight import Step
from ._mermaid import to_mermaid
from ._model import ChartRef, describe
from ._table import LEGEND, transition_table

__all__ = [
    "FORMATS",
    "LEGEND",
    "ChartRef",
    "GraphvizNotInstalled",
    "Step",
    "describe",
    "expected_files",
    "main",
    "render",
    "render_svg",
    "stale_files",
    "svg_is_fresh",
    "to_dot",
    "to_mermaid",
    "transition_table",
    "write_all",
]
