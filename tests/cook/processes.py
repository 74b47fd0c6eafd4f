"""Whether a process is still running, for the tests that check nothing outlives a step."""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet does not count).

    The process may exit between opening its ``stat`` file and reading it: reading then
    fails with ``ESRCH`` (``ProcessLookupError``), which means gone, as a missing file does.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone(pid: int, timeout: float = 10) -> bool:
    """Wait until process ``pid`` is not running, for at most ``timeout`` seconds.

    A stopped process takes its time to die on a busy machine: asserting right after a
    fixed sleep is a race.
    """
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
