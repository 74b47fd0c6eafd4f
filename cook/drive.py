"""``cook run``, ``cook resume`` and ``cook demo``: the commands that drive a session."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from argparse import Namespace
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from statecharts import (
    Direct,
    InMemorySessionManager,
    SessionConfig,
    SessionId,
    SessionOptions,
    SessionState,
    Worktree,
    signals,
)
from statecharts.state import TERMINAL_STATUSES

from . import git
from .display import Display, JsonDisplay, make_display
from .errors import UsageError
from .runner import Runner, worktree_branch, worktree_path
from .store import open_manager, project_dir, shown_location, store_location
from .views import summary_lines
from .workflow import Workflow, load_workflow

__all__ = ["demo", "exit_code_of", "resume", "run"]

INTERRUPTED_EXIT = 130


def exit_code_of(state: SessionState) -> int:
    """0 when the session completed, 1 when it failed, 130 when it was paused by a signal."""
    return {"completed": 0, "failed": 1}.get(state.status, INTERRUPTED_EXIT)


def _config(args: Namespace, workflow: Workflow, project: Path) -> SessionConfig:
    iterations = args.iterations or workflow.max_iterations
    if iterations is None:
        raise UsageError("how many iterations? give -n N or set max_iterations in the workflow")
    mode = Worktree(name=args.worktree) if args.worktree else Direct()
    options = SessionOptions(
        fail_fast=args.fail_fast,
        auto_merge=args.auto_merge,
        collect_metrics=not args.no_metrics,
        verbose=args.verbose,
    )
    return SessionConfig(
        project_path=project,
        max_iterations=iterations,
        workflow=workflow.to_config(),
        execution_mode=mode,
        focus=args.focus or workflow.focus,
        options=options,
    )


def _prepare_place(config: SessionConfig) -> None:
    """Check the repository and create the session's worktree (before the session exists)."""
    project = config.project_path
    git.head(project)  # a repository with at least one commit
    git.exclude(project, "/.sessionchart/")
    mode = config.execution_mode
    if isinstance(mode, Worktree):
        git.add_worktree(project, worktree_path(project, mode.name), worktree_branch(mode.name))


async def run(args: Namespace) -> int:
    """``cook run WORKFLOW``: create a session and drive it."""
    workflow = load_workflow(Path(args.workflow))
    project = git.repo_root((args.path or Path.cwd()).resolve())
    config = _config(args, workflow, project)
    _prepare_place(config)
    manager = await open_manager(store_location(project, args.store))
    try:
        session_id = await manager.create_session(config)
        return await drive(manager, session_id, config, make_display(args.json), args.store)
    finally:
        await manager.aclose()


async def resume(args: Namespace) -> int:
    """``cook resume ID``: carry on a paused (or interrupted) session where it stopped."""
    project = project_dir(args.path)
    manager = await open_manager(store_location(project, args.store))
    try:
        info = await manager.get_info(args.session_id)
        if info.state.status in TERMINAL_STATUSES:
            await manager.resume_session(args.session_id)  # the chart refuses, and says why
        config = info.config
        mode = config.execution_mode
        if isinstance(mode, Worktree):
            place = worktree_path(git.repo_root(config.project_path), mode.name)
            if not place.is_dir():
                raise UsageError(f"the worktree of session {args.session_id} is gone: {place}")
        return await drive(manager, args.session_id, config, make_display(args.json), args.store)
    finally:
        await manager.aclose()


@contextmanager
def _interrupts(runner: Runner) -> Iterator[None]:
    """Ctrl-C and SIGTERM pause the session (instead of killing the process)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.interrupt, f"interrupted by {sig.name}")
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def drive(
    manager: InMemorySessionManager,
    session_id: SessionId,
    config: SessionConfig,
    display: Display,
    store: str | None,
) -> int:
    """Run the session to its end with ``display`` showing it; the exit code of its outcome."""
    runner = Runner(manager, session_id, config, display)

    def on_event(sender: str, **data: Any) -> None:
        if sender == session_id and data["manager"] is manager:
            display.event(data["event"], data["new_state"])

    signals.state_changed.connect(on_event)
    display.begin(session_id, config.max_iterations, len(runner.workflow.steps))
    try:
        with _interrupts(runner):
            state = await runner.run()
        await manager.drain_signals(timeout=10)
    finally:
        signals.state_changed.disconnect(on_event)
        display.end()
    info = await manager.get_info(session_id)
    if isinstance(display, JsonDisplay):
        display.document({"summary": info.model_dump(mode="json", exclude={"config"})})
    else:
        location = shown_location(store or str(config.project_path / ".sessionchart"))
        for line in summary_lines(info, location):
            display.message(line)
    return exit_code_of(state)


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
    """``cook demo``: 3 iterations of a shipped workflow in a worktree of a scratch repository."""
    if shutil.which("git") is None:
        raise UsageError("cook demo needs git on the PATH")
    root = Path(tempfile.mkdtemp(prefix="cook-demo-"))
    repo = _demo_repository(root)
    workflow_file = root / "demo.yaml"
    workflow_file.write_text(
        resources.files("cook").joinpath("workflows/demo.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    display = make_display(args.json)
    display.message(f"demo repository: {repo}")
    run_args = Namespace(
        workflow=str(workflow_file),
        path=repo,
        store=args.store,
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
