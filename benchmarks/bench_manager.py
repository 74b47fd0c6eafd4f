"""The in-memory session manager against the bare chart, in one run.

    python benchmarks/bench_manager.py [--quick]

Prints events/s through ``record_event`` for one session and in aggregate for
1,000 sessions driven concurrently, beside python-statemachine's own ``send()``
on a chart instance (the baseline, measured on the same event mix in the same
run), and the memory each idle session costs over 10,000 sessions (tracemalloc),
beside a chart instance's.  Every rate is the best of several rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from statecharts import InMemorySessionManager, SessionChart, SessionConfig, SessionId, events

COMMANDS_PER_ITERATION = 3
EVENTS_PER_ITERATION = COMMANDS_PER_ITERATION + 2


def iteration_events(number: int) -> Iterator[Any]:
    """One iteration of the benchmark's mix: start, three commands, completion."""
    yield events.IterationStarted(number=number)
    for _ in range(COMMANDS_PER_ITERATION):
        yield events.CommandExecuted(command="make test", success=True)
    yield events.IterationCompleted()


def best_rate(rounds: int, run: Callable[[], tuple[int, float]]) -> float:
    """The best events/s over ``rounds`` runs of ``run`` (which returns count, seconds)."""
    rates = []
    for _ in range(rounds):
        count, seconds = run()
        rates.append(count / seconds)
    return max(rates)


def bare_chart(iterations: int) -> tuple[int, float]:
    """The baseline: the same events through ``SessionChart.send`` on one instance."""
    chart = SessionChart(max_iterations=iterations)
    chart.send("started")
    gc.collect()  # every round starts from a collected heap
    start = time.perf_counter()
    for number in range(1, iterations + 1):
        chart.send("iteration_started", number=number)
        for _ in range(COMMANDS_PER_ITERATION):
            chart.send("command_executed", command="make test", success=True)
        chart.send("iteration_completed")
    return iterations * EVENTS_PER_ITERATION, time.perf_counter() - start


def config(iterations: int, index: int = 0) -> SessionConfig:
    """A distinct config per session, as real sessions have."""
    return SessionConfig(project_path=Path(f"/work/project-{index}"), max_iterations=iterations)


async def drive(manager: InMemorySessionManager, sid: SessionId, iterations: int) -> None:
    """Record the mix for ``iterations`` iterations."""
    for number in range(1, iterations + 1):
        for event in iteration_events(number):
            await manager.record_event(sid, event)


def one_session(iterations: int) -> tuple[int, float]:
    """``record_event`` on one session."""

    async def main() -> tuple[int, float]:
        manager = InMemorySessionManager()
        sid = await manager.create_session(config(iterations))
        await manager.start_session(sid)
        gc.collect()  # every round starts from a collected heap
        start = time.perf_counter()
        await drive(manager, sid, iterations)
        elapsed = time.perf_counter() - start
        manager.close()
        return iterations * EVENTS_PER_ITERATION, elapsed

    return asyncio.run(main())


def by_name(iterations: int) -> tuple[int, float]:
    """``send`` by event name (payload validated from keywords) on one session."""

    async def main() -> tuple[int, float]:
        manager = InMemorySessionManager()
        sid = await manager.create_session(config(iterations))
        await manager.start_session(sid)
        gc.collect()  # every round starts from a collected heap
        start = time.perf_counter()
        for number in range(1, iterations + 1):
            await manager.send(sid, "iteration_started", number=number)
            for _ in range(COMMANDS_PER_ITERATION):
                await manager.send(sid, "command_executed", command="make test", success=True)
            await manager.send(sid, "iteration_completed")
        elapsed = time.perf_counter() - start
        manager.close()
        return iterations * EVENTS_PER_ITERATION, elapsed

    return asyncio.run(main())


def many_sessions(sessions: int, iterations: int) -> tuple[int, float]:
    """``record_event`` on ``sessions`` sessions, one asyncio task each, all at once."""

    async def main() -> tuple[int, float]:
        manager = InMemorySessionManager()
        ids = [await manager.create_session(config(iterations, i)) for i in range(sessions)]
        for sid in ids:
            await manager.start_session(sid)

        async def task(sid: SessionId) -> None:
            for number in range(1, iterations + 1):
                for event in iteration_events(number):
                    await manager.record_event(sid, event)
                await asyncio.sleep(0)  # interleave the sessions

        gc.collect()  # every round starts from a collected heap
        start = time.perf_counter()
        await asyncio.gather(*(task(sid) for sid in ids))
        elapsed = time.perf_counter() - start
        manager.close()
        return sessions * iterations * EVENTS_PER_ITERATION, elapsed

    return asyncio.run(main())


def memory_per_idle_session(count: int) -> float:
    """Bytes per session created and started (running, idle), over ``count`` sessions."""

    async def main() -> float:
        manager = InMemorySessionManager()
        configs = [config(5, i) for i in range(count)]  # configs are the caller's, not ours
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for item in configs:
            await manager.start_session(await manager.create_session(item))
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        manager.close()
        return used / count

    return asyncio.run(main())


def memory_per_chart(count: int) -> float:
    """Bytes per python-statemachine chart instance, started."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    charts = []
    for _ in range(count):
        chart = SessionChart(max_iterations=5)
        chart.send("started")
        charts.append(chart)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count


def verdict(ok: bool) -> str:
    """PASS or MISS, for the goal lines."""
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    rounds = 2 if args.quick else 3

    chart_rate = best_rate(rounds, lambda: bare_chart(2_000 // scale))
    one_rate = best_rate(rounds, lambda: one_session(10_000 // scale))
    name_rate = best_rate(rounds, lambda: by_name(10_000 // scale))
    many_rate = best_rate(rounds, lambda: many_sessions(1_000, 10 // min(scale, 10) or 1))
    idle = memory_per_idle_session(10_000 // scale)
    chart_size = memory_per_chart(1_000 // scale)

    print(
        f"python {sys.version.split()[0]}, event mix: iteration_started, "
        f"{COMMANDS_PER_ITERATION} x command_executed, iteration_completed"
    )
    print(f"bare chart send()                 {chart_rate:>10,.0f} events/s   (baseline)")
    print(
        f"record_event, 1 session           {one_rate:>10,.0f} events/s   "
        f"{one_rate / chart_rate:6.1f} x baseline"
    )
    print(
        f"send() by name, 1 session         {name_rate:>10,.0f} events/s   "
        f"{name_rate / chart_rate:6.1f} x baseline"
    )
    print(
        f"record_event, 1,000 sessions      {many_rate:>10,.0f} events/s   "
        f"{many_rate / one_rate:6.1%} of 1 session"
    )
    print(
        f"memory per idle session           {idle:>10,.0f} bytes      "
        f"(a chart instance: {chart_size:,.0f} bytes)"
    )
    print()
    print(
        f"goal: 1 session >= 70% of the bare chart         "
        f"{verdict(one_rate >= 0.7 * chart_rate)} ({one_rate / chart_rate:.0%})"
    )
    print(
        f"goal: 1,000 sessions >= 80% of 1 session         "
        f"{verdict(many_rate >= 0.8 * one_rate)} ({many_rate / one_rate:.0%})"
    )
    print(
        f"goal: <= 4 KB per idle session                   "
        f"{verdict(idle <= 4096)} ({idle:,.0f} bytes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
