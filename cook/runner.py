"""The runner: drives one session through its iterations, every transition by name.

Each iteration records ``iteration_started``, one ``command_executed`` per step,
an ``analysis_completed`` with the iteration's metrics when ``collect_metrics``
is set, then ``iteration_completed`` with the changes git sees since the commit
the iteration started from.  The loop stops after ``max_iterations``, or early
when an iteration changes nothing; then the session completes.

An interrupt (Ctrl-C, SIGTERM, SIGHUP) stops the running step and pauses the session;
``resume`` goes on where it stopped, and an iteration that was interrupted is
run again from its first step, under the same number (so it is counted once).
Where an iteration started — the commit, and a snapshot of the work tree — is
kept in private git refs, so a rerun after a crash still measures the whole
iteration's changes.

A worktree session with ``auto_merge`` merges its branch back before it
completes; how that went is recorded in its log (an ``analysis_completed`` of
:data:`~cook.outcome.MERGE_ANALYZER`), and a merge git refuses keeps the
worktree and the branch without failing the session's work.

When the store cannot be reached (a PostgreSQL server restarting, the network
gone: :class:`~persistence.StorageUnavailable`), the event being recorded is
not accepted; the runner waits for the store, reloads the session from what it
holds, pauses it with the reason, and resumes it — the interrupted iteration
is run again.  It gives up (raising the error) after ``storage_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from persistence import StorageUnavailable
from statecharts import (
    IterationChanges,
    SessionConfig,
    SessionId,
    SessionManager,
    SessionState,
    Worktree,
)

from . import git
from .outcome import Merge
from .places import worktree_branch, worktree_path
from .steps import StepResult, run_step
from .views import plural
from .workflow import Step, Workflow

__all__ = ["Reporter", "Runner", "WorkPlace"]

STORAGE_LOST = "storage unavailable"
"""The start of the ``paused`` reason recorded when the store could not be reached."""


class Reporter(Protocol):
    """What the runner tells about steps (events come through the signals)."""

    def step_started(self, iteration: int, index: int, step: Step) -> None:
        """A step is about to run."""

    def step_output(self, line: str) -> None:
        """A line of the running step's output (only with ``verbose``)."""

    def step_finished(self, step: Step, result: StepResult) -> None:
        """A step ended."""


@dataclass(frozen=True)
class WorkPlace:
    """Where a session's steps run: the repository and the directory inside it."""

    repo: Path
    workdir: Path

    @classmethod
    def of(cls, config: SessionConfig) -> WorkPlace:
        """The place the config names (the worktree, in worktree mode)."""
        repo = git.repo_root(config.project_path)
        mode = config.execution_mode
        workdir = worktree_path(repo, mode.name) if isinstance(mode, Worktree) else repo
        return cls(repo, workdir)


