"""On a terminal, ``cook`` draws progress bars (rich); elsewhere it prints plain lines."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from .cli import COOK, env, write_workflow


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run cook with its output on a pseudo-terminal; return its exit code and what it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(COOK), *args],
        cwd=cwd,
        stdout=follower,
        stderr=follower,
        env=env(COLUMNS="120", TERM="xterm-256color"),
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bars_on_a_terminal(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        """\
steps:
  - name: write
    shell: echo "$COOK_ITERATION" >> out.txt
  - name: shout
    shell: echo "hello from $COOK_ITERATION"
""",
    )
    code, screen = run_on_a_terminal(["run", str(workflow), "-n", "2", "-v"], repo)
    assert code == 0, screen
    assert "\x1b[" in screen  # drawn with terminal escapes
    assert "━" in screen  # rich's bar
    assert "iteration 2: shout" in screen  # the step bar names the running step
    assert "hello from 2" in screen  # -v streams the output
    assert "completed" in screen


def test_names_and_commands_are_never_read_as_markup(repo: Path, tmp_path: Path) -> None:
    """A step named `[/oops]` crashed the progress bars (rich's MarkupError, exit 70) and left
    the session running; control characters in names reached the terminal as they were."""
    workflow = write_workflow(
        tmp_path / "wf.yaml",
        """steps:
  - name: "[/oops] \\e[31mred"
    shell: echo '[bold]x[/bold]' >> m.txt
""",
    )
    code, screen = run_on_a_terminal(["run", str(workflow), "-n", "1"], repo)
    assert code == 0, screen
    assert "[/oops]" in screen
    assert "\\x1b[31mred" in screen  # written out, not obeyed
    assert "echo '[bold]x[/bold]' >> m.txt: ok" in screen
