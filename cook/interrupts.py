"""Ctrl-C, SIGTERM and SIGHUP while a command runs: each stops it cleanly, at a safe point.

:func:`guarded` runs a command's coroutine with these signals handled by the
event loop (never as an exception raised in the middle of whatever the command
was doing), and :func:`cook.cli.main` blocks them until the handlers are in
place (an interrupt in the middle of an import can crash an extension
module), so a signal that comes early waits for the handlers and is then
handled like any other (once the command ends, signals are blocked again: its
outcome stands).  What a signal does depends on the phase the command is in:

- by default (a reading command, or ``cook run`` before its session exists):
  the command is cancelled, whatever it prepared is undone, and it exits with
  ``cook: interrupted`` (130) having created nothing;
- while it holds (:meth:`Interrupts.hold`: the session and its worktree being
  created; the store being closed at the end): the signal waits, so that
  nothing is left half made;
- once the runner drives the session (:meth:`Interrupts.attach`): the running
  step is stopped and the session paused, to be resumed with ``cook resume``.

A signal the command was started with ignored (``nohup cook run ...``, or a
background job of a script) stays ignored.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol, TypeVar

__all__ = ["SIGNALS", "Interrupts", "current", "guarded"]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a command, or pause its session (SIGHUP: the terminal went away)."""

T = TypeVar("T")
_current: Interrupts | None = None


class Interruptible(Protocol):
    """What a signal interrupts once the session runs (the runner)."""

    def interrupt(self, reason: str) -> None:
        """Stop the running step and pause the session."""


class Interrupts:
    """The signal handlers of one command (a context manager, inside the event loop)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._target: Interruptible | None = None
        self._holding = False
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signals: list[signal.Signals] = []

    def __enter__(self) -> Interrupts:
        global _current  # noqa: PLW0603 - one command per process
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._signals = [sig for sig in SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
        for sig in self._signals:
            self._loop.add_signal_handler(sig, self._signalled, sig)
        _current = self
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # one that came early: now
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _current  # noqa: PLW0603
        _current = None
        assert self._loop is not None
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # the command's work is done
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
        """From now on, a signal waits instead of cancelling the command (until :meth:`attach`)."""
        self._holding = True

    def attach(self, target: Interruptible) -> None:
        """From now on a signal interrupts ``target`` (at once, if one came while holding)."""
        self._target = target
        self._holding = False
        if self.reason is not None:
            target.interrupt(self.reason)

    def detach(self) -> None:
        """The target is done: a signal from now on waits (the command is finishing)."""
        self._target = None
        self._holding = True


def current() -> Interrupts:
    """The handlers of the command running now (see :func:`guarded`)."""
    if _current is None:  # pragma: no cover - every command runs guarded
        raise RuntimeError("no command is running")
    return _current


async def guarded(command: Callable[[T], Coroutine[Any, Any, int]], args: T) -> int:
    """Run ``command(args)`` with the signals handled by :class:`Interrupts`."""
    with Interrupts():
        return await command(args)
