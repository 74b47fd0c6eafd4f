"""The PostgreSQL store: sessions shared by many processes on many machines.

Importing this package needs nothing beyond ``persistence``; psycopg (the
``postgres`` extra, ``pip install 'sessionchart[postgres]'``) is imported only
when :class:`PostgresSessionStorage`, :class:`PostgresSignalBridge` or
:func:`migrate` is first used.  See ``docs/postgres.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ConcurrentModification, StorageUnavailable

if TYPE_CHECKING:
    from .bridge import PostgresSignalBridge
    from .schema import LATEST_VERSION, migrate
    from .store import PostgresSessionStorage

__all__ = [
    "LATEST_VERSION",
    "ConcurrentModification",
    "PostgresSessionStorage",
    "PostgresSignalBridge",
    "StorageUnavailable",
    "migrate",
]

_LAZY = {
    "PostgresSessionStorage": "store",
    "PostgresSignalBridge": "bridge",
    "migrate": "schema",
    "LATEST_VERSION": "schema",
}


def __getattr__(name: str) -> Any:
    """Import the psycopg-backed names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
