"""The public surface: the modules ``docs/api.md`` lists, each public name exported once.

The rule (``docs/api.md``): the public API is the names in the ``__all__`` of the
modules below; each public object has one home, the one module that exports it;
modules whose name starts with an underscore are private.  Who else may import
a private module is import-linter's business (``pyproject.toml``, ``tox -e layers``).
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import statecharts
from statecharts import state
from statecharts.statuses import STATUSES

ROOT = Path(__file__).resolve().parent.parent

PUBLIC = (
    "statecharts",
    "statecharts.events",
    "statecharts.state",
    "statecharts.signals",
    "statecharts.statuses",
    "statecharts.diagrams",
    "persistence",
    "persistence.postgres",
)
"""Every public module, as ``docs/api.md`` documents them."""


def exported(module_name: str) -> dict[str, object]:
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in module.__all__}


def test_the_api_page_documents_the_public_modules_and_no_other() -> None:
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert tuple(re.findall(r"^::: ([\w.]+)$", page, re.MULTILINE)) == PUBLIC


@pytest.mark.parametrize("module_name", PUBLIC)
def test_every_exported_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(set(module.__all__))
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_each_public_object_has_one_home() -> None:
    homes: dict[int, list[str]] = {}
    for module_name in PUBLIC:
        for name, value in exported(module_name).items():
            if isinstance(value, int | str | float | tuple | frozenset | types.ModuleType):
                continue  # constants (equal ones may be the same object) and modules
            homes.setdefault(id(value), []).append(f"{module_name}.{name}")
    assert [places for places in homes.values() if len(places) > 1] == []


def test_no_package_exports_the_names_of_another() -> None:
    for module_name in PUBLIC:
        package = module_name.split(".")[0]
        for name, value in exported(module_name).items():
            if isinstance(value, type | types.FunctionType):
                where = value.__module__
                assert where.split(".")[0] == package, f"{module_name}.{name} is {where}'s"


def test_the_domain_s_lazy_names_are_its_type_checking_imports() -> None:
    """``statecharts/__init__.py`` names each twice: for type checkers, and for ``__getattr__``."""
    tree = ast.parse((ROOT / "statecharts" / "__init__.py").read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported: dict[str, tuple[str, ...]] = {}
    for node in guarded.body:
        assert isinstance(node, ast.ImportFrom)
        names = tuple(alias.name for alias in node.names)
        imported[node.module or "."] = names
    modules = imported.pop(".")
    assert imported == {f"{module}": names for module, names in statecharts._HOMES.items()}
    assert set(modules) == set(statecharts._MODULES)
    assert sorted(statecharts.__all__) == sorted([*statecharts._WHERE, *statecharts._MODULES])


def test_a_name_that_is_not_exported_is_an_attribute_error() -> None:
    private = "LiveSession"  # defined in statecharts._session, not exported
    with pytest.raises(AttributeError, match="no attribute 'LiveSession'"):
        getattr(statecharts, private)
    assert "SessionConfig" in dir(statecharts)


def test_the_statuses_are_those_of_the_state_records() -> None:
    assert tuple(t.model_fields["status"].default for t in state.STATE_TYPES) == STATUSES
    assert set(STATUSES) == state.ACTIVE_STATUSES | state.TERMINAL_STATUSES
    assert not state.ACTIVE_STATUSES & state.TERMINAL_STATUSES
