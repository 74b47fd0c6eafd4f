"""The ``cook`` command line: run, watch, inspect and resume sessions.

Every error a person can cause prints one line, ``cook: error: ...``, and exits
with the code :mod:`cook.errors` documents; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from statecharts import SessionId, is_session_id

from . import __version__, database
from .drive import demo, resume, run
from .errors import ExitCode, exit_code_for
from .maintenance import diagram, repair, verify
from .queries import events, sessions, show, watch

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
STATUSES = ("created", "running", "paused", "completed", "failed")


def session_id(text: str) -> SessionId:
    """An argument that must be a session id (checked before it goes near a path)."""
    if not is_session_id(text):
        raise argparse.ArgumentTypeError(f"invalid session id {text!r}")
    return SessionId(text)


def _common(parser: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    parser.add_argument(
        "--path", type=Path, default=None, help="the project directory (default: the current one)"
    )
    parser.add_argument(
        "--store",
        default=None,
        help="the store: a directory, or a postgresql:// URL "
        "(default: $SESSIONCHART_STORE, else PROJECT/.sessionchart)",
    )
    if json_output:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Command,
    help_text: str,
    *,
    json_output: bool = True,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    _common(parser, json_output=json_output)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="cook",
        description="Run a workflow N times as a session you can watch, inspect and resume.",
    )
    parser.add_argument("--version", action="version", version=f"cook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(commands, "run", run, "run a workflow as a new session")
    p.add_argument("workflow", help="the workflow file (YAML)")
    p.add_argument(
        "-n",
        dest="iterations",
        type=int,
        default=None,
        metavar="N",
        help="iterations (overrides the workflow's max_iterations)",
    )
    p.add_argument("--worktree", metavar="NAME", help="run in a new git worktree and branch")
    p.add_argument("--focus", metavar="TEXT", help="exported to steps as COOK_FOCUS")
    p.add_argument("--fail-fast", action="store_true", help="fail on the first failing step")
    p.add_argument(
        "--auto-merge",
        action="store_true",
        help="merge the worktree's branch back when the session completes",
    )
    p.add_argument("--no-metrics", action="store_true", help="do not record per-iteration metrics")
    p.add_argument("-v", "--verbose", action="store_true", help="stream the steps' output")

    p = _command(commands, "resume", resume, "carry on a paused or interrupted session")
    p.add_argument("session_id", metavar="ID", type=session_id)
    p.add_argument("-v", "--verbose", action="store_true", help="stream the steps' output")

    p = _command(commands, "sessions", sessions, "list sessions")
    p.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        help="only sessions with this status (repeatable)",
    )
    p.add_argument("--active", action="store_true", help="only unfinished sessions")

    p = _command(commands, "show", show, "show one session: state, progress, iterations")
    p.add_argument("session_id", metavar="ID", type=session_id)

    p = _command(commands, "events", events, "print a session's event log")
    p.add_argument("session_id", metavar="ID", type=session_id)
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new events until the session ends",
    )

    p = _command(commands, "watch", watch, "live progress of a session run by any process")
    p.add_argument("session_id", metavar="ID", type=session_id)

    p = _command(commands, "diagram", diagram, "draw the session state chart", json_output=False)
    p.add_argument("--format", choices=("dot", "svg", "png", "mermaid", "table"), default="dot")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    _command(commands, "verify", verify, "check the store for damage")
    _command(commands, "repair", repair, "repair what is safe to repair in the store")

    p = commands.add_parser(
        "db", help="the PostgreSQL store's schema", description="the PostgreSQL store's schema"
    )
    db_commands = p.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    _command(db_commands, "migrate", database.migrate, "create or migrate the PostgreSQL schema")

    p = _command(
        commands, "demo", demo, "run a shipped workflow for 3 iterations in a scratch repository"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="stream the steps' output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cook`` with ``argv``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command = args.handler
    try:
        return asyncio.run(handler(args))
    except KeyboardInterrupt:
        print("cook: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): it has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as error:  # noqa: BLE001 - the boundary: one line per error
        code = exit_code_for(error)
        if args.debug or code is None:
            traceback.print_exc()
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"cook: error: {message}", file=sys.stderr)
        return ExitCode.INTERNAL if code is None else code


def entry_point() -> None:
    """The ``cook`` console script."""
    sys.exit(main())
