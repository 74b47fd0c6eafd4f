"""The ``cook`` command line: run, watch, inspect and resume sessions.

Every error a person can cause prints one line, ``cook: error: ...``, and exits
with the code :mod:`cook.errors` documents; ``--debug`` shows the traceback.

Start-up is kept light: this module imports ``argparse``, the standard library
and :mod:`statecharts.statuses` only (importing ``statecharts`` imports nothing
until a name is used), so ``cook --help``, ``cook --version`` and a wrong
command line answer at once; a command's module (and with it the domain,
pydantic, asyncio, rich, the stores) is imported by :func:`main` once the
command line is known to be good (``tests/cook/test_startup.py`` keeps it so).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any, NoReturn

from statecharts.statuses import STATUSES

from .errors import ExitCode, advice_for, exit_code_for, one_line, printable
from .limits import MAX_FOCUS_CHARS, MAX_ITERATIONS
from .output import drop_stdout

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

__all__ = ["build_parser", "entry_point", "main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
SHOWN_CHARS = 60
"""How much of a bad argument an error quotes."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a command (:data:`cook.interrupts.SIGNALS`, without importing it).

:func:`main` blocks them from its start; :class:`cook.interrupts.Interrupts`
unblocks them once its handlers are in place, and blocks them again at the end
(a signal after the command's work is done changes nothing).
"""


def _quoted(text: str) -> str:
    """``text`` as an error quotes it: on one line, and not too long."""
    short = text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
    return repr(short)


def _say(line: str) -> None:
    """Print ``line`` on stderr (which may be gone: then it is lost, and that is all)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of ``cook``."""

    def error(self, message: str) -> NoReturn:
        """Print ``cook: error: MESSAGE (see `cook ... --help`)`` and exit with code 2."""
        _say(f"cook: error: {printable(message)} (see `{self.prog} --help`)")
        sys.exit(ExitCode.USAGE)


# -- argument types: each says what is wrong and what is expected -----------------------------
def iterations(text: str) -> int:
    """``-n``: a whole number of iterations, from 1 to :data:`MAX_ITERATIONS`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of iterations, not {_quoted(text)}"
        ) from None
    if not 1 <= value <= MAX_ITERATIONS:
        raise argparse.ArgumentTypeError(
            f"the number of iterations is from 1 to {MAX_ITERATIONS:,}, not {_quoted(text)}"
        )
    return value


def session_id(text: str) -> str:
    """An argument that must be a session id (checked before it goes near a path)."""
    from statecharts import SESSION_ID_PATTERN  # noqa: PLC0415 - only when one is given

    if SESSION_ID_PATTERN.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"invalid session id {_quoted(text)} (an id is 26 letters and digits, "
            "as `cook sessions` lists them)"
        )
    return text


def worktree_name(text: str) -> str:
    """``--worktree``: a name git and the session record both accept."""
    if not text:
        raise argparse.ArgumentTypeError("the worktree name is empty: give one, such as try-1")
    from pydantic import ValidationError  # noqa: PLC0415 - only when one is given

    from statecharts import Worktree  # noqa: PLC0415

    try:
        Worktree(name=text)
    except ValidationError:
        valid = False
    else:  # and what git refuses in a branch name
        valid = ".." not in text and not text.endswith((".", ".lock"))
    if not valid:
        raise argparse.ArgumentTypeError(
            f"invalid worktree name {_quoted(text)}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 100 characters, "
            "without '..' or a trailing '.' or '.lock'"
        )
    return text


DEFAULT_LIMIT = 50
"""How many sessions ``cook sessions`` shows unless told otherwise (newest first)."""


