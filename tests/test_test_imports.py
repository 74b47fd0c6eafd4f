"""Tests share helpers through helper modules or ``conftest.py``, never through test files.

Importing a test file runs its module-level code and puts its tests in the
importer's namespace too (pytest collects them twice); a helper that two test
files need belongs in a module of its own (``tests/cook/cli.py``,
``tests/postgres/helpers.py``...).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_files(path: Path) -> list[str]:
    """The test files (``test_*``) that ``path`` imports from."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module] if node.module.split(".")[-1].startswith("test_") else []
        elif isinstance(node, ast.ImportFrom):  # from . import test_x
            found += [a.name for a in node.names if a.name.startswith("test_")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[-1].startswith("test_")]
    return found


def test_no_test_file_imports_another_test_file() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imported_test_files(path)
        for path in sorted(TESTS.rglob("*.py"))
    }
    assert {path: found for path, found in offenders.items() if found} == {}
