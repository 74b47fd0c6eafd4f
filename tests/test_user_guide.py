"""The user guide's shell sessions run, and print what the guide shows.

In ``docs/user-guide.md``, a ```yaml block whose first line is ``# file: NAME``
is written to NAME; a ```console block is a list of ``$ command`` lines, each
followed by the output it must print.  Commands run with bash in a scratch git
repository that the guide calls ``~/project``.  Before comparing, session ids,
clock times, durations, byte offsets and counts of sessions, events and
bytes are replaced by placeholders on both sides (they vary from run to run), and
``...`` in the guide matches anything (as in doctest).  A session id in a
command stands for the last id printed before it.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
CLOCK = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")
DURATION = re.compile(r"\b(\d+h)?(\d+m)?\d+(\.\d+)?\s?s\b")
STAMP = re.compile(r"\.corrupt-[0-9TZ.]+")
COUNTS = re.compile(r"\b\d+ (sessions?|events?|bytes)\b|\b(byte|seq) \d+\b")
CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Command:
    """One ``$ command`` of the guide and the output it shows."""

    line: int
    command: str
    expected: str


def blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """Every fenced block: (language, first line number, lines)."""
    found, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        fence = re.match(r"^```(\w+)", lines[index])
        if fence:
            end = lines.index("```", index + 1)
            found.append((fence.group(1), index + 2, lines[index + 1 : end]))
            index = end
        index += 1
    return found


def commands(lines: list[str], first: int) -> list[Command]:
    """The ``$`` commands of a console block, each with the output under it."""
    found: list[Command] = []
    for number, line in enumerate(lines, first):
        if line.startswith("$ "):
            found.append(Command(number, line[2:], ""))
        elif found:
            found[-1].expected += line + "\n"
    return found


def normal(text: str, project: Path) -> str:
    text = text.replace(str(project), "~/project")
    text = ULID.sub("<ID>", text)
    text = CLOCK.sub("<TIME>", text)
    text = STAMP.sub(".corrupt-<STAMP>", text)
    text = COUNTS.sub(lambda m: f"<N> {m.group(1)}" if m.group(1) else f"{m.group(2)} <N>", text)
    return DURATION.sub("<DURATION>", text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The guide's ``~/project``: a git repository with one commit."""
    project = tmp_path / "project"
    project.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Guide"],
        ["config", "user.email", "guide@example.invalid"],
        ["commit", "-q", "--allow-empty", "-m", "initial commit"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True)
    return project


def test_the_guide_runs_as_written(project: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "SESSIONCHART_STORE"},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(project.parent),
        "COLUMNS": "100",
    }
    last_id = None
    ran = 0
    for language, first, lines in blocks(GUIDE.read_text(encoding="utf-8")):
        if language == "yaml" and lines and lines[0].startswith("# file: "):
            (project / lines[0][len("# file: ") :]).write_text("\n".join(lines) + "\n")
        if language != "console":
            continue
        for step in commands(lines, first):
            command = ULID.sub(last_id, step.command) if last_id else step.command
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
                check=False,
            )
            actual = done.stdout
            ids = ULID.findall(actual)
            last_id = ids[-1] if ids else last_id
            expected = normal(step.expected, project)
            got = normal(actual, project)
            assert CHECKER.check_output(expected, got, FLAGS), (
                f"docs/user-guide.md:{step.line}: $ {step.command}\n"
                f"--- expected\n{expected}--- got\n{got}"
            )
            ran += 1
    assert ran >= 10
