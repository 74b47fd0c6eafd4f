"""``cook run`` and ``cook resume``: the commands that drive a session.

``cook run`` checks everything it can before it creates anything: the
workflow, the repository, the worktree's name, the store.  Then it creates the
session's worktree and the session together (a failure in between removes the
worktree and its branch again), and the runner drives the session.  The exit
code is the session's outcome (:mod:`cook.outcome`); the summary names the
store actually used and, in worktree mode, where the worktree and branch are.

The output may go away (``cook run wf.yaml | head``): the session goes on to
its end regardless, and the exit code is still its outcome (:mod:`cook.output`).
"""

from __future__ import annotations

import contextlib
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

from statecharts import (
    Direct,
    SessionConfig,
    SessionId,
    SessionManager,
    SessionOptions,
    Worktree,
    signals,
)
from statecharts.state import TERMINAL_STATUSES

from . import git
from .display import Display, JsonDisplay, make_display
from .errors import InvalidInput, one_line
from .interrupts import Interrupts, current
from .outcome import Merge, Outcome, failed_steps, step_timeouts
from .output import surviving
from .places import STORE_DIR_NAME, worktree_branch, worktree_path
from .runner import Runner
from .store import open_manager, project_dir, shown_location, store_location
from .views import summary_lines
from .workflow import Workflow, load_workflow

__all__ = ["drive", "resume", "run"]


def _config(args: Namespace, workflow: Workflow, project: Path) -> SessionConfig:
    iterations = args.iterations or workflow.max_iterations
    if iterations is None:
        raise InvalidInput("how many iterations? give -n N or set max_iterations in the workflow")
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


def _worktree(config: SessionConfig) -> tuple[Path, str] | None:
    """Where the session's worktree is, and its branch (None in direct mode)."""
    mode = config.execution_mode
    if not isinstance(mode, Worktree):
        return None
    return worktree_path(config.project_path, mode.name), worktree_branch(mode.name)


def _check_place(config: SessionConfig) -> None:
    """The repository has a commit, and the worktree's name is free (nothing is made yet)."""
    git.head(config.project_path)
    worktree = _worktree(config)
    if worktree is not None:
        git.check_worktree_free(config.project_path, *worktree)


async def _create(
    manager: SessionManager, config: SessionConfig, interrupts: Interrupts
) -> SessionId:
    """Create the worktree and the session, both or neither (signals wait meanwhile)."""
    interrupts.hold()
    worktree = _worktree(config)
    made = False
    try:
        if worktree is not None:
            git.add_worktree(config.project_path, *worktree)
            made = True
        return await manager.create_session(config)
    except BaseException:
        if made and worktree is not None:
            with contextlib.suppress(git.GitError):
                git.remove_worktree(config.project_path, worktree[0])
            git.delete_branch(config.project_path, worktree[1])
        raise


async def run(args: Namespace) -> int:
    """``cook run WORKFLOW``: create a session and drive it."""
    interrupts = current()
    workflow = load_workflow(Path(args.workflow))
    project = git.repo_root((args.path or Path.cwd()).absolute().resolve())
    config = _config(args, workflow, project)
    _check_place(config)
    location = store_location(project, args.store)
    git.exclude(project, f"/{STORE_DIR_NAME}/")
    manager = await open_manager(location)
    try:
        session_id = await _create(manager, config, interrupts)
        return await drive(
            manager,
            session_id,
            config,
            json_output=args.json,
            location=location,
            interrupts=interrupts,
        )
    finally:
        interrupts.hold()  # the store is closed whatever comes
        await manager.aclose()


async def resume(args: Namespace) -> int:
    """``cook resume ID``: carry on a paused (or interrupted) session where it stopped."""
    interrupts = current()
    location = store_location(project_dir(args.path), args.store)
    manager = await open_manager(location, existing=True)
    try:
        info = await manager.get_info(args.session_id)
        if info.state.status in TERMINAL_STATUSES:
            await manager.resume_session(args.session_id)  # the chart refuses, and says why
        config = info.config
        if not config.project_path.is_dir():
            raise InvalidInput(
                f"the project of session {args.session_id} is gone: {config.project_path}"
            )
        worktree = _worktree(config)
        if worktree is not None and not worktree[0].is_dir():
            raise InvalidInput(f"the worktree of session {args.session_id} is gone: {worktree[0]}")
        interrupts.hold()
        return await drive(
            manager,
            args.session_id,
            config,
            json_output=args.json,
            location=location,
            interrupts=interrupts,
        )
    finally:
        interrupts.hold()  # the store is closed whatever comes
        await manager.aclose()


def _output_lost(session_id: str) -> None:
    """Say once, on stderr, that the session goes on although its output is gone."""
    with contextlib.suppress(OSError, ValueError):
        print(
            f"cook: the output was closed; session {session_id} goes on to its end "
            f"(`cook watch {session_id}` follows it)",
            file=sys.stderr,
            flush=True,
        )


async def _stop_after(manager: SessionManager, session_id: SessionId, error: Exception) -> None:
    """An error stopped the runner: pause the session (if it runs) so that it can be resumed."""
    with contextlib.suppress(Exception):
        if (await manager.get_state(session_id)).status == "running":
            await manager.pause_session(session_id, reason=f"cook stopped: {one_line(error)}")
            error.add_note(f"session {session_id} is paused: `cook resume {session_id}` carries on")


async def drive(
    manager: SessionManager,
    session_id: SessionId,
    config: SessionConfig,
    *,
    json_output: bool,
    location: str,
    interrupts: Interrupts,
) -> int:
    """Run the session to its end, showing it; the exit code of its outcome."""
    stream = surviving(sys.stdout, lambda: _output_lost(session_id))
    display = make_display(json_output, stream)
    runner = Runner(manager, session_id, config, display)

    def on_event(sender: str, **data: Any) -> None:
        if sender == session_id and data["manager"] is manager:
            display.event(data["event"], data["new_state"])

    signals.state_changed.connect(on_event)
    display.begin(
        session_id, config.max_iterations, len(runner.workflow.steps), step_timeouts(config)
    )
    try:
        interrupts.attach(runner)
        try:
            state = await runner.run()
        except Exception as error:
            await _stop_after(manager, session_id, error)
            raise
        finally:
            interrupts.detach()
        await manager.drain_signals(timeout=10)
    finally:
        signals.state_changed.disconnect(on_event)
        display.end()
    return await _report(manager, session_id, state.status, display, shown_location(location))


async def _report(
    manager: SessionManager,
    session_id: SessionId,
    status: str,
    display: Display,
    store: str,
) -> int:
    """Print the summary (or the JSON document) and return the outcome's exit code."""
    info = await manager.get_info(session_id)
    failed = failed_steps(info)
    if failed is None:
        failed = failed_steps(info, await manager.get_events(session_id)) or 0
    outcome = Outcome(status, failed, Merge.recorded(info.progress.last_analysis))
    worktree = _worktree(info.config)
    if isinstance(display, JsonDisplay):
        document = {
            "summary": info.model_dump(mode="json", exclude={"config"}),
            "outcome": outcome.as_json(),
            "store": store,
            "worktree": None if worktree is None else str(worktree[0]),
            "branch": None if worktree is None else worktree[1],
        }
        display.document(document)
    else:
        for line in summary_lines(info, store, outcome, worktree):
            display.message(line)
    return outcome.exit_code