def limit(text: str) -> int:
    """``--limit``: how many at most, 0 for all."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of sessions (0: all), not {_quoted(text)}"
        )
    return value


def since(text: str) -> datetime:
    """``--since``: a moment, as a duration ago (``7d``) or a date (``2026-11-29``)."""
    from .durations import parse_moment  # noqa: PLC0415 - only when one is given

    try:
        return parse_moment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _not_empty(what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError(f"{what} is empty")
        return text

    return check


def directory(text: str) -> Path:
    """``--path``: not empty (an empty path would silently mean the current directory)."""
    from pathlib import Path  # noqa: PLC0415 - pathlib loads urllib: not for --help

    return Path(_not_empty("the path")(text))


def focus(text: str) -> str:
    """``--focus``: at most :data:`MAX_FOCUS_CHARS` characters."""
    if len(text) > MAX_FOCUS_CHARS:
        raise argparse.ArgumentTypeError(
            f"the focus is {len(text):,} characters long; at most {MAX_FOCUS_CHARS:,}"
        )
    return text


# -- the parser ---------------------------------------------------------------------------
def _command(
    commands: argparse._SubParsersAction[Parser],
    name: str,
    handler: str,
    help_text: str,
    *,
    json_output: bool = True,
    store: bool = True,
) -> Parser:
    """A subcommand run by ``handler`` (``module:function`` in ``cook``, imported when run)."""
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    if store:
        parser.add_argument(
            "--path",
            type=directory,
            default=None,
            help="the project directory (default: the current one)",
        )
        parser.add_argument(
            "--store",
            type=_not_empty("the store"),
            default=None,
            help="the store: a directory, or a postgresql:// URL "
            "(default: $SESSIONCHART_STORE, else PROJECT/.sessionchart)",
        )
    if json_output:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _verbose(parser: Parser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="stream the steps' output")


def _add_run(commands: argparse._SubParsersAction[Parser]) -> None:
    p = _command(commands, "run", "drive:run", "run a workflow as a new session")
    p.add_argument("workflow", type=_not_empty("the workflow file name"), help="the workflow file")
    p.add_argument(
        "-n",
        dest="iterations",
        type=iterations,
        default=None,
        metavar="N",
        help=f"iterations, 1 to {MAX_ITERATIONS:,} (overrides the workflow's max_iterations)",
    )
    p.add_argument(
        "--worktree", metavar="NAME", type=worktree_name, help="run in a new git worktree"
    )
    p.add_argument("--focus", metavar="TEXT", type=focus, help="exported to steps as COOK_FOCUS")
    p.add_argument("--fail-fast", action="store_true", help="fail on the first failing step")
    p.add_argument(
        "--auto-merge",
        action="store_true",
        help="merge the worktree's branch back when the session completes (needs --worktree)",
    )
    p.add_argument("--no-metrics", action="store_true", help="do not record per-iteration metrics")
    _verbose(p)
    p = _command(commands, "resume", "drive:resume", "carry on a paused or interrupted session")
    p.add_argument("session_id", metavar="ID", type=session_id)
    _verbose(p)


def _add_queries(commands: argparse._SubParsersAction[Parser]) -> None:
    p = _command(commands, "sessions", "queries:sessions", "list sessions")
    p.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        help="only sessions with this status (repeatable)",
    )
    p.add_argument("--active", action="store_true", help="only unfinished sessions")
    p.add_argument(
        "--workflow",
        metavar="NAME",
        type=_not_empty("the workflow name"),
        help="only this workflow's sessions",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        type=since,
        help="only sessions created since WHEN: a duration ago (30m, 12h, 7d, 2w) or a date "
        "(2026-11-29, 2026-11-29T13:00)",
    )
    p.add_argument(
        "--limit",
        metavar="N",
        type=limit,
        default=DEFAULT_LIMIT,
        help=f"show the newest N sessions at most (default {DEFAULT_LIMIT}; 0: all)",
    )
    p = _command(commands, "show", "queries:show", "show one session: state, progress, iterations")
    p.add_argument("session_id", metavar="ID", type=session_id)
    p = _command(commands, "events", "queries:events", "print a session's event log")
    p.add_argument("session_id", metavar="ID", type=session_id)
    p.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new events until it ends"
    )
    p = _command(commands, "watch", "queries:watch", "live progress of a session run anywhere")
    p.add_argument("session_id", metavar="ID", type=session_id)


DEFAULT_UI_PORT = 8420


def port(text: str) -> int:
    """``--port``: a TCP port, 0 to 65535 (0: any free one)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number from 0 to 65535 (0: any free one), not {_quoted(text)}"
        )
    return value


def _add_ui(commands: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        commands,
        "ui",
        "ui.command:ui",
        "a live web dashboard of the store's sessions (the `ui` extra)",
        json_output=False,
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        type=_not_empty("the host"),
        help="the address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument(
        "--port",
        type=port,
        default=DEFAULT_UI_PORT,
        help=f"the port to listen on (default {DEFAULT_UI_PORT}; 0: any free one)",
    )
    p.add_argument(
        "--read-only",
        action="store_true",
        help="show sessions, take no action (a TinyDB store is opened read-only)",
    )


