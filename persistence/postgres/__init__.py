"""The PostgreSQL store's schema: its version and the migration that brings a schema to it.

The store itself is :class:`persistence.PostgresSessionStorage` (and its signal
bridge :class:`persistence.PostgresSignalBridge`, its errors
:class:`persistence.ConcurrentModification` and
:class:`persistence.StorageUnavailable`); the modules of this package are
private.  Importing it needs nothing beyond ``persistence``; psycopg (the
``postgres`` extra, ``pip install 'sessionchart[postgres]'``) is imported only
when :func:`migrate` or :data:`LATEST_VERSION` is first used.  See
``docs/postgres.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._schema import LATEST_VERSION, migrate

__all__ = ["LATEST_VERSION", "migrate"]

if not TYPE_CHECKING:  # for type checkers, the imports above are the names

    def __getattr__(name: str) -> Any:
        """Import the psycopg-backed names on first use."""
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(f"{__name__}._schema"), name)
        globals()[name] = value
        return value
