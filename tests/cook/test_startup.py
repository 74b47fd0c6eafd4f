"""#13.9: ``cook --help``, ``--version`` and a wrong command line import the standard library
and the list of statuses only — not the domain, pydantic, asyncio, rich or the stores (a
test of what is imported, not of time: ``benchmarks/bench_cli.py`` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from .cli import COOK
from .startup import HEAVY, LIGHT, modules_of


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["run"],  # a missing argument
        ["run", "wf.yaml", "-n", "0"],  # a bad one
        ["bake"],  # an unknown command
        ["run", "--help"],
        ["diagram", "--format", "gif"],
    ],
)
def test_startup_imports_no_heavy_module(tmp_path: Path, args: list[str]) -> None:
    code, modules = modules_of(*args, cwd=tmp_path)
    assert code in (0, 2)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY and m not in LIGHT)
    assert heavy == [], heavy


def test_a_command_imports_what_it_needs(tmp_path: Path) -> None:
    code, modules = modules_of("diagram", "--format", "mermaid", cwd=tmp_path)
    assert code == 0
    assert "statecharts.diagrams" in modules and "asyncio" in modules
    assert "cook.drive" not in modules and "psycopg" not in modules and "rich" not in modules


def test_the_domain_package_imports_nothing_until_a_name_is_used(tmp_path: Path) -> None:
    probe = "import json, sys, statecharts.statuses; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stdout)
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == sorted(LIGHT)


def test_the_version_is_the_installed_distribution_s(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(COOK), "--version"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"cook {version('sessionchart')}\n")
