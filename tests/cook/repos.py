"""Real git repositories for the tests that run ``cook`` (here, and on a PostgreSQL store)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def sh(cwd: Path, *args: str) -> str:
    """Run a command in ``cwd`` and return its output (fail the test if it fails)."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(path: Path) -> Path:
    """A git repository at ``path`` with one commit and a local identity."""
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "config", "user.email", "tester@example.invalid")
    sh(path, "git", "config", "user.name", "Tester")
    sh(path, "git", "config", "commit.gpgsign", "false")
    (path / "README.md").write_text("hello\n", encoding="utf-8")
    sh(path, "git", "add", "README.md")
    sh(path, "git", "commit", "-q", "-m", "initial")
    return path
