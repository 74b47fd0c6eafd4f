"""Workflow files: YAML, read with a safe loader, validated by pydantic, errors with their line.

A workflow is a mapping with ``steps:`` (a list of steps, each ``shell: <command>``
with optional ``name``, ``timeout`` in seconds, ``continue_on_error`` and ``env``)
and optional ``name``, ``max_iterations``, ``focus`` and ``env`` (for every step).  A bare top-level
list of steps is accepted too::

    name: tidy
    max_iterations: 3
    focus: docstrings
    env: {PYTHONDONTWRITEBYTECODE: "1"}
    steps:
      - shell: ruff check --fix .
      - name: tests
        shell: pytest -q
        timeout: 600
        continue_on_error: true
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from statecharts import WorkflowConfig

__all__ = ["Step", "Workflow", "WorkflowError", "WorkflowNotFound", "load_workflow"]


class WorkflowError(ValueError):
    """A workflow file that cannot be used; the message names the file, line and field."""


class WorkflowNotFound(WorkflowError):
    """There is no workflow file at that path."""


class Step(BaseModel):
    """One shell command of an iteration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shell: str = Field(min_length=1)
    name: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    continue_on_error: bool = False
    env: dict[str, str] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """What to call the step in progress output and in the event log."""
        return self.name or self.shell


class Workflow(BaseModel):
    """What each iteration runs, and the defaults of a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    steps: tuple[Step, ...] = Field(min_length=1)
    max_iterations: int | None = Field(default=None, ge=1)
    focus: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    def to_config(self) -> WorkflowConfig:
        """The workflow as the session records it: each step carries its whole environment."""
        steps = (
            step.model_copy(update={"env": {**self.env, **step.env}}).model_dump(
                exclude_defaults=True
            )
            for step in self.steps
        )
        return WorkflowConfig(name=self.name, steps=tuple(steps))

    @classmethod
    def from_config(cls, config: WorkflowConfig) -> Workflow:
        """The workflow a session recorded (to resume it exactly as it ran)."""
        return cls(name=config.name, steps=tuple(Step.model_validate(s) for s in config.steps))


def _lines(node: yaml.Node, path: tuple[Any, ...], found: dict[tuple[Any, ...], int]) -> None:
    """Map every path in the document to the (1-based) line it starts on (a key's own line)."""
    found.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found[(*path, key.value)] = key.start_mark.line + 1
            _lines(value, (*path, key.value), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), found)


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    """The line of the deepest part of ``loc`` the document has."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1  # pragma: no cover - the empty path is always there


def load_workflow(path: Path) -> Workflow:
    """Read and validate a workflow file; raise :class:`WorkflowError` saying what and where."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowNotFound(f"{path}: no such workflow file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise WorkflowError(f"{path}: cannot read: {error}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise WorkflowError(f"{path}{where}: not valid YAML: {problem}") from None
    if node is None:
        raise WorkflowError(f"{path}: the workflow is empty (it needs `steps:`)")
    lines: dict[tuple[Any, ...], int] = {}
    if isinstance(data, list):  # a bare list of steps
        data = {"steps": data}
        _lines(node, ("steps",), lines)
    else:
        _lines(node, (), lines)
    if not isinstance(data, dict):
        raise WorkflowError(f"{path}:1: a workflow is a mapping with `steps:` or a list of steps")
    try:
        return Workflow.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise WorkflowError(
            f"{path}:{_locate(loc, lines)}: {field or 'workflow'}: {first['msg']}{more}"
        ) from None
