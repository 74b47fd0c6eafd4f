"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from statecharts import InMemorySessionManager, SessionConfig


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
