"""Where a session is: one record per status, and which statuses are finished.

A session's state is one of these records, told apart by its ``status``
(:data:`statecharts.SessionState` is their union).  Some names are those of
events too (``Paused``, ``Completed``, ``Failed``): use these through this
module, ``state.Paused``, and the events through :mod:`statecharts.events`.

>>> from statecharts import state
>>> state.Running(iteration=2).status
'running'
>>> sorted(state.TERMINAL_STATUSES)
['completed', 'failed']
"""

from typing import Final

from ._state import STATE_TYPES, Completed, Created, Failed, Paused, Running
from .statuses import STATUSES

__all__ = [
    "ACTIVE_STATUSES",
    "STATE_TYPES",
    "TERMINAL_STATUSES",
    "Completed",
    "Created",
    "Failed",
    "Paused",
    "Running",
]

TERMINAL_STATUSES: Final = frozenset({"completed", "failed"})
"""Statuses a session never leaves."""

ACTIVE_STATUSES: Final = frozenset(STATUSES) - TERMINAL_STATUSES
"""Statuses of sessions that are not finished: created, running, paused."""
