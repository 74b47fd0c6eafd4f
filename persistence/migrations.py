"""Reading what older versions wrote: the format version and the migration table.

Every stored document — a session's document, a log's header, a checkpoint
file, a file store's session — carries ``format_version``.  A document is brought up to the current
version (:data:`statecharts.FORMAT_VERSION`) one step at a time by the
functions of :data:`MIGRATIONS` before it is validated, so a store written by
an older sessionchart keeps loading.  Version 1 is the first format, so the
table is still empty: the next format change adds ``MIGRATIONS[kind][1]``
(turning a version-1 document into a version-2 one) and a fixture of version 2
beside ``tests/persistence/fixtures/v1``.  A document from a *newer* version is
refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from statecharts import FORMAT_VERSION

from .errors import CorruptionError, StorageError

__all__ = ["KINDS", "MIGRATIONS", "Migration", "upgrade"]

Migration = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a document of version *v* into one of version *v + 1*."""

KINDS: Final = ("session", "header", "checkpoint", "file")
"""The kinds of stored documents, each with its own migrations."""

MIGRATIONS: Final[dict[str, dict[int, Migration]]] = {kind: {} for kind in KINDS}
"""``MIGRATIONS[kind][v]`` upgrades a ``kind`` document from version *v* to *v + 1*."""


def upgrade(
    kind: str,
    document: Mapping[str, Any],
    path: Path | str,
    *,
    current: int = FORMAT_VERSION,
    migrations: Mapping[str, Mapping[int, Migration]] = MIGRATIONS,
) -> dict[str, Any]:
    """``document`` brought to version ``current``; raises if it cannot be.

    Raises :class:`~persistence.errors.CorruptionError` (kind ``unknown_format``)
    when the version is missing or unknown, and
    :class:`~persistence.errors.StorageError` when it is newer than this code.
    """
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CorruptionError(f"{kind} has no valid format_version", path, kind="unknown_format")
    if version > current:
        raise StorageError(
            f"{kind} is in format {version}, newer than this sessionchart reads ({current}); "
            "upgrade sessionchart",
            path,
        )
    upgraded = dict(document)
    steps = migrations.get(kind, {})
    while version < current:
        step = steps.get(version)
        if step is None:
            raise CorruptionError(
                f"no migration of a {kind} from format {version}", path, kind="unknown_format"
            )
        upgraded = step(upgraded)
        version += 1
        upgraded["format_version"] = version
    return upgraded
