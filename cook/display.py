"""Showing a session as it goes: rich progress bars on a terminal, plain lines, or JSON lines.

A display learns of events through :meth:`Display.event` — fed from the
manager's signals for a session run here, or from the store's log for a
session run elsewhere (``cook watch``) — and of steps from the runner.
Calls may come from several threads; each display serialises its output.
What a workflow or a store says (commands, names, reasons) is shown with its
control characters written out, and never read as rich markup.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from statecharts import SessionState, TimestampedEvent, events

from .errors import printable
from .steps import StepResult
from .views import exit_text, plural
from .workflow import Step

__all__ = ["Display", "JsonDisplay", "PlainDisplay", "RichDisplay", "describe", "make_display"]


def describe(  # noqa: PLR0911 - one return per kind
    recorded: TimestampedEvent, timeouts: Mapping[str, float] | None = None
) -> str:
    """One line for an event, as people read it (``timeouts``: each step's, by command)."""
    match recorded.event:
        case events.Started():
            return "session started"
        case events.IterationStarted(number=number):
            return f"iteration {number} started"
        case events.IterationCompleted(changes=c):
            return (
                f"iteration completed: {plural(len(c.files_modified), 'file')}, "
                f"+{c.lines_added} -{c.lines_removed}, {plural(len(c.git_commits), 'commit')}"
            )
        case events.CommandExecuted() as run:
            timeout = (timeouts or {}).get(run.command)
            mark = "ok" if run.success else f"FAILED ({exit_text(run.exit_code, timeout)})"
            return printable(f"{run.command}: {mark} in {run.duration.total_seconds():.1f} s")
        case events.AnalysisCompleted(results=results):
            return printable(f"analysis: {results.summary or results.analyzer or 'done'}")
        case events.Paused(reason=reason):
            return printable(f"paused: {reason or 'no reason given'}")
        case events.Failed(error=error):
            return printable(f"failed: {error}")
        case other:
            return f"session {other.kind}"


class Display:
    """The base display: says nothing (used when output is not wanted)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()
        self.timeouts: Mapping[str, float] = {}

    def begin(
        self,
        session_id: str,
        total_iterations: int,
        steps: int,
        timeouts: Mapping[str, float] | None = None,
    ) -> None:
        """The session is about to be driven (or watched); ``timeouts``: its steps', by command."""
        self.timeouts = timeouts or {}

    def event(self, recorded: TimestampedEvent, state: SessionState) -> None:
        """An event was recorded; ``state`` is where it led."""

    def step_started(self, iteration: int, index: int, step: Step) -> None:
        """A step is about to run."""

    def step_output(self, line: str) -> None:
        """A line of the running step's output."""

    def step_finished(self, step: Step, result: StepResult) -> None:
        """A step ended."""

    def end(self) -> None:
        """No more events will come."""

    def message(self, text: str) -> None:
        """A line for people (not shown in JSON output)."""


class PlainDisplay(Display):
    """One line per event, for logs and pipes."""

    def _print(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def event(self, recorded: TimestampedEvent, state: SessionState) -> None:
        """Print the event."""
        self._print(f"#{recorded.seq} {describe(recorded, self.timeouts)}")

    def step_started(self, iteration: int, index: int, step: Step) -> None:
        """Print the step about to run."""
        self._print(f"  iteration {iteration}, step {index + 1}: {printable(step.label)}")

    def step_output(self, line: str) -> None:
        """Print the step's output, indented."""
        self._print(f"    | {line}")

    def message(self, text: str) -> None:
        """Print the line."""
        self._print(text)


class JsonDisplay(Display):
    """One JSON object per event (machine output): seq, timestamp, event, state."""

    def event(self, recorded: TimestampedEvent, state: SessionState) -> None:
        """Print the event as a JSON line."""
        line = json.dumps(
            {**recorded.model_dump(mode="json"), "state": state.model_dump(mode="json")}
        )
        with self.lock:
            print(line, file=self.stream, flush=True)

    def document(self, data: dict[str, Any]) -> None:
        """Print a final document (a summary)."""
        with self.lock:
            print(json.dumps(data), file=self.stream, flush=True)


class RichDisplay(Display):
    """Progress bars on a terminal: one for the iterations, one for the steps."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.console = Console(file=self.stream)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.iterations = self.progress.add_task("iterations", total=1, visible=False)
        self.steps = self.progress.add_task("steps", total=1, visible=False)
        self.started = False

    def begin(
        self,
        session_id: str,
        total_iterations: int,
        steps: int,
        timeouts: Mapping[str, float] | None = None,
    ) -> None:
        """Show the bars."""
        super().begin(session_id, total_iterations, steps, timeouts)
        self.progress.update(
            self.iterations,
            total=total_iterations,
            visible=True,
            description=f"session {session_id}",
        )
        self.progress.update(
            self.steps, total=steps, completed=0, visible=True, description="steps"
        )
        self.progress.start()
        self.started = True

    def event(self, recorded: TimestampedEvent, state: SessionState) -> None:
        """Move the bars and print the event above them."""
        with self.lock:
            if recorded.event.kind == "iteration_completed":
                self.progress.advance(self.iterations)
            elif isinstance(recorded.event, events.IterationStarted):
                self.progress.update(self.steps, completed=0)
                self.progress.update(self.iterations, completed=recorded.event.number - 1)
            self.progress.console.print(
                f"[dim]#{recorded.seq}[/dim] {escape(describe(recorded, self.timeouts))}",
                highlight=False,
                markup=True,
            )

    def step_started(self, iteration: int, index: int, step: Step) -> None:
        """Name the running step on its bar."""
        with self.lock:
            label = escape(printable(step.label))
            self.progress.update(
                self.steps, completed=index, description=f"iteration {iteration}: {label}"
            )

    def step_output(self, line: str) -> None:
        """Print the step's output above the bars."""
        with self.lock:
            self.progress.console.print(f"  [dim]|[/dim] {line}", highlight=False, markup=False)

    def step_finished(self, step: Step, result: StepResult) -> None:
        """Advance the step bar."""
        with self.lock:
            self.progress.advance(self.steps)

    def end(self) -> None:
        """Stop refreshing the bars."""
        if self.started:
            self.progress.stop()

    def message(self, text: str) -> None:
        """Print the line."""
        with self.lock:
            self.console.print(text, highlight=False, markup=False)


def make_display(json_output: bool, stream: TextIO | None = None) -> Display:
    """The display for this output: JSON when asked, bars on a terminal, plain lines otherwise."""
    stream = stream or sys.stdout
    if json_output:
        return JsonDisplay(stream)
    if stream.isatty():
        return RichDisplay(stream)
    return PlainDisplay(stream)
