"""Signals broadcast after every accepted transition (blinker).

Connect a receiver to one of them to learn what happened to sessions::

    from statecharts import signals

    @signals.iteration_completed.connect
    def on_iteration(session_id, event, old_state, new_state, manager):
        ...

Every signal's sender is the session id; its keyword data are ``event`` (the
:class:`~statecharts.TimestampedEvent`), ``old_state`` and ``new_state``
(:data:`~statecharts.SessionState`) and ``manager`` (the manager that
recorded it).  ``state_changed`` fires for every event, before the signal named
for the event.  Signals are delivered after the transition is committed, outside
the session's lock, by the manager's delivery thread: per session, in ``seq``
order; a receiver that raises is logged and the others still run; one that hangs
is abandoned after the manager's ``receiver_timeout`` and delivery goes on.
"""

from __future__ import annotations

from typing import Final

from blinker import NamedSignal, Namespace

__all__ = [
    "SIGNAL_FOR_EVENT",
    "analysis_completed",
    "command_executed",
    "iteration_completed",
    "iteration_started",
    "namespace",
    "session_completed",
    "session_failed",
    "session_paused",
    "session_resumed",
    "session_started",
    "state_changed",
]

namespace: Final = Namespace()
"""sessionchart's own signal namespace (apart from blinker's global one)."""

state_changed: Final = namespace.signal("state_changed", doc="Any event was recorded.")
session_started: Final = namespace.signal("session_started", doc="A session started running.")
iteration_started: Final = namespace.signal("iteration_started", doc="An iteration began.")
iteration_completed: Final = namespace.signal("iteration_completed", doc="An iteration finished.")
analysis_completed: Final = namespace.signal("analysis_completed", doc="An analysis finished.")
command_executed: Final = namespace.signal("command_executed", doc="A command ran.")
session_paused: Final = namespace.signal("session_paused", doc="A session was paused.")
session_resumed: Final = namespace.signal("session_resumed", doc="A paused session resumed.")
session_completed: Final = namespace.signal("session_completed", doc="A session completed.")
session_failed: Final = namespace.signal("session_failed", doc="A session failed.")

SIGNAL_FOR_EVENT: Final[dict[str, NamedSignal]] = {
    "started": session_started,
    "iteration_started": iteration_started,
    "iteration_completed": iteration_completed,
    "analysis_completed": analysis_completed,
    "command_executed": command_executed,
    "paused": session_paused,
    "resumed": session_resumed,
    "completed": session_completed,
    "failed": session_failed,
}
"""The signal sent for each event id (besides ``state_changed``)."""
