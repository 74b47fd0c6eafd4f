"""Ctrl-C, SIGTERM and SIGHUP while ``cook run`` or ``cook resume`` is under way.

From the first moment of the command to its last, these signals are handled
here, in three phases:

- before the session exists (reading the workflow, opening the store): the
  command is cancelled, whatever it prepared is undone, and it exits with
  ``cook: interrupted`` (130) having created nothing;
- while the session and its worktree are being created (:meth:`Interrupts.hold`):
  the signal waits, so that nothing is left half made;
- once the runner drives the session (:meth:`Interrupts.attach`): the running
  step is stopped and the session paused, to be resumed with ``cook resume``.

A signal the command was started with ignored (``nohup cook run ...``, or a
background job of a script) stays ignored.
"""

from __future__ import annotations

import asyncio
import signal
from types import TracebackType
from typing import Protocol

__all__ = ["SIGNALS", "Interrupts"]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that pause a session (SIGHUP: the terminal went away)."""


class Interruptible(Protocol):
    """What a signal interrupts once the session runs (the runner)."""

    def interrupt(self, reason: str) -> None:
        """Stop the running step and pause the session."""


class Interrupts:
    """The signal handlers of one run or resume (a context manager, inside the event loop)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._target: Interruptible | None = None
        self._holding = False
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signals: list[signal.Signals] = []

    def __enter__(self) -> Interrupts:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._signals = [sig for sig in SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
        for sig in self._signals:
            self._loop.add_signal_handler(sig, self._signalled, sig)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._loop is not None
        for sig in self._signals:
            self._loop.remove_signal_handler(sig)
        if isinstance(error, asyncio.CancelledError) and self.reason is not None:
            raise KeyboardInterrupt from None  # we cancelled it: "cook: interrupted"

    def _signalled(self, sig: signal.Signals) -> None:
        reason = f"interrupted by {signal.Signals(sig).name}"
        if self._target is not None:
            self._target.interrupt(reason)
            return
        first = self.reason is None
        self.reason = self.reason or reason
        if first and not self._holding and self._task is not None:
            self._task.cancel()

    def hold(self) -> None:
        """From now until :meth:`attach`, a signal waits instead of cancelling the command."""
        self._holding = True

    def attach(self, target: Interruptible) -> None:
        """From now on a signal interrupts ``target`` (at once, if one came while holding)."""
        self._target = target
        self._holding = False
        if self.reason is not None:
            target.interrupt(self.reason)
