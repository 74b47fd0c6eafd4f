"""Running steps: output, exit codes, timeouts, cancellation, no leftover processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cook.steps import TAIL_BYTES, run_step, step_command
from cook.workflow import Step

from .processes import gone


async def test_a_successful_step(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await run_step(
        Step(shell="echo out; echo err >&2; echo $FOO"),
        tmp_path,
        {**os.environ, "FOO": "bar"},
        lines.append,
    )
    assert result.success and result.exit_code == 0
    assert lines == ["out", "err", "bar"]
    assert result.output_tail == "out\nerr\nbar\n"
    assert result.output_size == len(result.output_tail)
    assert result.duration.total_seconds() >= 0


async def test_a_failing_step_keeps_its_exit_code_and_tail(tmp_path: Path) -> None:
    result = await run_step(
        Step(shell=f"head -c {TAIL_BYTES * 3} /dev/zero | tr '\\0' x; exit 3"),
        tmp_path,
        dict(os.environ),
    )
    assert not result.success and result.exit_code == 3
    assert result.output_size == TAIL_BYTES * 3
    assert len(result.output_tail) == TAIL_BYTES


async def test_a_step_runs_in_its_directory(tmp_path: Path) -> None:
    result = await run_step(Step(shell="pwd"), tmp_path, dict(os.environ))
    assert result.output_tail.strip() == str(tmp_path)


async def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    result = await run_step(
        Step(shell=f"sleep 60 & echo $! > {pid_file}; wait", timeout=0.5),
        tmp_path,
        dict(os.environ),
    )
    assert time.monotonic() - started < 10
    assert result.timed_out and not result.success and result.exit_code is None
    assert "[timed out after 0.5 s]" in result.output_tail
    assert await asyncio.to_thread(gone, int(pid_file.read_text()))


async def test_cancelling_stops_the_step(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    task = asyncio.create_task(
        run_step(Step(shell=f"sleep 60 & echo $! > {pid_file}; wait"), tmp_path, dict(os.environ))
    )
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(gone, int(pid_file.read_text()))


async def test_a_background_child_holding_the_output_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    result = await run_step(
        Step(shell=f"sleep 60 & echo $! > {pid_file}; echo done"), tmp_path, dict(os.environ)
    )
    assert result.success and "done" in result.output_tail
    assert await asyncio.to_thread(gone, int(pid_file.read_text()))


async def test_without_setpriv_the_step_runs_unguarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no setpriv to be found
    assert step_command("true") == ["/bin/sh", "-c", "true"]
    result = await run_step(Step(shell="echo plain"), tmp_path, {"PATH": "/usr/bin:/bin"})
    assert result.success and "plain" in result.output_tail


def test_the_guard_runs_the_step_as_its_own_argument() -> None:
    command = step_command("echo 'a b' \"$HOME\"")
    assert command[-1] == "echo 'a b' \"$HOME\""  # passed through, never re-quoted
    assert "--pdeathsig" in command
