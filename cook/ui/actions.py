"""The actions a person can take from the page, each one endpoint calling what the CLI calls.

An :class:`Action` is a name, the statuses where the page offers it, and how
it is performed — by one of two performers:

- :func:`in_process`: one manager method, on a manager opened for the action
  (over a store opened for writing, without recovery, closed when done: the
  session is released at once, as when a ``cook`` command ends);
- :func:`by_cook`: the ``cook`` command itself, run in a process of its own
  (``cook resume ID`` drives the session on: recording ``resumed`` and then
  leaving it without a driver would be a lie).  Its exit code and its
  ``cook: error:`` line become the answer.

Either way an error is the CLI's error: the same one-line message, and an
HTTP status for the CLI's exit code (:func:`http_status`): refused (an
illegal transition, a session another process drives) is 409, not found 404,
invalid 400, the store 503.

A session that a live ``cook run`` on this host drives cannot be written by
anyone else (one writer per session); *pause* then asks that process, with
SIGINT, to pause it at once — what Ctrl-C in its terminal does.  On another
host it is refused, naming the holder.

Adding an action (cancel, retry) is one :class:`Action` in :data:`ACTIONS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from statecharts import (
    InMemorySessionManager,
    SessionHolder,
    SessionId,
    SessionInfo,
    SessionListing,
    SessionLocked,
    SessionManager,
)

from ..errors import ExitCode, advice_for, exit_code_for, one_line
from ..store import STORE_ENV, open_storage
from .service import Dashboard

__all__ = ["ACTIONS", "PAUSE_REASON", "Action", "ActionFailed", "by_cook", "http_status", "perform"]

PAUSE_REASON: Final = "paused from cook ui"
SETTLE_SECONDS: Final = 15.0
"""How long an action waits for the session to get where it was sent."""

_HTTP: Final = {
    ExitCode.USAGE: 400,
    ExitCode.NOT_FOUND: 404,
    ExitCode.INVALID: 400,
    ExitCode.REFUSED: 409,
    ExitCode.STORAGE: 503,
}


def http_status(code: int | None) -> int:
    """The HTTP status of an error the CLI would exit with ``code`` for (500: a bug)."""
    if code is None:
        return 500
    return _HTTP.get(ExitCode(code), 500) if code in ExitCode._value2member_map_ else 500


class ActionFailed(Exception):
    """An action could not be done: ``message`` says why, ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Context:
    """What an action needs: the dashboard (to read) and the store's location (to write)."""

    dashboard: Dashboard

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[SessionManager]:
        """A manager of the action's own over the store, closed (releasing all) after."""
        storage = open_storage(self.dashboard.location, create=False)
        manager = await InMemorySessionManager.open(storage, recover=False)
        try:
            yield manager
        finally:
            await manager.aclose()


Perform = Callable[[Context, SessionId], Awaitable[str]]
"""Does the action on a session; returns what it did, in one line."""


@dataclass(frozen=True)
class Action:
    """One action: its name (the endpoint's last part), its button, when it is offered."""

    name: str
    label: str
    statuses: frozenset[str]
    perform: Perform
    when_interrupted: bool = False
    """Offered on a session whose process is gone (its state still says running)."""

    def offered(self, status: str, info: SessionInfo) -> bool:
        """Whether the page shows the button (the manager decides all the same)."""
        if info.interrupted:
            return self.when_interrupted
        return status in self.statuses


def in_process(call: Callable[[SessionManager, SessionId], Awaitable[object]]) -> Perform:
    """An action that is one manager call (see the module)."""

    async def perform(context: Context, session_id: SessionId) -> str:
        async with context.writer() as manager:
            await call(manager, session_id)
        return "done"

    return perform


