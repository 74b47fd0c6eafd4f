"""A store that scales with the number of sessions (issue #11, part 2), beside the old layout.

    python benchmarks/bench_scale.py [--quick] [--sessions N] [--old-sessions N] [--baseline REV]

In one run, for the store of this tree (layout 2: a directory per session) and
for the store of ``--baseline`` (default: the revision before the redesign,
layout 1: one ``sessions.json`` for every session), each in a fresh process:

- creating, starting and giving one event to N sessions (durability ``none``):
  the time per session around session 100 and around the last one, and the
  most descriptors open meanwhile;
- the process is then killed (SIGKILL) with every session running, and a
  fresh process opens the store: how long recovering them all takes;
- ``cook sessions`` on that store (wall clock, best of 3), beside
  ``cook --version`` (the interpreter's and the CLI's start).

The old layout is measured on fewer sessions (``--old-sessions``, default
2,000): it costs more at each new session, 20 minutes for 10,000.  No figure is
asserted; ``docs/performance.md`` records them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import (
    DEFAULT_BASELINE,
    checkout,
    child,
    first_figures,
    line,
    open_fds,
    report,
    spawn,
    store_path,
)

from persistence import TinyDBSessionStorage
from statecharts import InMemorySessionManager, SessionConfig

# A child given a baseline imports that revision's persistence and statecharts (its
# directory comes first on PYTHONPATH); the scenarios use only what both offer.
SCRIPT = Path(__file__).resolve()
WINDOW = 100


# -- the scenarios (run in a child: this tree's code, or the baseline's) ------------------------
async def create(directory: Path, layout: str, count: int) -> None:
    """Create, start and give one event to ``count`` sessions; report; then wait to be killed."""
    config = SessionConfig(project_path=Path("/work/project"), max_iterations=100)
    manager = await InMemorySessionManager.open(
        TinyDBSessionStorage(store_path(directory, layout), "none")
    )
    times: list[float] = []
    most_fds = open_fds()
    for index in range(count):
        start = time.perf_counter()
        sid = await manager.create_session(config)
        await manager.start_session(sid)
        await manager.send(sid, "iteration_started", number=1)
        times.append(time.perf_counter() - start)
        if index % 500 == 0:
            most_fds = max(most_fds, open_fds())
    most_fds = max(most_fds, open_fds())
    early = sum(times[WINDOW : 2 * WINDOW]) / WINDOW
    late = sum(times[-WINDOW:]) / WINDOW
    report({"early_ms": early * 1e3, "late_ms": late * 1e3, "total_s": sum(times), "fds": most_fds})
    time.sleep(3600)  # every session running: the parent kills us


async def recover(directory: Path, layout: str) -> None:
    """Open the store in a fresh process (recovering what the killed one left running)."""
    start = time.perf_counter()
    manager = await InMemorySessionManager.open(
        TinyDBSessionStorage(store_path(directory, layout), "batched")
    )
    opened = time.perf_counter() - start
    paused = len(await manager.list_sessions(["paused"]))
    await manager.aclose()
    report({"open_s": opened, "paused": paused})


def run_child(name: str, args: list[str]) -> None:
    """Run the scenario a parent asked for."""
    directory, layout = Path(args[0]), args[1]
    if name == "create":
        asyncio.run(create(directory, layout, int(args[2])))
    elif name == "recover":
        asyncio.run(recover(directory, layout))
    else:
        raise SystemExit(f"unknown scenario {name}")


# -- the parent ------------------------------------------------------------------------------------
def cook_time(arguments: list[str], baseline: Path | None) -> float:
    """Best of 3 wall-clock seconds of ``python -m cook ARGUMENTS`` (with the tree's code)."""
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(baseline), env.get("PYTHONPATH", "")])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(  # not in this tree: ``-m`` puts the working directory first
            [sys.executable, "-m", "cook", *arguments],
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"cook {arguments} failed: {done.stderr.decode()[-2000:]}")
    return best


def measure(layout: str, count: int, base: Path, baseline: Path | None) -> dict[str, float]:
    """Every figure of one layout (see the module's documentation)."""
    directory = base / layout
    process = spawn(SCRIPT, "create", directory, layout, count, baseline=baseline)
    try:
        figures = first_figures(process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    os.sync()  # what the killed process wrote (without syncing) is not the recovery's to flush
    figures.update(child(SCRIPT, "recover", directory, layout, baseline=baseline))
    figures["cook_sessions_s"] = cook_time(["sessions", "--store", str(directory)], baseline)
    figures["cook_version_s"] = cook_time(["--version"], baseline)
    return figures


def main() -> None:
    """Measure both layouts and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sessions (a smoke run)")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--old-sessions", type=int, default=2_000)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="the revision to compare")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(options.child[0], options.child[1:])
        return
    new_count = 1_000 if options.quick else options.sessions
    old_count = 500 if options.quick else options.old_sessions
    baseline = checkout(options.baseline)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        base = Path(scratch)
        print(f"sessions benchmark in {base} (Python {sys.version.split()[0]})")
        new = measure("new", new_count, base, None)
        old = measure("old", old_count, base, baseline)
    for name, count, figures in (("layout 2", new_count, new), ("layout 1", old_count, old)):
        growth = figures["late_ms"] / figures["early_ms"]
        line(
            f"{name}: create+start+1 event, sessions 100-200",
            f"{figures['early_ms']:.2f} ms",
            "per session",
        )
        line(
            f"{name}: the same, the last 100 of {count:,}",
            f"{figures['late_ms']:.2f} ms",
            f"{growth:.0%} of sessions 100-200 (goal <= 120%)",
        )
        line(f"{name}: descriptors open, most", f"{figures['fds']:,.0f}", "goal <= 256")
        line(
            f"{name}: open recovering {count:,} sessions of a killed process",
            f"{figures['open_s']:.2f} s",
            f"{figures['paused']:,} paused (goal < 5 s)",
        )
        line(
            f"{name}: cook sessions on {count:,} sessions",
            f"{figures['cook_sessions_s']:.2f} s",
            f"cook --version: {figures['cook_version_s']:.2f} s (goal < 1 s)",
        )


if __name__ == "__main__":
    main()
