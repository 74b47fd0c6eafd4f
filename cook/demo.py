"""``cook demo``: a shipped workflow, 3 iterations, in a worktree of a scratch repository.

The demo is self-contained: its repository and its store live in one scratch
directory (``$SESSIONCHART_STORE`` is not used: the demo never writes into a
real store), which is removed when the demo ends — however it ends — unless
``--keep`` is given.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from argparse import Namespace
from importlib import resources
from pathlib import Path

from . import git
from .display import make_display
from .drive import run
from .errors import InvalidInput
from .output import surviving
from .places import STORE_DIR_NAME

__all__ = ["demo"]

DEMO_REPO_FILES = {"README.md": "# cook demo\n\nA scratch repository for `cook demo`.\n"}


def _demo_repository(root: Path) -> Path:
    repo = root / "project"
    repo.mkdir()
    for name, text in DEMO_REPO_FILES.items():
        (repo / name).write_text(text, encoding="utf-8")
    for command in (
        ("init", "-q", "-b", "main"),
        ("config", "user.name", "cook demo"),
        ("config", "user.email", "demo@sessionchart.invalid"),
        ("config", "commit.gpgsign", "false"),
        ("add", "README.md"),
        ("commit", "-q", "-m", "initial commit"),
    ):
        git.git(repo, *command)
    return repo


async def demo(args: Namespace) -> int:
    """``cook demo [--keep]``: run the demo; remove its scratch directory unless kept."""
    if shutil.which("git") is None:
        raise InvalidInput("cook demo needs git on the PATH")
    display = make_display(args.json, surviving(sys.stdout))
    root = Path(tempfile.mkdtemp(prefix="cook-demo-"))
    try:
        repo = _demo_repository(root)
        workflow_file = root / "demo.yaml"
        workflow_file.write_text(
            resources.files("cook").joinpath("workflows/demo.yaml").read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        display.message(f"demo repository: {repo}")
        run_args = Namespace(
            workflow=str(workflow_file),
            path=repo,
            store=str(repo / STORE_DIR_NAME),
            iterations=3,
            worktree="demo",
            focus="the demo",
            fail_fast=True,
            auto_merge=True,
            no_metrics=False,
            verbose=args.verbose,
            json=args.json,
        )
        code = await run(run_args)
        log = git.git(repo, "log", "--oneline", "--graph", "-n", "6")
        display.message("the demo's commits, merged back into main:")
        for line in log.splitlines():
            display.message(f"  {line}")
        return code
    finally:
        if args.keep:
            project = root / "project"
            display.message(f"kept: {root} (`cook sessions --path {project}` lists its session)")
        else:
            shutil.rmtree(root, ignore_errors=True)
            display.message(f"removed the scratch directory {root} (--keep keeps it)")