def _cook_process(holder: SessionHolder) -> bool:
    """Whether ``holder`` is a ``cook`` process of this host, other than this one."""
    if holder.host != socket.gethostname() or holder.pid in (0, os.getpid()):
        return False
    try:
        command = Path(f"/proc/{holder.pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"cook" in command


async def _pause(context: Context, session_id: SessionId) -> str:
    try:
        async with context.writer() as manager:
            await manager.pause_session(session_id, reason=PAUSE_REASON)
    except SessionLocked as locked:
        holder = locked.holder
        if holder is None or not _cook_process(holder):
            raise
        os.kill(holder.pid, signal.SIGINT)  # the runner pauses the session, as Ctrl-C does
        row = await context.dashboard.wait_for_status(
            session_id, lambda r: r.status != "running", SETTLE_SECONDS
        )
        if row.status == "running":
            raise ActionFailed(
                504,
                f"asked cook (pid {holder.pid}) to pause session {session_id}; "
                f"it has not done so within {SETTLE_SECONDS:g} s",
            ) from None
        return f"paused by its cook process (pid {holder.pid}), as Ctrl-C would"
    return "paused"


def log_dir() -> Path:
    """Where the output of the ``cook`` commands the dashboard starts goes."""
    path = Path(tempfile.gettempdir()) / f"cook-ui-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _error_line(log: Path) -> str:
    """The ``cook: error:`` line a command left in its log (its last line, failing that)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("cook: error: "):
            return line.removeprefix("cook: error: ")
    return lines[-1] if lines else ""


def by_cook(command: str, *, driven: Callable[[SessionListing], bool] | None = None) -> Perform:
    """An action that is ``cook COMMAND ID``, run in a process of its own.

    The answer waits until the session is ``driven`` (its row says so), or the
    command ended: with 0, done; otherwise its error line, with the HTTP status
    of its exit code.  The store is passed in the environment, never on the
    command line (a URL may hold a password).
    """

    async def perform(context: Context, session_id: SessionId) -> str:
        log = log_dir() / f"{session_id}.{command}.log"
        env = {**os.environ, STORE_ENV: context.dashboard.location}
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cook",
                command,
                session_id,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                cwd=tempfile.gettempdir(),
                start_new_session=True,  # it outlives the dashboard
            )

        async def running() -> bool:
            return process.returncode is None

        if driven is not None:
            await context.dashboard.wait_for_status(session_id, driven, SETTLE_SECONDS, running)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), 0.3)
        code = process.returncode
        if code is None:
            return f"cook {command} runs it (pid {process.pid}; its output: {log})"
        if code in (ExitCode.OK, ExitCode.STEPS_FAILED, ExitCode.MERGE_FAILED, ExitCode.FAILED):
            return f"cook {command} ran it to its end (exit code {code}; its output: {log})"
        message = _error_line(log) or f"cook {command} failed with exit code {code}"
        raise ActionFailed(http_status(code), context.dashboard.scrub(message))

    return perform


def _driven(row: SessionListing) -> bool:
    return row.status != "paused" and row.holder is not None and not row.orphaned


ACTIONS: Final[dict[str, Action]] = {
    action.name: action
    for action in (
        Action("pause", "Pause", frozenset({"running"}), _pause, when_interrupted=True),
        Action(
            "resume",
            "Resume",
            frozenset({"paused"}),
            by_cook("resume", driven=_driven),
            when_interrupted=True,
        ),
    )
}
"""Every action, by name (the order of the buttons)."""


async def perform(dashboard: Dashboard, name: str, session_id: SessionId) -> str:
    """Do action ``name`` on the session; :class:`ActionFailed` with the CLI's message if not."""
    action = ACTIONS.get(name)
    if action is None or name not in dashboard.actions:
        known = ", ".join(dashboard.actions) or "none: the dashboard is read-only"
        raise ActionFailed(404, f"no action {name!r} (actions: {known})")
    try:
        return await action.perform(Context(dashboard), session_id)
    except ActionFailed:
        raise
    except Exception as error:
        code = exit_code_for(error)
        if code is None:
            raise
        message = f"{one_line(error)}{advice_for(error, '')}"
        raise ActionFailed(http_status(code), dashboard.scrub(message)) from error
