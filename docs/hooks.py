"""mkdocs hooks: the site's state diagram is drawn from the chart while the site is built.

``mkdocs.yml`` names this file under ``hooks:``.  On every build:

- ``diagrams/session.svg`` is rendered from :class:`statecharts.SessionChart` by
  Graphviz and added to the site: it is not read from the repository, so the
  published picture cannot drift from the chart (the build fails with
  :class:`statecharts.diagrams.GraphvizNotInstalled` when ``dot`` is missing);
- these markers, each alone on a line of a page, are replaced:
  ``<!-- diagram: svg -->`` by that picture, ``<!-- diagram: table -->`` by the
  transition table with its legend, and ``<!-- diagram: mermaid -->``
  by the chart's Mermaid text, in a collapsed block;
- in every Markdown text, docstrings included: bare ``>>>`` examples (mkdocstrings
  would render them as nested quotes) are fenced as ``pycon`` code, and Sphinx roles
  (``:class:`~a.B```, which mkdocstrings does not read) become plain code (`` `B` ``).

mkdocs and Markdown are imported only by the functions mkdocs calls, so that
pytest's doctest collection imports this module without the ``docs`` extra.

>>> print(expand("Intro\\n<!-- diagram: svg -->\\n", "guide/chart.md"))
Intro
![The session chart, drawn from statecharts.SessionChart](../diagrams/session.svg)
<BLANKLINE>
>>> for line in tidy(["See :class:`~statecharts.state.Paused`:", ">>> 1 + 1", "2", ""]):
...     print(repr(line))
'See `Paused`:'
''
'```pycon'
'>>> 1 + 1'
'2'
'```'
''
''
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from statecharts import SessionChart
from statecharts.diagrams import LEGEND, render, to_mermaid, transition_table

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

SVG_URI = "diagrams/session.svg"
"""Where the rendered diagram is published, relative to the site's root."""

_MARKER = re.compile(r"^<!-- diagram: (?P<kind>svg|table|mermaid) -->$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_DOCTEST_FLAG = re.compile(r"\s*# doctest:.*$")


def _svg(src_uri: str) -> str:
    target = posixpath.relpath(SVG_URI, posixpath.dirname(src_uri) or ".")
    return f"![The session chart, drawn from statecharts.SessionChart]({target})"


def _table() -> str:
    return f"{LEGEND}\n\n{transition_table(SessionChart)}"


def _mermaid() -> str:
    lines = ["```text", *to_mermaid(SessionChart).splitlines(), "```"]
    body = "\n".join(f"    {line}" for line in lines)
    title = "The same chart as Mermaid text, for Markdown pages (diagrams/session.mmd)"
    return f'??? example "{title}"\n\n{body}\n'


def expand(markdown: str, src_uri: str) -> str:
    """``markdown`` with its diagram markers replaced (``src_uri``: the page's path)."""
    makers = {"svg": lambda: _svg(src_uri), "table": _table, "mermaid": _mermaid}
    return _MARKER.sub(lambda found: makers[found["kind"]](), markdown)


def _plain_role(found: re.Match[str]) -> str:
    tilde, name = found.groups()
    return f"`{name.rsplit('.', 1)[-1] if tilde else name}`"


def tidy(lines: list[str]) -> list[str]:
    """Markdown lines with bare ``>>>`` blocks fenced and Sphinx roles made plain code.

    Lines inside existing fences are left alone.
    """
    out: list[str] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        index += 1
        if fence is not None:  # inside a fenced block: as it is, until its end
            fence = None if stripped.startswith(fence) else fence
            out.append(line)
        elif opening := _FENCE.match(stripped):
            fence = opening.group(1)
            out.append(line)
        elif stripped.startswith(">>>"):  # a doctest block runs to the next blank line
            indent = line[: len(line) - len(stripped)]
            block = [line]
            while index < len(lines) and lines[index].strip():
                block.append(lines[index])
                index += 1
            code = [_DOCTEST_FLAG.sub("", b) for b in block]
            out.extend(["", f"{indent}```pycon", *code, f"{indent}```", ""])
        else:
            out.append(_ROLE.sub(_plain_role, line))
    return out


def _markdown_extension() -> Any:
    """A Markdown extension running :func:`tidy` before code fences are read."""
    from markdown import Extension, Markdown  # noqa: PLC0415 - see the module's docstring
    from markdown.preprocessors import Preprocessor  # noqa: PLC0415

    class Tidy(Preprocessor):  # type: ignore[misc, unused-ignore]
        def run(self, lines: list[str]) -> list[str]:
            return tidy(lines)

    class TidyExtension(Extension):  # type: ignore[misc, unused-ignore]
        def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Markdown's name
            # before pymdownx.superfences (25) reads the fences, after whitespace (30)
            md.preprocessors.register(Tidy(md), "sessionchart_tidy", 27)

    return TidyExtension()


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Add the :func:`tidy` extension, for pages and (through mkdocstrings) docstrings."""
    config.markdown_extensions.append(_markdown_extension())
    return config


on_config.mkdocs_priority = 100  # type: ignore[attr-defined]  # before mkdocstrings reads it


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Add the SVG, rendered now from the chart, to the site."""
    from mkdocs.structure.files import File  # noqa: PLC0415 - see the module's docstring

    files.append(File.generated(config, SVG_URI, content=render(SessionChart, "svg")))
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the diagram markers of a page."""
    return expand(markdown, page.file.src_uri)
