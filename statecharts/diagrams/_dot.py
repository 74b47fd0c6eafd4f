"""DOT text, SVG and PNG of a chart: plain, or with a session's configuration and path marked.

:func:`to_dot` needs no Graphviz.  :func:`render` and :func:`render_svg` run
Graphviz's ``dot`` through the library's ``run_graphviz``, and raise
:class:`GraphvizNotInstalled` — with the command that installs it — when ``dot``
cannot be found.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

from statemachine.contrib.diagram.graphviz import GraphvizNotFoundError, run_graphviz

from .._chart import SessionChart
from ._highlight import Step, mark
from ._model import ChartRef, describe
from ._renderer import ChartDotRenderer

__all__ = [
    "FORMATS",
    "GraphvizNotInstalled",
    "header",
    "pipe",
    "public_name",
    "render",
    "render_svg",
    "to_dot",
]

FORMATS: tuple[str, ...] = ("svg", "png")
"""The formats :func:`render` produces."""

_INSTALL_HINT = (
    "Graphviz's `dot` program is needed to render SVG or PNG, and it was not found on PATH. "
    "Install Graphviz: `apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` "
    "(macOS), `choco install graphviz` (Windows), or see https://graphviz.org/download/. "
    "DOT and Mermaid text do not need it."
)


class GraphvizNotInstalled(RuntimeError):
    """Rendering SVG or PNG was asked for, but Graphviz's ``dot`` cannot be found.

    The message says how to install it.  DOT text, Mermaid and the transition
    table never raise it.
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{_INSTALL_HINT}{f' ({detail})' if detail else ''}")


def header(chart: ChartRef) -> str:
    """The one-line notice every generated file starts with (in its comment syntax)."""
    cls = chart if isinstance(chart, type) else type(chart)
    return f"generated from {public_name(cls)} by `python -m statecharts.diagrams`; do not edit"


def public_name(cls: type) -> str:
    """Where ``cls`` is imported from: its module, or the package above that exports it.

    A class defined in a private module (``statecharts._chart.SessionChart``) is
    named by the public package that exports it (``statecharts.SessionChart``).

    >>> from statecharts import SessionChart
    >>> public_name(SessionChart)
    'statecharts.SessionChart'
    """
    parts = cls.__module__.split(".")
    for end in range(1, len(parts)):
        if parts[end - 1].startswith("_"):
            break
        package = sys.modules.get(".".join(parts[:end]))
        if package is not None and getattr(package, cls.__qualname__, None) is cls:
            return f"{package.__name__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def to_dot(
    chart: ChartRef,
    *,
    active: Iterable[str] | None = None,
    history: Mapping[str, str | Collection[str]] | None = None,
    visited_states: Iterable[str] = (),
    visited_transitions: Iterable[Step] = (),
) -> str:
    """The chart as Graphviz DOT text (deterministic: same chart and marks, same text).

    Without keywords, the chart's structure (and, for a running chart, its
    configuration).  The keywords are those of :func:`render_svg`.

    >>> from statecharts import SessionChart
    >>> dot = to_dot(SessionChart)
    >>> "subgraph cluster_running {" in dot and "command_executed (internal)" in dot
    True
    >>> "_anchor>" in dot or "running_anchor [" in dot
    False
    """
    graph = describe(chart)
    marks = mark(
        graph,
        chart,
        active=active,
        history=history,
        visited_states=visited_states,
        visited_transitions=visited_transitions,
    )
    return f"// {header(chart)}\n{ChartDotRenderer(marks=marks).to_string(graph)}"


def render(chart: ChartRef, format: Literal["svg", "png"] = "svg") -> bytes:  # noqa: A002
    """The chart drawn by Graphviz, as SVG or PNG bytes.

    Raises :class:`GraphvizNotInstalled` when the ``dot`` program is not
    available, and ``ValueError`` for a format other than ``"svg"`` or ``"png"``.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    return pipe(to_dot(chart), format)


def render_svg(
    chart: ChartRef = SessionChart,
    *,
    active: Iterable[str] | None = None,
    history: Mapping[str, str | Collection[str]] | None = None,
    visited_states: Iterable[str] = (),
    visited_transitions: Iterable[Step] = (),
) -> str:
    """The chart as SVG, with where a session is, and optionally the path it took, marked.

    - ``active``: the configuration, e.g. ``("running", "iterating")`` (ancestors
      are added: ``("iterating",)`` says the same).  The active leaf is filled
      turquoise (the library's highlight), an active compound state tinted.
      ``None``: a running chart's own configuration, nothing for a class.
    - ``history``: what each history pseudo-state remembers, e.g. ``{"h":
      "iterating"}``: a dashed edge from the ``H``.  ``None``: a running chart's
      own history values, nothing for a class.
    - ``visited_states``: drawn with a blue outline.
    - ``visited_transitions``: ``(source, event, target)`` steps, drawn in blue
      (a taken internal transition is ticked); the source and target may be the
      leaves the session was in (see :mod:`statecharts.diagrams.highlight`).

    Marked SVG elements have a ``class``: ``active``, ``visited``, ``remembered``.
    An unknown state, history state or transition raises ``ValueError``; a
    missing ``dot``, :class:`GraphvizNotInstalled`.
    """
    dot = to_dot(
        chart,
        active=active,
        history=history,
        visited_states=visited_states,
        visited_transitions=visited_transitions,
    )
    return pipe(dot, "svg").decode("utf-8")


def pipe(dot_source: str, format: str) -> bytes:  # noqa: A002
    """Run DOT text through Graphviz's ``dot`` and return its output."""
    try:
        return run_graphviz(dot_source, format)
    except GraphvizNotFoundError as error:
        raise GraphvizNotInstalled(str(error)) from error
