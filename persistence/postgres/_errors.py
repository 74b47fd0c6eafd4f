"""The errors particular to a store shared by many writers (no psycopg needed to import them)."""

from __future__ import annotations

from .._errors import StorageError

__all__ = ["ConcurrentModification", "StorageUnavailable"]


class ConcurrentModification(StorageError):
    """Another writer changed the session since this one last read it: the write was refused.

    Nothing of the refused write is stored.  The session's ``version`` (or its
    last seq) in the database is not the one the writer expected: it lost the
    race, and reloads the session before trying again (the manager does so on
    its next event), so the log never forks.
    """

    def __init__(self, session_id: str, detail: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id} was changed by another writer: {detail}")


class StorageUnavailable(StorageError):
    """The store's server cannot be reached (down, restarting, network gone): retry later.

    Whether the write in flight was stored is unknown; a store reads the
    session again before its next write, and the manager reloads it when it
    moved on.
    """
