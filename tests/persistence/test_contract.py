"""The storage contract, run against every store (and every durability mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persistence import FileSessionStorage, MemorySessionStorage, TinyDBSessionStorage

from .contract import Opener, StorageContract


class TestMemoryStore(StorageContract):
    survives_reopen = True  # the same instance plays the restarted process
    excludes_other_instances = False

    @pytest.fixture
    def opener(self) -> Opener:
        store = MemorySessionStorage()
        return lambda: store


class TestFileStore(StorageContract):
    @pytest.fixture
    def opener(self, tmp_path: Path) -> Opener:
        return lambda: FileSessionStorage(tmp_path / "sessions")


@pytest.mark.parametrize("durability", ["strict", "batched", "none"])
class TestTinyDBStore(StorageContract):
    @pytest.fixture
    def opener(self, tmp_path: Path, durability: str) -> Opener:
        return lambda: TinyDBSessionStorage(tmp_path / "sessions.json", durability)  # type: ignore[arg-type]
