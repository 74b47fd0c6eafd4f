"""The ``sessions`` table: one TinyDB document per session, keyed by the session's id.

TinyDB numbers its documents; here the key is the session id itself
(``document_id_class = str``), so finding a session is a dictionary lookup and
two processes adding sessions never compete for the next number.  Every
operation runs inside the storage's transaction (see
:class:`~persistence.storages.AtomicJSONStorage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

from tinydb import TinyDB
from tinydb.table import Document, Table

from statecharts import SessionId

from .documents import SessionDocument, parse_document
from .storages import AtomicJSONStorage

__all__ = ["TABLE_NAME", "SessionsTable"]

TABLE_NAME = "sessions"
"""The name of the table in the database file."""


class _SessionIdTable(Table):
    """A TinyDB table whose document ids are session ids."""

    document_id_class = str  # type: ignore[assignment]


class _Database(TinyDB):
    table_class = _SessionIdTable


class SessionsTable:
    """The sessions of one database file; see the module's documentation."""

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self.db = _Database(str(path), storage=AtomicJSONStorage, sync=sync)
        self.storage = cast(AtomicJSONStorage, self.db.storage)
        self._table = self.db.table(TABLE_NAME)

    def transaction(self) -> AbstractContextManager[None]:
        """Hold the database (across processes) for several operations."""
        return self.storage.transaction()

    def raw(self) -> dict[str, Any]:
        """The stored documents as they are, unvalidated (the cached table: do not change it)."""
        with self.transaction():
            tables = self.storage.read() or {}
            return tables.get(TABLE_NAME, {})

    def get(self, session_id: SessionId) -> SessionDocument | None:
        """The session's document, or None."""
        raw = self.raw().get(session_id)
        return None if raw is None else parse_document(raw, self.path, session_id)

    def all(self) -> dict[SessionId, SessionDocument]:
        """Every document, by session id."""
        documents = self.raw()
        return {
            SessionId(key): parse_document(raw, self.path, key) for key, raw in documents.items()
        }

    def put(self, document: SessionDocument) -> None:
        """Store ``document`` under its session's id, replacing any older one."""
        fields = document.model_dump(mode="json")
        with self.transaction():
            if self._table.contains(doc_id=document.id):  # type: ignore[arg-type]
                self._table.update(_replace_with(fields), doc_ids=[document.id])  # type: ignore[list-item]
            else:
                self._table.insert(Document(fields, doc_id=document.id))  # type: ignore[arg-type]

    def update(
        self, session_ids: Iterable[SessionId], change: Callable[[SessionDocument], SessionDocument]
    ) -> None:
        """Rewrite the documents of ``session_ids`` with ``change``, in one write."""
        ids = list(session_ids)
        if not ids:
            return
        with self.transaction():
            changed = {}
            for session_id in ids:
                document = self.get(session_id)
                if document is not None:
                    changed[session_id] = change(document).model_dump(mode="json")

            def apply(raw: MutableMapping[str, Any]) -> None:
                _replace_with(changed[raw["id"]])(raw)

            self._table.update(apply, doc_ids=list(changed))  # type: ignore[arg-type]

    def remove(self, session_id: SessionId) -> None:
        """Forget the session's document (if any)."""
        with self.transaction():
            self._table.remove(doc_ids=[session_id])  # type: ignore[list-item]

    def close(self) -> None:
        """Close the database (and its lock file)."""
        self.db.close()


def _replace_with(fields: dict[str, Any]) -> Callable[[MutableMapping[str, Any]], None]:
    def replace(raw: MutableMapping[str, Any]) -> None:
        raw.clear()
        raw.update(fields)

    return replace
