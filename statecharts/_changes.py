"""What one iteration changed and what ran in it: files, lines, commits, commands, analysis."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import AwareDatetime, Field, JsonValue

from ._record import Record

__all__ = ["AnalysisResult", "CommitInfo", "ExecutedCommand", "IterationChanges"]


class CommitInfo(Record):
    """One git commit an iteration made."""

    sha: str = Field(min_length=4, max_length=64)
    message: str = ""
    author: str = ""
    timestamp: AwareDatetime | None = None


class IterationChanges(Record):
    """What an iteration changed in the work tree (empty when it changed nothing)."""

    files_modified: tuple[Path, ...] = ()
    lines_added: int = Field(default=0, ge=0)
    lines_removed: int = Field(default=0, ge=0)
    commands_run: tuple[str, ...] = ()
    git_commits: tuple[CommitInfo, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the iteration touched no file and made no commit."""
        return not (
            self.files_modified or self.git_commits or self.lines_added or self.lines_removed
        )


class ExecutedCommand(Record):
    """One command a session ran, as kept in its progress."""

    command: str
    success: bool
    duration: timedelta = timedelta(0)
    output_size: int = Field(default=0, ge=0)
    exit_code: int | None = None
    iteration: int | None = None
    timestamp: datetime | None = None


class AnalysisResult(Record):
    """The outcome of an analysis step: a summary, numeric metrics and free-form details."""

    analyzer: str = ""
    summary: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    details: dict[str, JsonValue] = Field(default_factory=dict)
