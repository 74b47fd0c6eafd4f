"""Opening a directory as a store: its marker, an older layout to migrate, a crash's leftovers.

A directory is a store of layout 2 when it holds ``sessionchart.json``.  Without
one it is either a store of layout 1 (one ``sessions.json`` database beside
``sessions.json.logs/``), migrated when opened for writing
(:mod:`~persistence.tinydb._migrate`); or an empty directory, made a store when
opened for writing; or something else, which is refused rather than filled
with the store's files.  Opened read-only, nothing is created or changed.

Opened for writing, the store removes what crashed instances left behind:
sessions half deleted (in ``trash/``), sessions half created (a
``sessions/.new-<id>-<token>`` directory whose creator is gone), the owner
files of dead instances.
"""

from __future__ import annotations

import json
import logging
import re
import stat
from collections.abc import Collection
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from .._errors import CorruptionError, StorageError
from .._files import Directory
from .._limits import MAX_SMALL_FILE
from ._layout import (
    LAYOUT,
    MARKER_NAME,
    NEW_PREFIX,
    QUARANTINE_DIR,
    SESSIONS_DIR,
    TRASH_DIR,
    Layout,
    StoreMarker,
)
from ._owners import OWNERS_DIR, Liveness

__all__ = ["LEGACY_NAME", "open_layout", "remove_abandoned_creations"]

log = logging.getLogger("persistence.tinydb")

LEGACY_NAME: Final = "sessions.json"
"""The database file of a layout-1 store (the name ``cook`` used)."""
_OURS: Final = frozenset({MARKER_NAME, SESSIONS_DIR, OWNERS_DIR, QUARANTINE_DIR, TRASH_DIR})
_MARKER_TEMPORARY: Final = re.compile(rf"\.{re.escape(MARKER_NAME)}\.[0-9a-f]{{12}}\.tmp")


def _where(path: Path) -> tuple[Path, str]:
    """The store's directory, and the name of a layout-1 database in it.

    A path to a layout-1 database file (``state/sessions.json``) names its
    directory — before the migration, and after it too (the file is gone then,
    and its directory holds the marker).
    """
    if path.suffix == ".json" and not path.is_dir():
        legacy = path.is_file() or path.with_name(path.name + ".logs").is_dir()
        if legacy or (path.parent / MARKER_NAME).is_file():
            return path.parent, path.name
    return path, LEGACY_NAME


def _marker(root: Directory) -> StoreMarker | None:
    data = root.read(MARKER_NAME, MAX_SMALL_FILE)
    if data is None:
        return None
    try:
        return StoreMarker.model_validate(json.loads(data))
    except (ValueError, ValidationError):
        raise CorruptionError(
            "not a sessionchart store marker", root.path / MARKER_NAME, kind="bad_marker"
        ) from None


def _is_legacy(root: Directory, name: str) -> bool:
    database = root.stat(name)
    logs = root.stat(f"{name}.logs")
    return (database is not None and stat.S_ISREG(database.st_mode)) or (
        logs is not None and stat.S_ISDIR(logs.st_mode)
    )


def open_layout(path: Path, *, read_only: bool, sync: bool, shared: Collection[str] = ()) -> Layout:
    """The store at ``path``, opened (and made, migrated, tidied when not ``read_only``).

    ``shared`` names entries another tool keeps in the same directory (cook's
    worktrees): they do not make the directory "not a store".
    """
    root_path, legacy_name = _where(path)
    root = Directory.open_root(root_path, create=not read_only)
    try:
        marker = _marker(root)
        if marker is None:
            _first_open(root, legacy_name, read_only=read_only, sync=sync, shared=shared)
        else:
            _check_layout(marker, root)
        return Layout(root, read_only=read_only)
    except BaseException:
        root.close()
        raise


def _check_layout(marker: StoreMarker, root: Directory) -> None:
    if marker.layout > LAYOUT:
        raise StorageError(
            f"the store has layout {marker.layout}, newer than this sessionchart reads "
            f"({LAYOUT}); upgrade sessionchart",
            root.path,
        )


def _first_open(
    root: Directory, legacy_name: str, *, read_only: bool, sync: bool, shared: Collection[str]
) -> None:
    if _is_legacy(root, legacy_name):
        if read_only:
            raise StorageError(
                "the store has the layout of an older sessionchart; open it for writing once "
                "to migrate it (`cook db migrate`, or any cook command that runs a session)",
                root.path,
            )
        from ._migrate import migrate_legacy  # noqa: PLC0415 - only for old stores

        migrate_legacy(root, legacy_name, sync=sync)
        return
    ours = _OURS | set(shared)
    foreign = sorted(
        name
        for name, _ in root.entries()
        if name not in ours and not _MARKER_TEMPORARY.fullmatch(name)  # another opener's
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise StorageError(
            f"not a sessionchart store, and not empty ({shown}): give a new or empty directory",
            root.path,
        )
    if not read_only:
        root.write_atomic(MARKER_NAME, StoreMarker(layout=LAYOUT).model_dump_json().encode())


def remove_abandoned_creations(layout: Layout, liveness: Liveness) -> None:
    """Remove ``sessions/.new-<id>-<token>`` directories whose creator is gone."""
    for name, _kind in layout.strays():
        if not name.startswith(NEW_PREFIX):
            continue
        if liveness.token_alive(name.rsplit("-", 1)[-1]):
            continue
        try:
            layout.discard(name)
            log.info("removed %s: a session whose creation was interrupted", name)
        except StorageError as error:
            log.warning("could not remove %s: %s", name, error)
