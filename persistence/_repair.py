"""Repairing a store: fix what is safe to fix, set aside what is not, keep a copy of everything.

:func:`repair` runs :func:`~persistence.verify`; a store that repairs
its own files (:class:`SelfRepairing`: the TinyDB store, see
:mod:`persistence.tinydb._repair`) then fixes each damaged session on its own:

- a damaged log (torn last line, bad checksum, missing line, seq gap, invalid
  event) is cut at the first damaged byte, after the whole file was copied
  beside it: the session keeps every event before the damage;
- a session document that is missing, invalid, or disagrees with its log is
  rebuilt from the log (its header holds the config and creation time, a replay
  gives the state); a checkpoint that no longer matches is dropped;
- what cannot be fixed — a damaged log header, events the chart refuses, a log
  lost with its events, a link or FIFO where a file belongs — is *set aside*:
  the session's directory moves to ``quarantine/`` with every file in it
  (``quarantine=False`` leaves it, ``remove=True`` deletes it instead).

So one repair leaves a store that :func:`verify` passes.  A session that a live
process holds is left alone (and reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from statecharts import SessionStorage

from ._verify import Problem, verify

__all__ = ["RepairReport", "SelfRepairing", "repair"]


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`repair` did: problems ``fixed``, problems ``remaining``, files it kept."""

    fixed: tuple[Problem, ...]
    remaining: tuple[Problem, ...]
    actions: tuple[str, ...]
    backups: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        """True when the store holds no problem any more."""
        return not self.remaining

    def __str__(self) -> str:
        lines = [f"fixed {len(self.fixed)}, remaining {len(self.remaining)}"]
        lines += [f"  did: {action}" for action in self.actions]
        lines += [f"  left: {problem}" for problem in self.remaining]
        return "\n".join(lines)


@runtime_checkable
class SelfRepairing(Protocol):
    """A store that repairs its own files: the TinyDB store."""

    async def repair_damage(
        self, problems: tuple[Problem, ...], *, quarantine: bool, remove: bool
    ) -> tuple[list[str], list[Path]]:
        """Fix (or set aside) what ``problems`` name; returns what it did and the copies it kept."""
        ...


async def repair(
    storage: SessionStorage, *, quarantine: bool = True, remove: bool = False
) -> RepairReport:
    """Fix what is safe to fix in ``storage``; see the module's documentation."""
    before = await verify(storage)
    if before.ok:
        return RepairReport((), (), (), ())
    actions: list[str] = []
    backups: list[Path] = []
    if isinstance(storage, SelfRepairing):
        actions, backups = await storage.repair_damage(
            before.problems, quarantine=quarantine, remove=remove
        )
    after = await verify(storage)
    left = {_key(problem) for problem in after.problems}
    fixed = tuple(p for p in before.problems if _key(p) not in left)
    return RepairReport(fixed, after.problems, tuple(actions), tuple(backups))


def _key(problem: Problem) -> tuple[str, str | None]:
    return problem.kind, problem.session_id
