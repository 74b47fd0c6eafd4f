"""Reading what older versions wrote: the format version and the migration table.

Every stored document — a session's document, a log's header, a checkpoint
file, a file store's session — carries ``format_version``.  A document is brought up to the current
version (:data:`statecharts.FORMAT_VERSION`) one step at a time by the
functions of :data:`MIGRATIONS` before it is validated, so a store written by
an older sessionchart keeps loading.  Each format has a fixture store in
``tests/persistence/fixtures/v<N>`` that must keep loading.  A document from a
*newer* version is refused rather than misread.

Version 2 bounded a session's progress: counters for the whole session plus the
latest iterations and commands (:data:`statecharts.RECENT_ITERATIONS`),
so that a checkpoint no longer grows with the log.  Version 1 checkpoints held
every command and iteration, so the counters are computed from them exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from statecharts import FORMAT_VERSION, RECENT_COMMANDS, RECENT_ITERATIONS

from ._errors import CorruptionError, StorageError

__all__ = ["KINDS", "MIGRATIONS", "Migration", "upgrade"]

Migration = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a document of version *v* into one of version *v + 1*."""

KINDS: Final = ("session", "header", "checkpoint", "file")
"""The kinds of stored documents, each with its own migrations."""


def _bounded_progress(progress: dict[str, Any]) -> dict[str, Any]:
    """A version-1 progress (every command and iteration) as a version-2 one."""
    commands: list[dict[str, Any]] = progress.get("commands_executed", [])
    iterations: list[dict[str, Any]] = [dict(i) for i in progress.get("iterations", [])]
    changes = [i["changes"] for i in iterations if i.get("changes")]
    if iterations and iterations[-1].get("completed_at") is None:  # its commands, as v2 keeps them
        number = iterations[-1]["number"]
        iterations[-1]["commands"] = [c for c in commands if c.get("iteration") == number]
    return {
        **progress,
        "commands_executed": commands[-RECENT_COMMANDS:],
        "iterations": iterations[-RECENT_ITERATIONS:],
        "commands_total": len(commands),
        "commands_succeeded": sum(1 for c in commands if c.get("success")),
        "commits_total": sum(len(c.get("git_commits", ())) for c in changes),
        "lines_added": sum(c.get("lines_added", 0) for c in changes),
        "lines_removed": sum(c.get("lines_removed", 0) for c in changes),
    }


def _checkpoint_v2(checkpoint: dict[str, Any]) -> dict[str, Any]:
    snapshot = checkpoint["state_snapshot"]
    return {
        **checkpoint,
        "state_snapshot": {**snapshot, "progress": _bounded_progress(snapshot["progress"])},
    }


def _unchanged(document: dict[str, Any]) -> dict[str, Any]:
    return document


MIGRATIONS: Final[dict[str, dict[int, Migration]]] = {
    "session": {1: _unchanged},
    "header": {1: _unchanged},
    "checkpoint": {1: lambda d: {**d, "checkpoint": _checkpoint_v2(d["checkpoint"])}},
    "file": {1: lambda d: {**d, "checkpoints": [_checkpoint_v2(c) for c in d["checkpoints"]]}},
}
"""``MIGRATIONS[kind][v]`` upgrades a ``kind`` document from version *v* to *v + 1*."""


def upgrade(
    kind: str,
    document: Mapping[str, Any],
    path: Path | str | Callable[[], Path],
    *,
    current: int = FORMAT_VERSION,
    migrations: Mapping[str, Mapping[int, Migration]] = MIGRATIONS,
) -> dict[str, Any]:
    """``document`` brought to version ``current``; raises if it cannot be.

    Raises :class:`~persistence.CorruptionError` (kind ``unknown_format``)
    when the version is missing or unknown, (kind ``invalid_document``) when the
    document is not shaped like its version, and
    :class:`~persistence.StorageError` when it is newer than this code.
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
        try:
            upgraded = step(upgraded)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise CorruptionError(
                f"a {kind} in format {version} does not have that format's shape ({error!r})",
                path,
                kind="invalid_document",
            ) from None
        version += 1
        upgraded["format_version"] = version
    return upgraded