class Runner:
    """Drives one session until it completes, fails or is interrupted."""

    def __init__(
        self,
        manager: SessionManager,
        session_id: SessionId,
        config: SessionConfig,
        reporter: Reporter,
        *,
        storage_timeout: float = 600.0,
    ) -> None:
        self.manager = manager
        self.storage_timeout = storage_timeout
        self.session_id = session_id
        self.config = config
        self.workflow = Workflow.from_config(config.workflow)
        self.place = WorkPlace.of(config)
        self.reporter = reporter
        self.interrupted: str | None = None
        self._step: asyncio.Task[StepResult] | None = None
        self._base_ref, self._tree_ref = git.base_refs(session_id)

    def interrupt(self, reason: str) -> None:
        """Stop the running step and pause the session (safe from a signal handler)."""
        self.interrupted = reason
        if self._step is not None:
            self._step.cancel()

    async def run(self) -> SessionState:
        """Start or resume the session and drive it to its end (or to a pause).

        A store that cannot be reached pauses the session until it is back
        (see the module's documentation), then the run goes on.
        """
        while True:
            try:
                return await self._drive()
            except StorageUnavailable as error:
                await self._storage_lost(error)

    async def _storage_lost(self, error: StorageUnavailable) -> None:
        """Wait for the store; reload the session from it and record a pause saying why."""
        manager, sid = self.manager, self.session_id
        deadline = time.monotonic() + self.storage_timeout
        delay = 0.2
        why = (str(error).strip().splitlines() or [type(error).__name__])[0]
        while True:
            try:
                state = await manager.restore_session(sid)  # what the store holds, nothing more
                if state.status == "running":
                    await manager.pause_session(sid, reason=f"{STORAGE_LOST}: {why}")
            except StorageUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                return

    async def _drive(self) -> SessionState:
        manager, sid = self.manager, self.session_id
        state = await manager.get_state(sid)
        if state.status == "created":
            await manager.start_session(sid)
        elif state.status == "paused":
            await manager.resume_session(sid)
        while True:
            state = await manager.get_state(sid)
            if state.status != "running":
                return state
            changes: IterationChanges | None = None
            if state.phase == "iterating":
                changes = await self._iteration(state.iteration)
                if changes is None:  # interrupted or failed
                    return await manager.get_state(sid)
            done = (await manager.get_progress(sid)).iterations_completed
            if self.interrupted:
                return await manager.pause_session(sid, reason=self.interrupted)
            if (changes is not None and changes.is_empty) or done >= self.config.max_iterations:
                return await self._finish()
            self._mark_start()
            await manager.send(sid, "iteration_started", number=done + 1)

    async def _iteration(self, number: int) -> IterationChanges | None:
        """Run every step of iteration ``number``; None when it was interrupted or failed."""
        manager, sid = self.manager, self.session_id
        base, start_tree = self._start_of_iteration()
        commands: list[str] = []
        failures = 0
        for index, step in enumerate(self.workflow.steps):
            if self.interrupted:
                await manager.pause_session(sid, reason=self.interrupted)
                return None
            await manager.drain_signals(timeout=1.0)  # earlier events are shown first
            self.reporter.step_started(number, index, step)
            result = await self._run(step, number)
            if result is None:
                await manager.pause_session(sid, reason=self.interrupted or "interrupted")
                return None
            self.reporter.step_finished(step, result)
            await manager.send(
                sid,
                "command_executed",
                command=step.shell,
                success=result.success,
                exit_code=result.exit_code,
                duration=result.duration,
                output_size=result.output_size,
                output_tail=result.output_tail,
            )
            commands.append(step.shell)
            if not result.success:
                failures += 1
                if self.config.options.fail_fast and not step.continue_on_error:
                    why = f"exit code {result.exit_code}" if not result.timed_out else "timed out"
                    await manager.fail_session(
                        sid, error=f"step {step.label!r} failed ({why}) in iteration {number}"
                    )
                    return None
        changes = git.changes_between(self.place.workdir, start_tree, base, tuple(commands))
        if self.config.options.collect_metrics:
            await self._record_metrics(number, changes, failures)
        await manager.send(sid, "iteration_completed", changes=changes)
        self._forget_start()
        return changes

    def _mark_start(self) -> None:
        """Keep where the next iteration starts from (in git: it survives a crash)."""
        repo, workdir = self.place.repo, self.place.workdir
        git.set_ref(repo, self._base_ref, git.head(workdir))
        git.set_ref(repo, self._tree_ref, git.snapshot(workdir))

    def _start_of_iteration(self) -> tuple[str, str]:
        """The commit and work-tree snapshot the running iteration started from."""
        repo, workdir = self.place.repo, self.place.workdir
        base = git.read_ref(repo, self._base_ref)
        tree = git.read_ref(repo, self._tree_ref)
        if base is None or tree is None:  # started by something else than this runner
            return git.head(workdir), git.snapshot(workdir)
        return base, tree

    def _forget_start(self) -> None:
        git.delete_ref(self.place.repo, self._base_ref)
        git.delete_ref(self.place.repo, self._tree_ref)

    async def _run(self, step: Step, number: int) -> StepResult | None:
        env = {
            **os.environ,
            **step.env,
            "COOK_SESSION_ID": self.session_id,
            "COOK_ITERATION": str(number),
            "COOK_MAX_ITERATIONS": str(self.config.max_iterations),
            "COOK_PROJECT": str(self.place.repo),
            "COOK_WORKDIR": str(self.place.workdir),
        }
        if self.config.focus:
            env["COOK_FOCUS"] = self.config.focus
        output: Callable[[str], None] | None = (
            self.reporter.step_output if self.config.options.verbose else None
        )
        self._step = asyncio.create_task(run_step(step, self.place.workdir, env, output))
        try:
            return await self._step
        except asyncio.CancelledError:
            if self.interrupted is None:
                raise  # we were cancelled from outside, not interrupted
            return None
        finally:
            self._step = None

    async def _record_metrics(self, number: int, changes: IterationChanges, failures: int) -> None:
        progress = await self.manager.get_progress(self.session_id)
        current = progress.iterations[-1]
        duration = (progress.as_of - current.started_at - current.paused).total_seconds()
        await self.manager.send(
            self.session_id,
            "analysis_completed",
            results={
                "analyzer": "cook.metrics",
                "summary": f"iteration {number}: {plural(len(changes.files_modified), 'file')}, "
                f"+{changes.lines_added} -{changes.lines_removed}",
                "metrics": {
                    "duration_seconds": duration,
                    "files_changed": len(changes.files_modified),
                    "lines_added": changes.lines_added,
                    "lines_removed": changes.lines_removed,
                    "commits": len(changes.git_commits),
                    "failed_commands": failures,
                },
            },
        )

    async def _finish(self) -> SessionState:
        """Merge back (worktree + auto_merge), record how that went, then complete.

        The session's work is done whatever the merge does: a merge git refuses
        (a conflict, local changes in the way) is recorded with git's reason and
        leaves the worktree and its branch for a person to merge; the session
        completes all the same.
        """
        manager, sid, mode = self.manager, self.session_id, self.config.execution_mode
        self._forget_start()
        if isinstance(mode, Worktree) and self.config.options.auto_merge:
            merge = self._merge_back(mode.name)
            await manager.send(sid, "analysis_completed", results=merge.results())
        await manager.complete_session(sid)
        return await manager.get_state(sid)

    def _merge_back(self, name: str) -> Merge:
        """Merge the worktree's branch into the project's; remove the worktree once merged.

        A worktree that holds changes never committed is kept (they would be lost).
        """
        branch, repo = worktree_branch(name), self.place.repo
        into = git.current_branch(repo)
        try:
            git.merge(repo, branch, f"Merge session {self.session_id} ({name})")
        except git.GitError as error:
            return Merge(merged=False, branch=branch, into=into, reason=str(error))
        if self.place.workdir.exists():
            with contextlib.suppress(git.GitError):  # changes never committed: it stays
                git.remove_worktree(repo, self.place.workdir, force=False)
        return Merge(merged=True, branch=branch, into=into)
