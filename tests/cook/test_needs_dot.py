"""#13.11: without Graphviz the tests that draw skip, naming the package — except in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli import env

ROOT = Path(__file__).resolve().parents[2]
DRAWING_TEST = "tests/cook/test_cli_queries.py::test_diagram_pictures"


@pytest.fixture
def path_without_dot(tmp_path: Path) -> str:
    """A PATH with every program of this one but Graphviz's ``dot``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name != "dot" and not target.exists() and os.access(entry.path, os.X_OK):
                target.symlink_to(entry.path)
    return f"{Path(sys.executable).parent}{os.pathsep}{bin_dir}"


def run_pytest(path: str, **extra: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in env(**extra).items() if k != "CI" or "CI" in extra}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            "-rsf",
            "-q",
            DRAWING_TEST,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, "PATH": path},
        timeout=300,
        check=False,
    )


def test_without_dot_a_drawing_test_skips_naming_the_package(path_without_dot: str) -> None:
    done = run_pytest(path_without_dot)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "install the `graphviz` package (`apt-get install graphviz`" in done.stdout


def test_in_ci_a_missing_dot_fails(path_without_dot: str) -> None:
    done = run_pytest(path_without_dot, CI="1")
    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout  # failed in its setup
    assert "CI is set but Graphviz's `dot` is not installed" in done.stdout