def _add_maintenance(commands: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        commands,
        "diagram",
        "maintenance:diagram",
        "draw the session state chart",
        json_output=False,
        store=False,
    )
    p.add_argument("--format", choices=("dot", "svg", "png", "mermaid", "table"), default="dot")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=_not_empty("the output file name"),
        help="write to FILE instead of stdout ('-' is stdout)",
    )
    _command(commands, "verify", "maintenance:verify", "check the store for damage")
    p = _command(
        commands,
        "repair",
        "maintenance:repair",
        "repair what is safe to repair in the store; set aside (quarantine) what is not",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--remove", action="store_true", help="delete the sessions that cannot be repaired"
    )
    what.add_argument(
        "--keep-damaged",
        action="store_true",
        help="leave the sessions that cannot be repaired where they are",
    )
    p = commands.add_parser(
        "db", help="the PostgreSQL store's schema", description="the PostgreSQL store's schema"
    )
    db_commands = p.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    _command(
        db_commands,
        "migrate",
        "database:migrate",
        "migrate a store written by an older sessionchart (TinyDB), or create or migrate "
        "the PostgreSQL schema",
    )
    p = _command(
        commands,
        "demo",
        "demo:demo",
        "run a shipped workflow for 3 iterations in a scratch repository (removed after)",
        store=False,
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch repository and its store")
    _verbose(p)


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:  # noqa: A002 - argparse's name
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> NoReturn:
        from . import __version__  # noqa: PLC0415 - importlib.metadata: not for --help

        print(f"cook {__version__}", flush=True)  # on stdout, as argparse's version action
        parser.exit()


def build_parser() -> Parser:
    """The whole command line."""
    parser = Parser(
        prog="cook",
        description="Run a workflow N times as a session you can watch, inspect and resume.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_queries(commands)
    _add_maintenance(commands)
    _add_ui(commands)
    return parser


def _check(parser: Parser, args: argparse.Namespace) -> None:
    """What argparse cannot check alone: options that need one another."""
    if getattr(args, "auto_merge", False) and not args.worktree:
        _say(
            "cook: error: --auto-merge merges a worktree's branch back: it needs --worktree NAME "
            f"(see `{parser.prog} {args.command} --help`)"
        )
        sys.exit(ExitCode.USAGE)


# -- running a command ----------------------------------------------------------------------
def _standard_streams() -> None:
    """Give a closed stdin, stdout or stderr ``/dev/null``: what is written there is dropped.

    A closed descriptor would otherwise be reused by the next file opened, and
    output meant for the terminal would land in it.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115


def _store_option(args: argparse.Namespace) -> str:
    """How the command named its store, fit to paste into advice (never a URL: it may hold a
    password)."""
    store = getattr(args, "store", None)
    if store is None or "://" in store:
        return ""
    import shlex  # noqa: PLC0415 - only on this error path

    return f" --store {shlex.quote(store)}"


def _run(args: argparse.Namespace) -> int:
    """Import the command's module and run it, its signals handled by :mod:`cook.interrupts`."""
    module, _, name = args.handler.partition(":")
    handler: Command = getattr(import_module(f"cook.{module}"), name)
    import asyncio  # noqa: PLC0415 - not for --help

    from .interrupts import guarded  # noqa: PLC0415
    from .output import report_warnings  # noqa: PLC0415

    report_warnings()
    return asyncio.run(guarded(handler, args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cook`` with ``argv``; returns the exit code."""
    args = argparse.Namespace()
    # Ctrl-C, SIGTERM and SIGHUP wait until the command's handlers are in place: an
    # interrupt in the middle of an import can crash an extension module (pydantic's).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        _standard_streams()
        parser = build_parser()
        args = parser.parse_args(argv)
        _check(parser, args)
        return _run(args)
    except KeyboardInterrupt:
        _say("cook: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): it has what it wanted
        drop_stdout()
        return ExitCode.OK
    except Exception as error:  # noqa: BLE001 - the boundary: one line per error
        code = exit_code_for(error)
        if code is None or getattr(args, "debug", False):
            import traceback  # noqa: PLC0415 - only on this path

            with contextlib.suppress(OSError, ValueError):
                traceback.print_exc()
        if code is None:
            _say(
                "cook: error: internal error (a bug: please report it, with the traceback "
                f"above): {one_line(error)}"
            )
            return ExitCode.INTERNAL
        _say(f"cook: error: {one_line(error)}{advice_for(error, _store_option(args))}")
        return code


def entry_point() -> None:
    """The ``cook`` console script."""
    sys.exit(main())
