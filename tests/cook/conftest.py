"""The ``repo`` fixture: a real git repository for the cook tests (see :mod:`.repos`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .repos import make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh repository with one commit."""
    return make_repo(tmp_path / "project")
