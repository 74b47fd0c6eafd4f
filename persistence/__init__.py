"""Stores implementing the domain's storage port, so that sessions survive their process.

- :class:`TinyDBSessionStorage` — the embedded default: one document per session
  in TinyDB (written atomically, under an inter-process lock), events in
  append-only, checksummed logs beside it; ``strict``, ``batched`` or ``none``
  durability.
- :class:`FileSessionStorage` — the spec's store: one JSON document per session.
- :class:`MemorySessionStorage` — for tests.
- :class:`PostgresSessionStorage` — one store shared by many processes and
  machines (the ``postgres`` extra; psycopg is imported only when it is used).

:func:`verify` checks a store, :func:`repair` fixes what is safe to fix.  The
port itself (``SessionStorage``, ``DurableSessionStorage``, ``SessionLocked``...)
belongs to ``statecharts``, and is imported from there: this package imports
``statecharts``, never the other way round, and exports only its own names.
Its modules whose name starts with an underscore are private; so are those of
``persistence.tinydb``, and ``persistence.postgres`` exports the schema's
``migrate`` and ``LATEST_VERSION``.  See ``docs/persistence-format.md`` and
``docs/recovery.md``.
"""

from typing import TYPE_CHECKING, Any

from ._durability import Durability
from ._errors import (
    AppendRefused,
    CorruptionError,
    InvalidSessionId,
    RecordTooLarge,
    StorageError,
)
from ._file_store import FileSessionStorage
from ._memory_store import MemorySessionStorage
from ._repair import RepairReport, repair
from ._verify import Problem, VerifyReport, verify
from .postgres._errors import ConcurrentModification, StorageUnavailable
from .tinydb._store import TinyDBSessionStorage

if TYPE_CHECKING:
    from .postgres._bridge import PostgresSignalBridge
    from .postgres._store import PostgresSessionStorage

__all__ = [
    "AppendRefused",
    "ConcurrentModification",
    "CorruptionError",
    "Durability",
    "FileSessionStorage",
    "InvalidSessionId",
    "MemorySessionStorage",
    "PostgresSessionStorage",
    "PostgresSignalBridge",
    "Problem",
    "RecordTooLarge",
    "RepairReport",
    "StorageError",
    "StorageUnavailable",
    "TinyDBSessionStorage",
    "VerifyReport",
    "repair",
    "verify",
]

_POSTGRES = {"PostgresSessionStorage": "_store", "PostgresSignalBridge": "_bridge"}

if not TYPE_CHECKING:  # for type checkers, the imports above are the names

    def __getattr__(name: str) -> Any:
        """``PostgresSessionStorage`` and ``PostgresSignalBridge``, imported with psycopg on use."""
        module = _POSTGRES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module  # noqa: PLC0415 - psycopg is an optional extra

        value = getattr(import_module(f"{__name__}.postgres.{module}"), name)
        globals()[name] = value
        return value
