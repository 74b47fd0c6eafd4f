"""Stores implementing the domain's storage port, so that sessions survive their process.

- :class:`TinyDBSessionStorage` — the embedded default: one document per session
  in TinyDB (written atomically, under an inter-process lock), events in
  append-only, checksummed logs beside it; ``strict``, ``batched`` or ``none``
  durability.
- :class:`FileSessionStorage` — the spec's store: one JSON document per session.
- :class:`MemorySessionStorage` — for tests.

:func:`verify` checks a store, :func:`repair` fixes what is safe to fix.  The
port itself (:class:`SessionStorage`, :class:`DurableSessionStorage`) belongs to
``statecharts`` and is re-exported here; this package imports ``statecharts``,
never the other way round.  See ``docs/persistence-format.md`` and
``docs/recovery.md``.
"""

from statecharts.storage import DurableSessionStorage, SessionHead, SessionStorage

from .durability import Durability
from .errors import CorruptionError, InvalidSessionId, SessionLocked, StorageError
from .file_store import FileSessionStorage
from .memory_store import MemorySessionStorage
from .repair import RepairReport, repair
from .tinydb_store import TinyDBSessionStorage
from .verify import Problem, VerifyReport, verify

__all__ = [
    "CorruptionError",
    "Durability",
    "DurableSessionStorage",
    "FileSessionStorage",
    "InvalidSessionId",
    "MemorySessionStorage",
    "Problem",
    "RepairReport",
    "SessionHead",
    "SessionLocked",
    "SessionStorage",
    "StorageError",
    "TinyDBSessionStorage",
    "VerifyReport",
    "repair",
    "verify",
]
