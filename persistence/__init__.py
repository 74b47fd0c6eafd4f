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
port itself (:class:`SessionStorage`, :class:`DurableSessionStorage`) belongs to
``statecharts`` and is re-exported here; this package imports ``statecharts``,
never the other way round.  See ``docs/persistence-format.md`` and
``docs/recovery.md``.
"""

from typing import TYPE_CHECKING, Any

from statecharts.storage import (
    DurableSessionStorage,
    SessionHead,
    SessionHolder,
    SessionListing,
    SessionStorage,
)

from .durability import Durability
from .errors import (
    AppendRefused,
    CorruptionError,
    InvalidSessionId,
    RecordTooLarge,
    SessionLocked,
    StorageError,
)
from .file_store import FileSessionStorage
from .memory_store import MemorySessionStorage
from .postgres.errors import ConcurrentModification, StorageUnavailable
from .repair import RepairReport, repair
from .tinydb import TinyDBSessionStorage
from .verify import Problem, VerifyReport, verify

if TYPE_CHECKING:
    from .postgres import PostgresSessionStorage, PostgresSignalBridge

__all__ = [
    "AppendRefused",
    "ConcurrentModification",
    "CorruptionError",
    "Durability",
    "DurableSessionStorage",
    "FileSessionStorage",
    "InvalidSessionId",
    "MemorySessionStorage",
    "PostgresSessionStorage",
    "PostgresSignalBridge",
    "Problem",
    "RecordTooLarge",
    "RepairReport",
    "SessionHead",
    "SessionHolder",
    "SessionListing",
    "SessionLocked",
    "SessionStorage",
    "StorageError",
    "StorageUnavailable",
    "TinyDBSessionStorage",
    "VerifyReport",
    "repair",
    "verify",
]


def __getattr__(name: str) -> Any:
    """``PostgresSessionStorage`` and ``PostgresSignalBridge``, imported (with psycopg) on use."""
    if name in ("PostgresSessionStorage", "PostgresSignalBridge"):
        from . import postgres  # noqa: PLC0415 - psycopg is an optional extra

        return getattr(postgres, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
