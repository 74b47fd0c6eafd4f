"""The output of a run, which must not stop the work when its reader goes away.

``cook run wf.yaml | head -3`` closes the pipe after three lines.  A session
is not abandoned for that: :class:`Output` drops what is written from then on
(the standard output is pointed at ``/dev/null``), says once on stderr that
the session goes on, and the run carries on to its end; its exit code is the
session's.  The same holds for an output that fails otherwise (a full disk
behind ``> file``, a terminal that went away).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

__all__ = ["Output", "drop_stdout", "report_warnings", "surviving", "warn"]


def drop_stdout() -> None:
    """Point the standard output at ``/dev/null``: the reader went away."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        fd = 1
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


class Output:
    """A text stream that survives its reader: once writing fails, writes are dropped."""

    def __init__(self, stream: TextIO, on_lost: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._on_lost = on_lost
        self.lost = False

    def _lose(self) -> None:
        if self.lost:
            return
        self.lost = True
        if self._stream is sys.stdout:
            drop_stdout()
        if self._on_lost is not None:
            self._on_lost()

    def write(self, text: str) -> int:
        """Write ``text``, unless the output is gone."""
        if not self.lost:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):  # EPIPE, EIO, ENOSPC; or closed
                self._lose()
        return len(text)

    def flush(self) -> None:
        """Flush, unless the output is gone."""
        if not self.lost:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._lose()

    def isatty(self) -> bool:
        """Whether the output is a terminal (and still there)."""
        try:
            return not self.lost and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def surviving(stream: TextIO, on_lost: Callable[[], None] | None = None) -> TextIO:
    """``stream`` as an :class:`Output` (typed as the stream it stands for)."""
    return cast(TextIO, Output(stream, on_lost))


def warn(message: str) -> None:
    """Print ``cook: warning: MESSAGE`` on stderr, one line (a lost stderr is ignored)."""
    from .errors import printable  # noqa: PLC0415 - errors imports the stores' errors lazily

    with contextlib.suppress(OSError, ValueError):
        print(f"cook: warning: {printable(message)}", file=sys.stderr, flush=True)


def report_warnings() -> None:
    """Show what ``persistence`` and ``statecharts`` log at WARNING and above, one line each.

    (A checkpoint ignored, a session set aside, a migration's note...:
    ``cook: warning: ...`` on stderr.)
    """
    import logging  # noqa: PLC0415 - not for --help

    class Warnings(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warn(record.getMessage())

    handler = Warnings(logging.WARNING)
    for name in ("persistence", "statecharts"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
