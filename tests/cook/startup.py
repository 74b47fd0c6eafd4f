"""What the installed ``cook`` imports: a probe shared by the start-up tests of each command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .cli import COOK, env

__all__ = ["HEAVY", "LIGHT", "modules_of"]

HEAVY = ("statecharts", "persistence", "pydantic", "rich", "asyncio", "psycopg", "tinydb", "yaml")
LIGHT = ("statecharts", "statecharts.statuses")
"""What of the domain start-up may import: its package (which imports nothing) and its statuses."""

# Runs the installed `cook` script's own code in this interpreter, then lists the modules.
PROBE = """\
import json, runpy, sys
sys.argv = [{cook!r}, *{args!r}]
try:
    runpy.run_path({cook!r}, run_name="__main__")
except SystemExit as done:
    code = done.code
print("\\nMODULES " + json.dumps([code, sorted(sys.modules)]))
"""


def modules_of(*args: str, cwd: Path) -> tuple[int, list[str]]:
    """The exit code of ``cook args`` and every module it imported."""
    probe = PROBE.format(cook=str(COOK), args=list(args))
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    line = done.stdout.rsplit("\nMODULES ", 1)[1]
    code, modules = json.loads(line)
    return code, modules
