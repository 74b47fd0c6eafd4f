"""The errors the session domain raises.

Every error is a :class:`SessionError`, so callers can catch the family at once.
A rejected call changes nothing: not the state, the log, the progress, the store,
and no signal is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from statemachine.exceptions import StateMachineError, TransitionNotAllowed

if TYPE_CHECKING:
    from ._state import SessionState

__all__ = ["IllegalTransition", "InvalidEvent", "ReplayError", "SessionError", "SessionNotFound"]


class SessionError(Exception):
    """Base class of every error raised by sessionchart."""


class SessionNotFound(SessionError, LookupError):
    """No session has this id (in memory, or in the store)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"unknown session id {session_id!r}")


class InvalidEvent(SessionError, ValueError):
    """An unknown event name, or a payload that fails validation.

    ``valid_names`` lists the event names the chart knows; ``errors`` holds
    pydantic's error list when the payload was the problem.
    """

    def __init__(
        self,
        message: str,
        *,
        event_name: str | None = None,
        valid_names: Iterable[str] = (),
        errors: Sequence[Any] = (),
    ) -> None:
        self.event_name = event_name
        self.valid_names = tuple(valid_names)
        self.errors = list(errors)
        super().__init__(message)


class IllegalTransition(SessionError, TransitionNotAllowed):
    """The event is not allowed from the session's current state.

    Also a python-statemachine ``TransitionNotAllowed``, so code written against
    the bare chart keeps working.  Carries the session id, the event name, the
    current :class:`~statecharts.SessionState` and the events that are
    allowed from it.
    """

    def __init__(
        self,
        session_id: str | None,
        event_name: str,
        current_state: SessionState,
        allowed: Iterable[str] = (),
        reason: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.event_name = event_name
        self.current_state = current_state
        self.allowed = tuple(allowed)
        # TransitionNotAllowed's own attributes, for code that inspects them.
        self.event = None
        self.configuration: set[Any] = set()
        where = f"session {session_id}" if session_id else "the session"
        because = f" ({reason})" if reason else ""
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        message = (
            f"{where} cannot take {event_name!r} while {current_state.status}{because}; "
            f"allowed: {allowed_text}"
        )
        StateMachineError.__init__(self, message)


class ReplayError(SessionError):
    """A log the chart does not accept: a gap in ``seq`` or an event illegal where it stands."""

    def __init__(self, session_id: str, seq: int, reason: str) -> None:
        self.session_id = session_id
        self.seq = seq
        self.reason = reason
        super().__init__(f"session {session_id}: cannot replay seq {seq}: {reason}")
