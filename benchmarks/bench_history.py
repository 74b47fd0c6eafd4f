"""A store-backed manager holds O(1) per session (issue #11, part 1), beside the old one.

    python benchmarks/bench_history.py [--quick] [--sessions N] [--events N] [--baseline REV]

In one run, for this tree and for ``--baseline`` (default: the revision before
the redesign), each scenario in a fresh process:

- **memory per idle session**: a store of N sessions with 1,000 events each;
  a fresh manager opens it and uses every session (resumes and pauses it: the
  session is loaded, written, checkpointed and let go); tracemalloc's count
  of what stays allocated, divided by N.  Also the same for sessions driven
  from their first event by the measuring process itself (fewer of them);
- **a session of 1,000,000 events** (never checkpointed by hand), driven by
  one manager: the resident memory at every 100,000th event (flat?); then a
  fresh process opens the store and answers ``get_state`` (time, growth of
  its resident memory), and ``cook sessions`` and ``cook show`` run on it
  (time, their whole resident memory beside ``cook --version``'s); the same
  after a SIGKILL in the middle of a run;
- **the live path**: ``record_event`` with ``batched`` durability, events/s
  (best of 3 rounds);
- **replay and verify** of the long session, events/s.

The baseline runs the long session with fewer events (``--old-events``,
default 200,000: its memory grows with every event) and fewer sessions
(``--old-sessions``).  No figure is asserted; ``docs/performance.md`` records them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from baseline import (
    DEFAULT_BASELINE,
    checkout,
    child,
    first_figures,
    line,
    report,
    rss_kb,
    spawn,
    store_path,
)

from persistence import TinyDBSessionStorage, verify
from statecharts import InMemorySessionManager, SessionConfig, SessionId, events

# A child given a baseline imports that revision's persistence and statecharts (its
# directory comes first on PYTHONPATH); the scenarios use only what both offer.
SCRIPT = Path(__file__).resolve()
CONFIG = SessionConfig(project_path=Path("/work/project"), max_iterations=10_000_000)


def mix() -> Iterator[Any]:
    """The event mix, forever: an iteration started, three commands, the iteration completed."""
    number = 0
    while True:
        number += 1
        yield events.IterationStarted(number=number)
        for _ in range(3):
            yield events.CommandExecuted(command="make test", success=True, exit_code=0)
        yield events.IterationCompleted()


async def drive(manager: InMemorySessionManager, sid: SessionId, count: int) -> None:
    """``count`` events of the mix (the session was started)."""
    source = mix()
    for _ in range(count):
        await manager.record_event(sid, next(source))


def opened(directory: Path, layout: str, durability: str) -> TinyDBSessionStorage:
    """The store of ``layout`` in ``directory``."""
    return TinyDBSessionStorage(store_path(directory, layout), durability)  # type: ignore[arg-type]


# -- the scenarios (run in a child) --------------------------------------------------------------
async def build(directory: Path, layout: str, sessions: int, count: int) -> None:
    """A store of ``sessions`` paused sessions of ``count`` events each."""
    manager = await InMemorySessionManager.open(opened(directory, layout, "none"))
    for _ in range(sessions):
        sid = await manager.create_session(CONFIG)
        await manager.start_session(sid)
        await drive(manager, sid, count - 2)
        await manager.pause_session(sid, "idle")
    await manager.aclose()
    report({"built": sessions})


async def idle_memory(directory: Path, layout: str) -> None:
    """Open the store, use every session once, and count what stays allocated per session."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    manager = await InMemorySessionManager.open(opened(directory, layout, "none"))
    ids = [info.id for info in await manager.list_sessions()]
    for sid in ids:
        await manager.resume_session(sid)
        await manager.pause_session(sid, "idle")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    report({"per_session": (after - before) / len(ids), "sessions": len(ids)})


