"""How a session is configured: the project, the workflow, the execution mode, the options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from ._record import Record

__all__ = [
    "Direct",
    "ExecutionMode",
    "SessionConfig",
    "SessionOptions",
    "WorkflowConfig",
    "Worktree",
]


class Direct(Record):
    """Run the workflow in the project directory itself."""

    mode: Literal["direct"] = "direct"


class Worktree(Record):
    """Run the workflow in a git worktree (and branch) named ``name``."""

    mode: Literal["worktree"] = "worktree"
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)


ExecutionMode = Annotated[Direct | Worktree, Field(discriminator="mode")]
"""Where a session runs: ``Direct()`` or ``Worktree(name=...)``, tagged by ``mode``."""


class SessionOptions(Record):
    """Switches that change how the consumer runs the workflow."""

    fail_fast: bool = False
    auto_merge: bool = False
    collect_metrics: bool = True
    verbose: bool = False


class WorkflowConfig(Record):
    """The workflow a session runs: a name and ordered steps, opaque to the manager."""

    name: str = ""
    steps: tuple[dict[str, JsonValue], ...] = ()


class SessionConfig(Record):
    """Everything needed to run a session.

    Only ``project_path`` and ``max_iterations`` are required.

    >>> SessionConfig(project_path="/tmp/project", max_iterations=3).execution_mode
    Direct(mode='direct')
    """

    project_path: Path
    max_iterations: int = Field(ge=1)
    workflow: WorkflowConfig = WorkflowConfig()
    execution_mode: ExecutionMode = Direct()
    focus: str | None = None
    options: SessionOptions = SessionOptions()
