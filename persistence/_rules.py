"""The rules every store applies to what it is asked to keep — written once, used by each.

So that no store accepts what another refuses (the shared contract suite,
``tests/persistence/contract.py``, runs the same cases against each).
"""

from __future__ import annotations

from collections.abc import Sequence

from statecharts import SessionState, TimestampedEvent
from statecharts.state import STATE_TYPES, TERMINAL_STATUSES

from ._errors import AppendRefused

__all__ = ["checked_append", "checked_events"]


def checked_events(
    session_id: str, events: Sequence[TimestampedEvent], state: SessionState
) -> list[TimestampedEvent]:
    """``events`` as a list, if they are recorded events, one seq after the other, and
    ``state`` is a state; else :class:`~persistence.AppendRefused`."""
    kind = type(events)
    usual = kind is tuple or kind is list  # told apart fast: the hot path
    if not usual and (isinstance(events, str | bytes) or not isinstance(events, Sequence)):
        raise AppendRefused(session_id, f"expected a sequence of events, got {kind.__name__}")
    batch = list(events)
    for event in batch:
        if type(event) is not TimestampedEvent and not isinstance(event, TimestampedEvent):
            raise AppendRefused(session_id, f"expected recorded events, got {type(event).__name__}")
    if type(state) not in STATE_TYPES and not isinstance(state, STATE_TYPES):
        raise AppendRefused(session_id, f"expected a session state, got {type(state).__name__}")
    return batch


def checked_append(
    session_id: str,
    events: Sequence[TimestampedEvent],
    state: SessionState,
    *,
    last_seq: int,
    status: str,
) -> list[TimestampedEvent]:
    """``events`` as a list, if they may follow a session stored up to ``last_seq`` in ``status``.

    Raises :class:`~persistence.AppendRefused` — and nothing is stored —
    when ``events`` is not a sequence of recorded events, ``state`` not a
    state (:func:`checked_events`), the seqs do not follow the stored ones one
    by one (a gap, a seq repeated, a seq going back), or the session is
    finished (nothing follows a final state).
    """
    if (  # the hot path: the one event a manager records, right where it belongs
        type(events) is tuple
        and len(events) == 1
        and type(events[0]) is TimestampedEvent
        and events[0].seq == last_seq + 1
        and type(state) in STATE_TYPES
        and status not in TERMINAL_STATUSES
    ):
        return [events[0]]
    batch = checked_events(session_id, events, state)
    if not batch:
        return batch
    if status in TERMINAL_STATUSES:
        raise AppendRefused(session_id, f"the session is {status}: nothing follows a final state")
    expected = last_seq + 1
    for event in batch:
        if event.seq != expected:
            if event.seq < expected:
                why = f"seq {event.seq} is stored already (the session is at seq {expected - 1})"
            else:
                why = f"seq {event.seq} where seq {expected} belongs (a gap)"
            raise AppendRefused(session_id, why)
        expected += 1
    return batch
