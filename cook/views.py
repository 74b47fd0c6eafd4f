"""Text views of sessions: the summary after a run, the list, the detail of one session."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from statecharts import SessionInfo, SessionProgress, Worktree, state

from .errors import printable
from .outcome import Merge, Outcome, step_timeouts

__all__ = [
    "duration_text",
    "exit_text",
    "mode_text",
    "plural",
    "session_detail",
    "sessions_table",
    "summary_lines",
]


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def duration_text(duration: timedelta) -> str:
    """``1h02m03s``, ``2m05s``, ``4.2s``."""
    seconds = duration.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def exit_text(exit_code: int | None, timeout: float | None) -> str:
    """How a step ended: ``exit 2``, or ``timed out after 30 s`` (a step stopped has no code)."""
    if exit_code is not None:
        return f"exit {exit_code}"
    return f"timed out after {timeout:g} s" if timeout is not None else "stopped, no exit code"


def mode_text(info: SessionInfo) -> str:
    """``direct`` or ``worktree:<name>``."""
    mode = info.config.execution_mode
    return f"worktree:{mode.name}" if isinstance(mode, Worktree) else "direct"


def _status_text(info: SessionInfo) -> str:
    if info.interrupted:  # its process is gone: the next writer records it paused
        return "interrupted"
    match info.state:
        case state.Paused(reason=reason):
            return f"paused ({printable(reason)})" if reason else "paused"
        case state.Running(phase=phase):
            return f"running ({phase})"
        case other:
            return other.status


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def sessions_table(infos: list[SessionInfo]) -> list[str]:
    """One line per session: id, status, iteration x/N, duration, mode, workflow."""
    rows = [
        [
            info.id,
            _status_text(info),
            f"{info.progress.iterations_completed}/{info.progress.total_iterations}",
            duration_text(info.progress.duration),
            mode_text(info),
            printable(info.config.workflow.name) or "-",
        ]
        for info in infos
    ]
    return _table(["ID", "STATUS", "ITERATION", "DURATION", "MODE", "WORKFLOW"], rows)


def _iterations(progress: SessionProgress) -> list[str]:
    """The table of iterations; a PAUSED column when the session was paused inside one."""
    paused = any(m.paused or m.paused_since for m in progress.iterations)
    rows = []
    for metrics in progress.iterations:
        changes = metrics.changes
        ok = sum(1 for c in metrics.commands if c.success)
        row = [
            str(metrics.number),
            duration_text(metrics.duration) if metrics.duration is not None else "running",
        ]
        if paused:
            row.append(duration_text(metrics.paused) if metrics.paused else "-")
        row += [
            str(len(changes.files_modified)) if changes else "-",
            f"+{changes.lines_added} -{changes.lines_removed}" if changes else "-",
            str(len(changes.git_commits)) if changes else "-",
            f"{ok}/{len(metrics.commands)} ok",
        ]
        rows.append(row)
    headers = ["ITERATION", "DURATION", *(["PAUSED"] if paused else [])]
    return _table([*headers, "FILES", "LINES", "COMMITS", "COMMANDS"], rows)


def session_detail(info: SessionInfo) -> list[str]:
    """The state, the progress, a table of iterations, the failed commands and the merge."""
    progress = info.progress
    lines = [
        f"session   {info.id}",
        f"status    {_status_text(info)}",
        f"workflow  {printable(info.config.workflow.name) or '-'} in {info.config.project_path} "
        f"({mode_text(info)})",
        f"progress  {progress.iterations_completed}/{progress.total_iterations} iterations, "
        f"{plural(len(progress.files_changed), 'file')} changed, "
        f"{plural(progress.commands_total, 'command')}, running time "
        f"{duration_text(progress.duration)}",
        f"phase     {printable(progress.current_phase or '-')}",
    ]
    if isinstance(info.state, state.Failed):
        lines.append(f"error     {printable(info.state.error)}")
    if info.interrupted:
        lines.append(
            "note      the process that ran it is gone (it crashed); "
            f"cook resume {info.id} carries on"
        )
    elif info.holder is not None:
        lines.append(f"held by   {printable(info.holder.describe())}")
    merge = Merge.recorded(progress.last_analysis)
    if merge is not None:
        lines.append(f"merge     {printable(merge.summary)}")
    if progress.iterations:
        lines += ["", *_iterations(progress)]
        earlier = progress.iterations[0].number - 1
        if earlier:
            lines.append(f"({plural(earlier, 'earlier iteration')}: see cook events {info.id})")
    failed = [c for c in progress.commands_executed if not c.success]
    if failed:
        timeouts = step_timeouts(info.config)
        lines += ["", "failed commands:"]
        lines += [
            f"  iteration {c.iteration or '-'}: {printable(c.command)} "
            f"({exit_text(c.exit_code, timeouts.get(c.command))})"
            for c in failed
        ]
    return lines


def _worktree_lines(outcome: Outcome, worktree: tuple[Path, str] | None) -> list[str]:
    if worktree is None:
        return []
    path, branch = worktree
    merge = outcome.merge
    if merge is not None and merge.merged:
        lines = [f"  {merge.summary} (the branch stays)"]
        if path.exists():
            lines.append(f"  the worktree {path} is kept: it holds changes never committed")
        return lines
    lines = [] if merge is None else [f"  {printable(merge.summary)}"]
    if path.exists():
        lines.append(f"  worktree: {path} (branch {branch})")
        if merge is not None:
            lines.append(f"  both are kept: merge it yourself with `git merge {branch}`")
    return lines


def summary_lines(
    info: SessionInfo,
    store: str,
    outcome: Outcome,
    worktree: tuple[Path, str] | None = None,
) -> list[str]:
    """What a run ends with: the outcome, the figures, the worktree, where the store is."""
    progress = info.progress
    lines = [
        f"session {info.id}: {_status_text(info)}",
        f"  {progress.iterations_completed}/{progress.total_iterations} iterations, "
        f"{plural(len(progress.files_changed), 'file')} changed, "
        f"{progress.commands_succeeded}/{progress.commands_total} commands ok, "
        f"in {duration_text(progress.duration)}",
    ]
    if isinstance(info.state, state.Failed):
        lines.append(f"  error: {printable(info.state.error)}")
    if outcome.failed_steps and info.state.status == "completed":
        lines.append(f"  {plural(outcome.failed_steps, 'step')} failed: see `cook show {info.id}`")
    lines += _worktree_lines(outcome, worktree)
    if info.state.status == "paused":
        lines.append(f"  resume it with: cook resume {info.id}")
    lines.append(f"  store: {store}")
    return lines
