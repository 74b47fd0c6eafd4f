"""The names of a session's statuses: the one list, importable for nothing.

This module imports nothing (and ``statecharts`` itself imports nothing until a
name is used), so that a program that only needs the names — ``cook``'s
command line offers them as choices, and must start at once — does not load
pydantic and the whole domain to get them.  The state records
(:mod:`statecharts.state`) carry the same names, which a test checks, and
:data:`statecharts.state.ACTIVE_STATUSES` and
:data:`statecharts.state.TERMINAL_STATUSES` divide them.

>>> STATUSES
('created', 'running', 'paused', 'completed', 'failed')
"""

from typing import Final

__all__ = ["STATUSES"]

STATUSES: Final = ("created", "running", "paused", "completed", "failed")
"""Every status a session can have, in the order of the lifecycle."""
