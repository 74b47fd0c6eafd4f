"""The committed diagrams are fresh, the check catches stale ones, and Graphviz may be absent."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from statemachine import State, StateChart

from statecharts import SessionChart
from statecharts.diagrams import (
    GraphvizNotInstalled,
    main,
    render,
    stale_files,
    svg_is_fresh,
    to_dot,
    to_mermaid,
    transition_table,
    write_all,
)

from .charts import TrafficLight
from .expected import REPO, needs_dot

COMMITTED = REPO / "diagrams"
NAMES = ("session.dot", "session.svg", "session.mmd", "transitions.md")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the committed diagrams, to spoil."""
    out = tmp_path / "diagrams"
    shutil.copytree(COMMITTED, out)
    return out


@pytest.fixture
def no_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH on which there is no Graphviz (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


# -- freshness ----------------------------------------------------------------------------


def test_the_committed_diagrams_are_fresh() -> None:
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(NAMES)
    assert stale_files(COMMITTED) == []


def test_the_check_command_passes_on_the_committed_diagrams() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "statecharts.diagrams", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_the_module_runs_as_a_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "argv", ["statecharts.diagrams", "--check"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("statecharts.diagrams", run_name="__main__")
    assert exited.value.code == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_an_edited_file_is_stale(name: str, copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy / name
    path.write_text(path.read_text().replace("failed", "falied", 1))
    assert stale_files(copy) == [path]
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    assert main(["--check", "--out", str(copy)]) == 1
    error = capsys.readouterr().err
    assert str(path) in error
    assert f"`python -m statecharts.diagrams --out {copy}`" in error
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before  # --check writes nothing


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_or_unreadable_file_is_stale(name: str, copy: Path) -> None:
    (copy / name).unlink()
    (copy / "session.dot").write_bytes(b"\xff\xfe not utf-8")
    assert (copy / name) in stale_files(copy)
    assert (copy / "session.dot") in stale_files(copy)


@needs_dot
def test_files_of_another_chart_are_all_stale(tmp_path: Path) -> None:
    class BiggerLight(StateChart[Any]):  # the same light, plus one state
        green = State(initial=True)
        yellow = State()
        red = State()
        off = State(final=True)
        cycle = green.to(yellow) | yellow.to(red) | red.to(green)
        shutdown = red.to(off)

    write_all(tmp_path, BiggerLight)
    assert stale_files(tmp_path, BiggerLight) == []
    assert [p.name for p in stale_files(tmp_path, TrafficLight)] == sorted(NAMES)


def test_an_unstamped_svg_is_not_fresh() -> None:
    dot = to_dot(SessionChart)
    assert not svg_is_fresh("<svg></svg>", dot)


# -- regeneration -------------------------------------------------------------------------


@needs_dot
def test_regenerating_rewrites_only_what_is_stale(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "session.mmd").write_text("stale")
    (copy / "session.svg").unlink()
    assert main(["--out", str(copy)]) == 0
    assert capsys.readouterr().out.split() == [
        "wrote",
        str(copy / "session.mmd"),
        "wrote",
        str(copy / "session.svg"),
    ]
    assert stale_files(copy) == []
    for name in ("session.dot", "session.mmd", "transitions.md"):
        assert (copy / name).read_bytes() == (COMMITTED / name).read_bytes()
    assert main(["--out", str(copy)]) == 0
    assert "up to date" in capsys.readouterr().out


@needs_dot
def test_any_chart_can_be_written_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    chart = "tests.diagrams.charts:TrafficLight"
    assert main(["--out", str(out), "--chart", chart, "--stem", "light"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["light.dot", "light.mmd", "light.svg", "transitions.md"]
    assert (out / "light.mmd").read_text() == to_mermaid(TrafficLight)
    assert transition_table(TrafficLight) in (out / "transitions.md").read_text()
    assert main(["--check", "--out", str(out), "--chart", chart, "--stem", "light"]) == 0


def test_the_command_line_refuses_what_is_not_a_chart() -> None:
    with pytest.raises(SystemExit, match="not a python-statemachine chart class"):
        main(["--check", "--chart", "statecharts:IterationCounter"])


def test_the_text_formats_are_the_same_whatever_the_hash_seed(tmp_path: Path) -> None:
    """Deterministic output, whatever the hash seed: a committed file can be compared."""
    script = (
        "from statecharts.diagrams import to_dot, to_mermaid, transition_table;"
        "from statecharts import SessionChart as C;"
        "print(to_dot(C) + to_mermaid(C) + transition_table(C), end='')"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert outputs == {
        to_dot(SessionChart) + to_mermaid(SessionChart) + transition_table(SessionChart)
    }


# -- without Graphviz -----------------------------------------------------------------------


@pytest.mark.usefixtures("no_dot")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_without_dot_rendering_says_how_to_install_graphviz(fmt: str) -> None:
    with pytest.raises(GraphvizNotInstalled) as raised:
        render(SessionChart, fmt)  # type: ignore[arg-type]
    assert isinstance(raised.value, RuntimeError)
    message = str(raised.value)
    assert "apt-get install graphviz" in message
    assert "brew install graphviz" in message


@pytest.mark.usefixtures("no_dot")
def test_without_dot_the_text_formats_and_the_check_still_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert to_dot(SessionChart).startswith("// generated")
    assert to_mermaid(SessionChart).startswith("stateDiagram-v2")
    assert transition_table(SessionChart).startswith("| State ")
    assert main(["--check", "--out", str(COMMITTED)]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.usefixtures("no_dot")
def test_without_dot_regenerating_fails_clearly_and_writes_nothing(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "session.svg").unlink()
    (copy / "session.mmd").write_text("stale")
    assert main(["--out", str(copy)]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert (copy / "session.mmd").read_text() == "stale"
    assert not (copy / "session.svg").exists()
