"""Running the installed ``cook`` command in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COOK = Path(sys.executable).with_name("cook")


@dataclass
class Done:
    """What a ``cook`` command did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def env(**extra: str) -> dict[str, str]:
    """The environment of a cook command: no inherited store, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if k != "SESSIONCHART_STORE"}
    return {**base, **extra}


def cook(*args: str | Path, cwd: Path, timeout: float = 120, **extra: str) -> Done:
    """Run ``cook args`` in ``cwd`` and wait for it."""
    done = subprocess.run(
        [str(COOK), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(**extra),
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def start(*args: str | Path, cwd: Path, **extra: str) -> subprocess.Popen[str]:
    """Start ``cook args`` in ``cwd`` without waiting."""
    return subprocess.Popen(
        [str(COOK), *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
    )


def wait_for(path: Path, timeout: float = 60) -> None:
    """Wait until ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


def only_session(cwd: Path) -> dict[str, Any]:
    """The one session in the project's store, as ``cook sessions --json`` gives it."""
    (session,) = cook("sessions", "--json", cwd=cwd).json()
    return session  # type: ignore[no-any-return]


def write_workflow(path: Path, text: str) -> Path:
    """Write a workflow file."""
    path.write_text(text, encoding="utf-8")
    return path
