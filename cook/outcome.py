"""What a session came to, and the exit code that says so.

Three facts, each with its own code (:class:`~cook.errors.ExitCode`): the
session's status (``failed``: 1, ``paused``: 130), whether steps failed in a
session that completed (7: a step that failed without ``continue_on_error``),
and whether merging its branch back failed (8: the worktree and the branch are
kept).  A merge is recorded in the session's log as the analysis
:data:`MERGE_ANALYZER` (the session's last event before ``completed``), so
``cook show`` and ``cook watch`` tell it as the run did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from statecharts import AnalysisResult, SessionConfig, SessionInfo, TimestampedEvent, events

from .errors import ExitCode

__all__ = [
    "MERGE_ANALYZER",
    "Merge",
    "Outcome",
    "failed_steps",
    "is_failed_step",
    "step_timeouts",
    "tolerated_steps",
]

MERGE_ANALYZER = "cook.merge"
"""The analyzer name of the analysis that records an auto-merge."""


@dataclass(frozen=True, slots=True)
class Merge:
    """How merging a session's branch back went: ``reason`` is git's, when it failed."""

    merged: bool
    branch: str
    into: str
    reason: str = ""

    @property
    def summary(self) -> str:
        """One line about the merge."""
        if self.merged:
            return f"merged {self.branch} into {self.into}"
        return f"merging {self.branch} into {self.into} failed: {self.reason}"

    def results(self) -> dict[str, Any]:
        """The ``analysis_completed`` results that record it."""
        return {
            "analyzer": MERGE_ANALYZER,
            "summary": self.summary,
            "metrics": {"merged": 1.0 if self.merged else 0.0},
            "details": {
                "merged": self.merged,
                "branch": self.branch,
                "into": self.into,
                "reason": self.reason,
            },
        }

    @classmethod
    def recorded(cls, analysis: AnalysisResult | None) -> Merge | None:
        """The merge an analysis records, or None when it is not one."""
        if analysis is None or analysis.analyzer != MERGE_ANALYZER:
            return None
        details = analysis.details
        return cls(
            merged=details.get("merged") is True,
            branch=str(details.get("branch", "")),
            into=str(details.get("into", "")),
            reason=str(details.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """A session's status, how many of its steps failed, and its merge (if any)."""

    status: str
    failed_steps: int = 0
    merge: Merge | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The documented exit code of this outcome."""
        if self.status == "failed":
            return ExitCode.FAILED
        if self.status != "completed":
            return ExitCode.INTERRUPTED
        if self.merge is not None and not self.merge.merged:
            return ExitCode.MERGE_FAILED
        return ExitCode.STEPS_FAILED if self.failed_steps else ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        """The outcome in machine-readable output."""
        merge = None
        if self.merge is not None:
            merge = {
                "merged": self.merge.merged,
                "branch": self.merge.branch,
                "into": self.merge.into,
                "reason": self.merge.reason,
            }
        return {
            "status": self.status,
            "failed_steps": self.failed_steps,
            "merge": merge,
            "exit_code": int(self.exit_code),
        }


def tolerated_steps(config: SessionConfig) -> frozenset[str]:
    """The commands of the steps whose failure is tolerated (``continue_on_error``)."""
    return frozenset(
        str(step["shell"]) for step in config.workflow.steps if step.get("continue_on_error")
    )


def step_timeouts(config: SessionConfig) -> dict[str, float]:
    """Each step's timeout in seconds, by its command."""
    found: dict[str, float] = {}
    for step in config.workflow.steps:
        timeout = step.get("timeout")
        if isinstance(timeout, int | float):
            found.setdefault(str(step["shell"]), float(timeout))
    return found


def is_failed_step(recorded: TimestampedEvent, tolerated: frozenset[str]) -> bool:
    """Whether the event is a step that failed without its failure being tolerated."""
    event = recorded.event
    return (
        isinstance(event, events.CommandExecuted)
        and not event.success
        and event.command not in tolerated
    )


def failed_steps(info: SessionInfo, log: Iterable[TimestampedEvent] | None = None) -> int | None:
    """How many steps of the session failed (tolerated ones aside).

    Told by the progress when it can be; otherwise by ``log`` (the session's
    events), or None when the log is needed and not given.
    """
    progress = info.progress
    failed = progress.commands_total - progress.commands_succeeded
    tolerated = tolerated_steps(info.config)
    if failed == 0 or not tolerated:
        return failed
    if progress.commands_total <= len(progress.commands_executed):  # it holds them all
        return sum(
            1 for c in progress.commands_executed if not c.success and c.command not in tolerated
        )
    if log is None:
        return None
    return sum(1 for recorded in log if is_failed_step(recorded, tolerated))
