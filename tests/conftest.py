"""Shared fixtures, the ``needs_dot`` marker, and the coverage floors.

A test marked ``@pytest.mark.needs_dot`` needs Graphviz's ``dot`` program.
Where it is missing the test is skipped, with a reason that names the package
to install — except in CI (``CI`` set), where a missing ``dot`` fails the test,
as a missing PostgreSQL server fails the PostgreSQL tests: CI runs them all.

Coverage is measured (pytest-cov, ``[tool.coverage]`` in ``pyproject.toml``) for
the three packages at once, ``cook``'s subprocesses included (coverage's
``patch = ["subprocess"]``), and each set of packages must reach its own floor
(:data:`COVERAGE_FLOORS`): coverage's ``fail_under`` knows only the total.  A
run that misses a floor fails, as pytest-cov fails one below ``fail_under``.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest

from statecharts import InMemorySessionManager, SessionConfig

NO_DOT = (
    "Graphviz's `dot` is not installed: install the `graphviz` package "
    "(`apt-get install graphviz` on Debian and Ubuntu, `brew install graphviz` on macOS)"
)


def require_dot() -> None:
    """Skip the running test when ``dot`` is missing (fail it in CI)."""
    if shutil.which("dot") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {NO_DOT}: the tests that draw diagrams must run in CI")
    pytest.skip(NO_DOT)


def pytest_configure(config: pytest.Config) -> None:
    """Register ``needs_dot``."""
    config.addinivalue_line(
        "markers",
        "needs_dot: needs Graphviz's dot (skipped without it outside CI, failed in CI)",
    )


COVERAGE_FLOORS: dict[str, tuple[tuple[str, ...], float]] = {
    "statecharts and persistence": (("statecharts/*", "persistence/*"), 95.0),
    "cook": (("cook/*",), 90.0),
}
"""Each set of packages, the files it covers and the coverage it must reach (in %)."""

_FLOORS_KEY = pytest.StashKey[list[tuple[str, float, float]]]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, None]:
    """After pytest-cov combined the data (its wrapper is inside this one): check each floor."""
    yield
    plugin = session.config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is None or getattr(plugin, "cov_total", None) is None:
        return  # coverage is off (--no-cov), or this is not the process that reports
    results = []
    for name, (include, floor) in COVERAGE_FLOORS.items():
        measured = controller.cov.report(include=list(include), file=io.StringIO())
        results.append((name, measured, floor))
        if measured < floor:
            session.testsfailed += 1
    session.config.stash[_FLOORS_KEY] = results


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say how each set of packages fared against its floor (after pytest-cov's table)."""
    for name, measured, floor in config.stash.get(_FLOORS_KEY, []):
        verdict = "reached" if measured >= floor else "FAIL: not reached"
        terminalreporter.write_line(
            f"Coverage of {name}: {measured:.2f}% (floor {floor:g}%: {verdict})",
            red=measured < floor,
            green=measured >= floor,
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Apply ``needs_dot``."""
    if item.get_closest_marker("needs_dot") is not None:
        require_dot()


@pytest.fixture
def config(tmp_path: Path) -> SessionConfig:
    """A small config: three iterations in a temporary project directory."""
    return SessionConfig(project_path=tmp_path, max_iterations=3)


@pytest.fixture
async def manager() -> AsyncIterator[InMemorySessionManager]:
    """A memory-only manager, closed after the test."""
    manager = InMemorySessionManager(receiver_timeout=2.0)
    yield manager
    manager.close()
