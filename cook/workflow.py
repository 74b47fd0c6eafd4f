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

A workflow file is read only when it is a regular file of at most 1 MiB, and its
YAML is composed under budgets (aliases, nesting, size once expanded: see
:mod:`cook.limits`), so that a hostile file is refused at once with a line
saying why.  Environment variable names are letters, digits and ``_``; no text
may hold a NUL character (no process could be given it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from statecharts import WorkflowConfig

from .errors import printable
from .limits import (
    MAX_ITERATIONS,
    MAX_WORKFLOW_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
)

__all__ = ["Step", "Workflow", "WorkflowError", "WorkflowNotFound", "load_workflow"]


class WorkflowError(ValueError):
    """A workflow file that cannot be used; the message names the file, line and field."""


class WorkflowNotFound(WorkflowError):
    """There is no workflow file at that path."""


def _no_nul(text: str) -> str:
    if "\0" in text:
        raise ValueError("a NUL character cannot be passed to a process")
    return text


def _variable_name(text: str) -> str:
    if not text or not (text[0].isalpha() or text[0] == "_") or not text.isascii():
        valid = False
    else:
        valid = all(c.isalnum() or c == "_" for c in text)
    if not valid:
        raise ValueError(
            f"invalid environment variable name {printable(text)!r}: use letters, digits "
            "and '_', not starting with a digit"
        )
    return text


Text = Annotated[str, AfterValidator(_no_nul)]
Environment = dict[Annotated[str, AfterValidator(_variable_name)], Text]


class Step(BaseModel):
    """One shell command of an iteration."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    shell: Text = Field(min_length=1)
    name: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    continue_on_error: bool = False
    env: Environment = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """What to call the step in progress output and in the event log."""
        return self.name or self.shell


class Workflow(BaseModel):
    """What each iteration runs, and the defaults of a run."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = ""
    steps: tuple[Step, ...] = Field(min_length=1)
    max_iterations: int | None = Field(default=None, ge=1, le=MAX_ITERATIONS)
    focus: Text | None = None
    env: Environment = Field(default_factory=dict)

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


class _OverBudget(Exception):
    """A workflow's YAML went over one of the budgets; ``line`` is where (1-based)."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.line = 1 if mark is None else mark.line + 1


class _BudgetLoader(yaml.SafeLoader):
    """The safe loader, composing under the alias, nesting and expansion budgets.

    Every node's size and depth *with aliases expanded* is reckoned as it is
    composed (an alias refers to a node composed before it, whose figures are
    known), so a document that would blow up is refused before anything walks it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._nesting = 0
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (size, depth), expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose the next node, or refuse it when it goes over a budget."""
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _OverBudget(f"more than {MAX_YAML_ALIASES} aliases", mark)
            node = super().compose_node(parent, index)
            if id(node) not in self._measured:
                raise _OverBudget("an alias refers to a value that contains it", mark)
            return node
        self._nesting += 1
        try:
            if self._nesting > MAX_YAML_DEPTH:
                raise _OverBudget(f"nested more than {MAX_YAML_DEPTH} deep", mark)
            node = super().compose_node(parent, index)
        finally:
            self._nesting -= 1
        self._measure(node, mark)
        return node

    def _measure(self, node: yaml.Node | None, mark: yaml.Mark) -> None:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        figures = [self._measured[id(child)] for child in children]
        size = 1 + sum(size for size, _ in figures)
        depth = 1 + max((depth for _, depth in figures), default=0)
        if size > MAX_YAML_NODES:
            raise _OverBudget(
                f"more than {MAX_YAML_NODES:,} values once its aliases are expanded", mark
            )
        if depth > MAX_YAML_DEPTH:
            raise _OverBudget(
                f"nested more than {MAX_YAML_DEPTH} deep once its aliases are expanded", mark
            )
        self._measured[id(node)] = (size, depth)


def _read(path: Path) -> str:
    """The text of the workflow file at ``path``: a regular file, within the size budget, UTF-8."""
    shown = printable(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise WorkflowNotFound(f"{shown}: no such workflow file") from None
    except OSError as error:
        raise WorkflowError(f"{shown}: cannot read: {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise WorkflowError(f"{shown}: is a directory: give a workflow file")
        if not stat.S_ISREG(mode):
            raise WorkflowError(
                f"{shown}: not a regular file (a device, pipe or socket): give a workflow file"
            )
        data = os.read(fd, MAX_WORKFLOW_BYTES + 1)
    except OSError as error:
        raise WorkflowError(f"{shown}: cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_WORKFLOW_BYTES:
        raise WorkflowError(
            f"{shown}: too large for a workflow (over {MAX_WORKFLOW_BYTES // 1024} KiB)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise WorkflowError(
            f"{shown}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}): "
            "save the workflow as UTF-8"
        ) from None


def _parse(text: str, shown: str) -> tuple[yaml.Node | None, Any]:
    """The document's node (for line numbers) and its data, under the budgets."""
    loader = _BudgetLoader(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    except _OverBudget as error:
        raise WorkflowError(f"{shown}:{error.line}: over budget: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise WorkflowError(f"{shown}{where}: not valid YAML: {printable(problem)}") from None
    finally:
        loader.dispose()


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


def _locate(loc: tuple[Any, ...], node: yaml.Node, bare_list: bool) -> int:
    """The line of the deepest part of ``loc`` the document has (walked only for an error)."""
    lines: dict[tuple[Any, ...], int] = {}
    _lines(node, ("steps",) if bare_list else (), lines)
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_workflow(path: Path) -> Workflow:
    """Read and validate a workflow file; raise :class:`WorkflowError` saying what and where."""
    shown = printable(str(path))
    node, data = _parse(_read(path), shown)
    if node is None:
        raise WorkflowError(f"{shown}: the workflow is empty (it needs `steps:`)")
    bare_list = isinstance(data, list)
    if bare_list:  # a bare list of steps
        data = {"steps": data}
    if not isinstance(data, dict):
        raise WorkflowError(f"{shown}:1: a workflow is a mapping with `steps:` or a list of steps")
    try:
        return Workflow.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise WorkflowError(
            f"{shown}:{_locate(loc, node, bare_list)}: {printable(field) or 'workflow'}: "
            f"{first['msg']}{more}"
        ) from None
