"""Shared fixtures, and the ``needs_dot`` marker.

A test marked ``@pytest.mark.needs_dot`` needs Graphviz's ``dot`` program.
Where it is missing the test is skipped, with a reason that names the package
to install — except in CI (``CI`` set), where a missing ``dot`` fails the test,
as a missing PostgreSQL server fails the PostgreSQL tests: CI runs them all.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

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
