"""Text views of sessions: the summary after a run, the list, the detail of one session."""

from __future__ import annotations

from datetime import timedelta

from statecharts import SessionInfo, SessionProgress, Worktree, state

__all__ = [
    "duration_text",
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


def mode_text(info: SessionInfo) -> str:
    """``direct`` or ``worktree:<name>``."""
    mode = info.config.execution_mode
    return f"worktree:{mode.name}" if isinstance(mode, Worktree) else "direct"


def _status_text(info: SessionInfo) -> str:
    match info.state:
        case state.Paused(reason=reason):
            return f"paused ({reason})" if reason else "paused"
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
            info.config.workflow.name or "-",
        ]
        for info in infos
    ]
    return _table(["ID", "STATUS", "ITERATION", "DURATION", "MODE", "WORKFLOW"], rows)


def _iterations(progress: SessionProgress) -> list[str]:
    rows = []
    for metrics in progress.iterations:
        changes = metrics.changes
        ok = sum(1 for c in metrics.commands if c.success)
        rows.append(
            [
                str(metrics.number),
                duration_text(metrics.duration) if metrics.duration is not None else "running",
                str(len(changes.files_modified)) if changes else "-",
                f"+{changes.lines_added} -{changes.lines_removed}" if changes else "-",
                str(len(changes.git_commits)) if changes else "-",
                f"{ok}/{len(metrics.commands)} ok",
            ]
        )
    return _table(["ITERATION", "DURATION", "FILES", "LINES", "COMMITS", "COMMANDS"], rows)


def session_detail(info: SessionInfo) -> list[str]:
    """The state, the progress, a table of iterations and the failed commands."""
    progress = info.progress
    lines = [
        f"session   {info.id}",
        f"status    {_status_text(info)}",
        f"workflow  {info.config.workflow.name or '-'} in {info.config.project_path} "
        f"({mode_text(info)})",
        f"progress  {progress.iterations_completed}/{progress.total_iterations} iterations, "
        f"{plural(len(progress.files_changed), 'file')} changed, "
        f"{plural(progress.commands_total, 'command')}, running time "
        f"{duration_text(progress.duration)}",
        f"phase     {progress.current_phase or '-'}",
    ]
    if isinstance(info.state, state.Failed):
        lines.append(f"error     {info.state.error}")
    if progress.iterations:
        lines += ["", *_iterations(progress)]
        earlier = progress.iterations[0].number - 1
        if earlier:
            lines.append(f"({plural(earlier, 'earlier iteration')}: see cook events {info.id})")
    failed = [c for c in progress.commands_executed if not c.success]
    if failed:
        lines += ["", "failed commands:"]
        lines += [
            f"  iteration {c.iteration or '-'}: {c.command} (exit {c.exit_code})" for c in failed
        ]
    return lines


def summary_lines(info: SessionInfo, store: str) -> list[str]:
    """What a run ends with: the outcome, the figures, where the store is."""
    progress = info.progress
    status = _status_text(info)
    lines = [
        f"session {info.id}: {status}",
        f"  {progress.iterations_completed}/{progress.total_iterations} iterations, "
        f"{plural(len(progress.files_changed), 'file')} changed, "
        f"{progress.commands_succeeded}/{progress.commands_total} commands ok, "
        f"in {duration_text(progress.duration)}",
    ]
    if isinstance(info.state, state.Failed):
        lines.append(f"  error: {info.state.error}")
    if info.state.status == "paused":
        lines.append(f"  resume it with: cook resume {info.id}")
    lines.append(f"  store: {store}")
    return lines