async def driven_memory(directory: Path, layout: str, sessions: int, count: int) -> None:
    """Drive sessions from their start under tracemalloc, pause them, count what stays."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    manager = await InMemorySessionManager.open(opened(directory, layout, "none"))
    for _ in range(sessions):
        sid = await manager.create_session(CONFIG)
        await manager.start_session(sid)
        await drive(manager, sid, count - 2)
        await manager.pause_session(sid, "idle")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    report({"per_session": (after - before) / sessions, "sessions": sessions})


async def long_session(directory: Path, layout: str, count: int, keep_going: bool) -> None:
    """One session of ``count`` events; resident memory every 100,000 events.

    With ``keep_going``, report at ``count`` and carry on (to be killed mid-run).
    """
    manager = await InMemorySessionManager.open(opened(directory, layout, "batched"))
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    source = mix()
    samples: dict[str, int] = {}
    step = 100_000
    for done in range(1, count):
        await manager.record_event(sid, next(source))
        if done % step == 0:
            samples[str(done)] = rss_kb()
    report({"rss_kb": samples})
    while keep_going:
        await manager.record_event(sid, next(source))
    await manager.aclose()


async def open_long(directory: Path, layout: str) -> None:
    """A fresh process: open the store, answer ``get_state`` of its session."""
    before = rss_kb()
    start = time.perf_counter()
    manager = await InMemorySessionManager.open(opened(directory, layout, "batched"))
    (info,) = await manager.list_sessions()
    state = await manager.get_state(info.id)
    took = time.perf_counter() - start
    report({"seconds": took, "rss_growth_kb": rss_kb() - before, "status": state.status})
    await manager.aclose()


async def rate(directory: Path, layout: str, count: int) -> None:
    """``record_event`` (batched durability) on a fresh session: events/s, best of 3."""
    best = 0.0
    for round_number in range(3):
        store = opened(directory / f"round{round_number}", layout, "batched")
        manager = await InMemorySessionManager.open(store)
        sid = await manager.create_session(CONFIG)
        await manager.start_session(sid)
        gc.collect()
        start = time.perf_counter()
        await drive(manager, sid, count)
        best = max(best, count / (time.perf_counter() - start))
        await manager.aclose()
    report({"events_per_s": best})


async def replay(directory: Path, layout: str) -> None:
    """Replay and verify every session of the store: events/s."""
    store = opened(directory, layout, "none")
    start = time.perf_counter()
    checked = await verify(store)
    took = time.perf_counter() - start
    await store.close()
    report({"events_per_s": checked.events / took, "ok": checked.ok})


def run_child(name: str, args: list[str]) -> None:
    """Run the scenario a parent asked for."""
    directory, layout, numbers = Path(args[0]), args[1], [int(a) for a in args[2:]]
    scenarios = {
        "build": lambda: build(directory, layout, numbers[0], numbers[1]),
        "idle": lambda: idle_memory(directory, layout),
        "driven": lambda: driven_memory(directory, layout, numbers[0], numbers[1]),
        "long": lambda: long_session(directory, layout, numbers[0], bool(numbers[1])),
        "open": lambda: open_long(directory, layout),
        "rate": lambda: rate(directory, layout, numbers[0]),
        "replay": lambda: replay(directory, layout),
    }
    asyncio.run(scenarios[name]())


# -- the parent ------------------------------------------------------------------------------------
def cook_run(arguments: list[str], baseline: Path | None) -> tuple[float, int]:
    """Seconds and peak resident KiB of ``python -m cook ARGUMENTS`` (best of 3 for the time)."""
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(baseline), env.get("PYTHONPATH", "")])
    best, peak = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "cook", *arguments],
            env=env,
            cwd=tempfile.gettempdir(),  # not this tree: ``-m`` puts the directory first
            capture_output=True,
            text=True,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"cook {arguments} failed: {done.stderr[-2000:]}")
        peak = int(done.stderr.strip().splitlines()[-1])
    return best, peak


def long_figures(
    base: Path, layout: str, count: int, baseline: Path | None, *, killed: bool
) -> dict[str, Any]:
    """The long session's figures: resident memory while driven, then a fresh process's."""
    directory = base / f"long-{layout}-{'killed' if killed else 'closed'}"
    process = spawn(SCRIPT, "long", directory, layout, count, int(killed), baseline=baseline)
    try:
        figures = first_figures(process)
    finally:
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
    os.sync()
    figures["open"] = child(SCRIPT, "open", directory, layout, baseline=baseline)
    location = str(directory)
    figures["cook_sessions"] = cook_run(["sessions", "--store", location], baseline)
    (sid,) = [p.name for p in (directory / "sessions").iterdir()] if layout == "new" else [""]
    if sid:
        figures["cook_show"] = cook_run(["show", sid, "--store", location], baseline)
    figures["cook_version"] = cook_run(["--version"], baseline)
    return figures


def print_long(name: str, count: int, figures: dict[str, Any]) -> None:
    """The long session's rows."""
    samples = figures["rss_kb"]
    if samples:
        first, last = samples[min(samples, key=int)], samples[max(samples, key=int)]
        line(
            f"{name}: driving {count:,} events, resident memory",
            f"{first / 1024:.0f} -> {last / 1024:.0f} MB",
            f"+{(last - first) / 1024:.1f} MB from the first to the last 100,000th event",
        )
    opening = figures["open"]
    line(
        f"{name}: a fresh process opens it and answers get_state",
        f"{opening['seconds']:.2f} s",
        f"+{opening['rss_growth_kb'] / 1024:.1f} MB resident (goals < 1 s, < 10 MB)",
    )
    version_peak = figures["cook_version"][1]
    for command in ("cook_sessions", "cook_show"):
        if command in figures:
            seconds, peak = figures[command]
            line(
                f"{name}: {command.replace('_', ' ')}",
                f"{seconds:.2f} s",
                f"{peak / 1024:.0f} MB peak; cook --version {version_peak / 1024:.0f} MB",
            )


