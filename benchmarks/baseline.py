"""Running a benchmark's scenario on this tree and on an earlier one, in the same run.

A scenario is a function of a benchmark script that a child process runs
(``python benchmarks/bench_x.py --child NAME ARGS...``) and that prints one
JSON line: its figures.  :func:`child` runs it on this tree, or — given
``baseline``, a checkout of an earlier revision made by :func:`checkout` — on
that revision's ``statecharts``/``persistence``/``cook`` (its directory comes
first on ``PYTHONPATH``), so that both are measured on the same machine at
the same time.  A scenario uses only what both versions offer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "c923cdf"
"""The revision before the store's redesign (issues #10 and #11)."""


def checkout(revision: str) -> Path:
    """A checkout of ``revision`` of this repository (a detached git worktree, made once)."""
    place = Path(tempfile.gettempdir()) / f"sessionchart-baseline-{revision}"
    if not (place / "persistence").is_dir():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(place), revision],
            check=True,
            capture_output=True,
        )
    return place


def child(
    script: Path,
    name: str,
    *args: object,
    baseline: Path | None = None,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run scenario ``name`` of ``script`` in a fresh process; returns the figures it printed."""
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(baseline), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(script), "--child", name, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"scenario {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def report(figures: dict[str, Any]) -> None:
    """Print a scenario's figures as its one JSON line (what :func:`child` reads)."""
    print(json.dumps(figures), flush=True)


def rss_kb() -> int:
    """This process's resident set size now, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds() -> int:
    """How many descriptors this process has open now."""
    return len(os.listdir("/proc/self/fd"))


def line(what: str, figure: str, note: str = "") -> None:
    """One row of a benchmark's table."""
    print(f"  {what:<62} {figure:>16}  {note}", flush=True)


def spawn(script: Path, name: str, *args: object, baseline: Path | None = None) -> Any:
    """Start scenario ``name`` in a child that keeps running (to be killed): its ``Popen``."""
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(baseline), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(script), "--child", name, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def first_figures(process: Any) -> dict[str, Any]:
    """The first JSON line a spawned child prints (it keeps running after)."""
    for text in process.stdout:
        if text.startswith("{"):
            figures: dict[str, Any] = json.loads(text)
            return figures
    raise RuntimeError(f"the child ended ({process.wait()}) without its figures")


def store_path(directory: Path, layout: str) -> Path:
    """What the store's constructor takes: the database file (layout 1) or the directory."""
    return directory / "sessions.json" if layout == "old" else directory
