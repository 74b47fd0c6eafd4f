"""Who drives a session in a shared store, and whether that owner is gone (PostgreSQL's rule).

An owner record (host, pid, process start time, token, heartbeat) says which
store instance drives a session.  A store that cannot lock against the owner
(the PostgreSQL store: another host, another machine) decides by it:

- an owner on this host is gone when its pid no longer runs (a zombie counts as
  gone; a pid reused by another process is told apart by its start time);
- any owner is gone when its heartbeat is older than the lease.

A store refreshes the heartbeat of the sessions it holds every third of the lease.
(The TinyDB store has owner files and locks of its own:
:mod:`persistence.tinydb._owners`.)
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from pydantic import AwareDatetime, Field

from statecharts import Record, SessionHolder

__all__ = ["DEFAULT_LEASE", "Owner", "hostname", "is_gone", "process_start", "this_process"]

DEFAULT_LEASE = 30.0
"""Seconds after its last heartbeat when an owner is presumed gone."""


class Owner(Record):
    """The store instance that drives a session: where, which process, since when, last seen.

    ``started`` is the process's start time in clock ticks since boot (0 when
    unknown), ``token`` tells apart two stores of one process.
    """

    host: str
    pid: int = Field(ge=0)
    started: int = Field(default=0, ge=0)
    token: str = ""
    heartbeat: AwareDatetime

    def describe(self) -> str:
        """``pid 123 on host``, for messages."""
        return f"pid {self.pid} on {self.host}"

    def holder(self, since: datetime | None = None) -> SessionHolder:
        """This owner in the domain's words (for :class:`~statecharts.SessionLocked`)."""
        return SessionHolder(host=self.host, pid=self.pid, since=since, heartbeat=self.heartbeat)


@cache
def hostname() -> str:
    """This host's name (as owners record it)."""
    return socket.gethostname()


def process_start(pid: int) -> int | None:
    """The start time (ticks since boot) of a running process; None when it does not run.

    A zombie (dead, not yet reaped) does not run.  Where ``/proc`` is missing,
    ``os.kill(pid, 0)`` decides and the start time is 0.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:  # pragma: no cover - no /proc on this system
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # zombie or dead
        return None
    return int(fields[19])


def this_process(token: str | None = None, now: datetime | None = None) -> Owner:
    """The owner record of a store of this process (a fresh ``token`` unless given)."""
    pid = os.getpid()
    return Owner(
        host=hostname(),
        pid=pid,
        started=process_start(pid) or 0,
        token=token if token is not None else secrets.token_hex(8),
        heartbeat=now or datetime.now(UTC),
    )


def is_gone(owner: Owner, lease: float, now: datetime | None = None) -> bool:
    """Whether ``owner`` no longer drives its session (see the module's documentation)."""
    now = now or datetime.now(UTC)
    if now - owner.heartbeat > timedelta(seconds=lease):
        return True
    if owner.host != hostname():
        return False
    started = process_start(owner.pid)
    return started is None or owner.started not in (0, started)
