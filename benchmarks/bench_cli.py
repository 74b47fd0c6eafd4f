"""How fast ``cook`` starts, beside the interpreter's own start, in one run.

    python benchmarks/bench_cli.py [--runs N]

Times (wall clock, a fresh process each) ``cook --help``, ``cook --version`` and
``cook run`` with its argument missing (a usage error), against the baselines
``python -c pass`` and ``python -c "import argparse"``, all with the interpreter
of this virtual environment.  The commands take turns, round after round, so
that a busy moment of the machine hits them all alike; the figure is the median
of ``--runs`` rounds (default 40).  No figure is asserted (the test of start-up
is ``tests/cook/test_startup.py``, which checks what is imported).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable
COOK = str(Path(sys.executable).with_name("cook"))

COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": [PYTHON, "-c", "pass"],
    'python -c "import argparse" (baseline)': [PYTHON, "-c", "import argparse"],
    "cook --help": [COOK, "--help"],
    "cook --version": [COOK, "--version"],
    "cook run (an argument missing: exit 2)": [COOK, "run"],
}


def once(command: list[str]) -> float:
    """Seconds one run of ``command`` takes, start to exit."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="rounds (default 40)")
    runs = parser.parse_args().runs
    for command in COMMANDS.values():  # warm the file cache
        once(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(once(command))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"median of {runs} runs each, Python {sys.version.split()[0]}\n")
    print(f"| {'command':<40} | median | over `python -c pass` |")
    print(f"|{'-' * 42}|-------:|---------------------:|")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"| {name:<40} | {median * 1000:3.0f} ms | {(median - base) * 1000:+17.0f} ms |")


if __name__ == "__main__":
    main()
