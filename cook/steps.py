"""Running one workflow step: a shell command in its own process group, with a timeout.

The step's output (stdout and stderr together) is counted, its tail kept for the
event log, and streamed line by line to ``on_output`` when one is given (from a
reader thread).  A step that times out, or whose task is cancelled (Ctrl-C), has
its whole process group terminated — ``SIGTERM``, then ``SIGKILL`` after a grace
period — and so does a background child still holding the output once the step
itself has exited: no process a step started is left running.

If the cook itself dies without a chance to clean up (SIGKILL, a crash), the
step must not run on unseen beside the rerun of its iteration.  So the step's
shell runs under a small guard shell, the leader of its process group, which
the kernel signals when the cook dies (``setpriv --pdeathsig``, from
util-linux); the guard then stops its group the same way, SIGTERM then SIGKILL.
Where ``setpriv`` is missing the step runs unguarded, as a plain ``sh -c``.

Processes are waited for with ``subprocess`` in worker threads rather than
asyncio's subprocess support, which reports an exit only once every holder of
the output pipe has closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from .workflow import Step

__all__ = ["CANNOT_START", "TAIL_BYTES", "StepResult", "run_step"]

TAIL_BYTES = 4096
"""How much of the end of a step's output the event log keeps."""

LINE_BYTES = 64 * 1024
"""The longest line streamed to ``on_output``: a longer one is passed on in pieces."""

CHUNK_BYTES = 64 * 1024
"""How much of a step's output is read at a time (its memory never grows with the output)."""

CANNOT_START = 126
"""The exit code recorded for a step whose process could not be started (as the shell does)."""

GRACE_SECONDS = 3.0
"""How long a process group has between SIGTERM and SIGKILL."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one run of a step did."""

    success: bool
    exit_code: int | None
    duration: timedelta
    output_size: int
    output_tail: str
    timed_out: bool = False


class _Output:
    """Reads a step's output to its end: size, tail, and lines to a callback."""

    def __init__(self, on_output: Callable[[str], None] | None) -> None:
        self.on_output = on_output
        self.size = 0
        self.tail = bytearray()

    def pump(self, stream: IO[bytes]) -> None:
        """Read ``stream`` to its end, a chunk at a time (a line may be endless)."""
        pending = b""
        with stream:
            while chunk := stream.read1(CHUNK_BYTES):  # type: ignore[attr-defined]
                self.size += len(chunk)
                self.tail.extend(chunk)
                if len(self.tail) > TAIL_BYTES:
                    del self.tail[: len(self.tail) - TAIL_BYTES]
                if self.on_output is not None:
                    *lines, pending = (pending + chunk).split(b"\n")
                    while len(pending) > LINE_BYTES:
                        lines.append(pending[:LINE_BYTES])
                        pending = pending[LINE_BYTES:]
                    for line in lines:
                        self.on_output(line.decode("utf-8", "replace"))
        if pending and self.on_output is not None:
            self.on_output(pending.decode("utf-8", "replace"))


_GUARD = (
    f"trap 'trap \"\" TERM; kill -TERM 0; sleep {GRACE_SECONDS:g}; kill -KILL 0' USR1; "
    '/bin/sh -c "$1" & wait $!'
)
"""The guard: runs the step (``$1``) and, told that the cook died (USR1), stops the group."""


def step_command(shell: str) -> list[str]:
    """The argv that runs ``shell`` in a new process group, guarded when ``setpriv`` exists."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ["/bin/sh", "-c", shell]
    return [setpriv, "--pdeathsig", "USR1", "/bin/sh", "-c", _GUARD, "cook-step", shell]


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _stop(process: subprocess.Popen[bytes], reader: threading.Thread) -> None:
    """Terminate the step's group, then kill what is left after the grace period."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(GRACE_SECONDS)
    reader.join(GRACE_SECONDS if process.returncode is None else 0.5)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()
    reader.join()


def _finish(process: subprocess.Popen[bytes], reader: threading.Thread) -> None:
    """After the step exited: wait for its output to end, stopping children that hold it."""
    reader.join(GRACE_SECONDS)
    if reader.is_alive():
        _stop(process, reader)


def _spawn(step: Step, cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start the step's process, in a process group of its own, its output on one pipe."""
    return subprocess.Popen(  # noqa: S603 - running the workflow's commands is the job
        step_command(step.shell),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def run_step(
    step: Step,
    cwd: Path,
    env: Mapping[str, str],
    on_output: Callable[[str], None] | None = None,
) -> StepResult:
    """Run ``step`` in ``cwd`` with ``env``; cancelling the caller stops the step.

    A step whose process cannot be started (its directory gone, its environment
    too large for the system...) fails with exit code :data:`CANNOT_START` and
    the reason in its output.
    """
    started = time.monotonic()
    try:
        process = _spawn(step, cwd, env)
    except (OSError, ValueError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return StepResult(
            success=False,
            exit_code=CANNOT_START,
            duration=timedelta(seconds=time.monotonic() - started),
            output_size=0,
            output_tail=f"cook: cannot start the step: {why}",
        )
    assert process.stdout is not None
    output = _Output(on_output)
    reader = threading.Thread(target=output.pump, args=(process.stdout,), daemon=True)
    reader.start()
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.to_thread(process.wait), step.timeout)
        await asyncio.to_thread(_finish, process, reader)
    except TimeoutError:
        timed_out = True
        await asyncio.to_thread(_stop, process, reader)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(_stop, process, reader))
        raise
    text = output.tail.decode("utf-8", "replace")
    if timed_out:
        text += f"\n[timed out after {step.timeout:g} s]"
    return StepResult(
        success=not timed_out and process.returncode == 0,
        exit_code=None if timed_out else process.returncode,
        duration=timedelta(seconds=time.monotonic() - started),
        output_size=output.size,
        output_tail=text,
        timed_out=timed_out,
    )