def main() -> None:
    """Measure both trees and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--old-sessions", type=int, default=200)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--old-events", type=int, default=200_000)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="the revision to compare")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(options.child[0], options.child[1:])
        return
    quick = options.quick
    sessions, old_sessions = (500, 50) if quick else (options.sessions, options.old_sessions)
    count, old_count = (200_000, 50_000) if quick else (options.events, options.old_events)
    baseline = checkout(options.baseline)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        base = Path(scratch)
        print(f"history benchmark in {base} (Python {sys.version.split()[0]})")
        for layout, n, tree in (("new", sessions, None), ("old", old_sessions, baseline)):
            child(SCRIPT, "build", base / f"idle-{layout}", layout, n, 1000, baseline=tree)
            idle = child(SCRIPT, "idle", base / f"idle-{layout}", layout, baseline=tree)
            line(
                f"{layout} tree: memory per idle session ({n:,} of 1,000 events)",
                f"{idle['per_session']:,.0f} B",
                "goal <= 4,096 B" if layout == "new" else "",
            )
            driven = child(
                SCRIPT, "driven", base / f"driven-{layout}", layout, 100, 1000, baseline=tree
            )
            line(
                f"{layout} tree: the same, driven here from their start (100)",
                f"{driven['per_session']:,.0f} B",
            )
        rates = {
            layout: child(SCRIPT, "rate", base / f"rate-{layout}", layout, 50_000, baseline=tree)
            for layout, tree in (("new", None), ("old", baseline))
        }
        line(
            "record_event, batched durability: this tree",
            f"{rates['new']['events_per_s']:,.0f} /s",
            f"{rates['new']['events_per_s'] / rates['old']['events_per_s']:.0%} of the old tree's",
        )
        line(
            "record_event, batched durability: the old tree",
            f"{rates['old']['events_per_s']:,.0f} /s",
        )
        for killed in (False, True):
            how = "killed mid-run" if killed else "closed"
            new = long_figures(base, "new", count, None, killed=killed)
            print_long(f"new tree, {how}", count, new)
        old = long_figures(base, "old", old_count, baseline, killed=False)
        print_long("old tree, closed", old_count, old)
        replayed = child(SCRIPT, "replay", base / "long-new-closed", "new")
        line(
            f"replay and verify of the {count:,}-event session",
            f"{replayed['events_per_s']:,.0f} /s",
            "goal >= 100,000/s",
        )


if __name__ == "__main__":
    main()
