"""Signals at any moment of a run, and steps that misbehave: one clean outcome each."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli import COOK, cook, env, start, write_workflow
from .repos import sh

SLOW = "steps:\n  - shell: 'echo \"$COOK_ITERATION\" >> slow.txt; sleep 0.5'\n"


def started(pid: int) -> bool:
    """Whether cook's main() runs: it blocks SIGTERM at once (until its handlers are in place)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    blocked = int(status.split("SigBlk:")[1].split()[0], 16)
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    return bool((blocked | caught) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=str)
def test_a_signal_at_any_moment_of_a_start(repo: Path, tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C while cook starts: no traceback, exit 130, and nothing half made — no store
    without a session, no worktree or branch without a session, no session left running."""
    workflow = write_workflow(tmp_path / "wf.yaml", SLOW)
    for number, delay in enumerate((0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5)):
        store = tmp_path / f"store-{number}"
        name = f"w{number}"
        runner = start("run", workflow, "-n", "3", "--worktree", name, "--store", store, cwd=repo)
        deadline = time.monotonic() + 30
        while not started(runner.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        runner.send_signal(sig)
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 130, (delay, out, err)
        assert "Traceback" not in err
        listed = cook("sessions", "--json", "--store", store, cwd=repo)
        if listed.code == 3:  # stopped before the session existed: nothing was made
            assert err == "cook: interrupted\n", (delay, err)
            assert not (repo / ".sessionchart" / "worktrees" / name).exists()
            assert sh(repo, "git", "branch", "--list", f"sessionchart/{name}") == ""
        else:
            (session,) = listed.json()
            assert session["state"]["status"] == "paused", (delay, session["state"])
            assert session["state"]["reason"] == f"interrupted by {sig.name}"
            assert f"resume it with: cook resume {session['id']}" in out
            assert err == ""


def test_a_signal_ignored_at_start_stays_ignored(repo: Path, tmp_path: Path) -> None:
    """`nohup cook run ...`: a hang-up must not pause the session."""
    workflow = write_workflow(tmp_path / "wf.yaml", SLOW)
    runner = subprocess.Popen(
        [str(COOK), "run", str(workflow), "-n", "2"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # noqa: PLW1509
    )
    time.sleep(1)
    runner.send_signal(signal.SIGHUP)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    assert ": completed" in out


def test_a_read_command_ends_cleanly_on_sigterm(repo: Path, tmp_path: Path) -> None:
    """SIGTERM (or a hang-up) ends a reading command as Ctrl-C does, not with a traceback."""
    workflow = write_workflow(tmp_path / "wf.yaml", SLOW)
    runner = start("run", workflow, "-n", "3", cwd=repo)
    time.sleep(1.5)
    runner.send_signal(signal.SIGINT)  # paused: following it never ends by itself
    runner.communicate(timeout=60)
    session_id = json.loads(cook("sessions", "--json", cwd=repo).out)[0]["id"]
    for sig in (signal.SIGTERM, signal.SIGHUP):
        follower = start("events", session_id, "--follow", cwd=repo)
        time.sleep(1)
        follower.send_signal(sig)
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 130
        assert "paused" in out and err == "cook: interrupted\n"


def test_an_endless_line_of_output_does_not_grow_the_memory(repo: Path, tmp_path: Path) -> None:
    """A step printing 200 MB without a newline was read as one line, all of it in memory."""
    workflow = write_workflow(
        tmp_path / "wf.yaml", "steps:\n  - shell: head -c 200000000 /dev/zero\n"
    )
    probe = (
        "import resource, subprocess, sys\n"
        f"done = subprocess.run([{str(COOK)!r}, 'run', {str(workflow)!r}, '-n', '1', '-v'],"
        " stdout=subprocess.DEVNULL)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=True,
    )
    code, max_rss_kib = map(int, done.stdout.split())
    assert code == 0
    assert max_rss_kib < 150 * 1024  # cook itself is about 45 MiB (measured on its own)


def test_a_step_that_cannot_start_fails_and_the_session_goes_on(repo: Path, tmp_path: Path) -> None:
    """An environment too large for the system: the step fails (exit 126) with the reason."""
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        "steps:\n  - shell: echo ok >> ok.txt\n  - shell: echo big\n"
        f"    env: {{BIG: {'x' * 200_000}}}\n",
    )
    done = cook("run", workflow, "-n", "1", cwd=repo)
    assert done.code == 7, done.err
    assert "echo big: FAILED (exit 126)" in done.out
    session = json.loads(cook("sessions", "--json", cwd=repo).out)[0]
    assert session["state"]["status"] == "completed"
    events = cook("events", session["id"], "--json", cwd=repo).json_lines()
    (failed,) = [
        e for e in events if e["event"]["kind"] == "command_executed" and not e["event"]["success"]
    ]
    assert failed["event"]["output_tail"] == "cook: cannot start the step: Argument list too long"
